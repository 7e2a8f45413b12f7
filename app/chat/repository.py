"""Chat queries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.chat.models import ChatMessage


async def recent(session: AsyncSession, event_id: str, limit: int) -> Sequence[ChatMessage]:
    """The newest `limit` messages, oldest first."""
    query = (
        select(ChatMessage)
        .where(ChatMessage.event_id == event_id)
        .order_by(ChatMessage.received_at.desc())
        .limit(limit)
    )
    return list(reversed((await session.scalars(query)).all()))
