"""Chat queries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.chat.models import ChatMessage, ModerationAction


async def recent(session: AsyncSession, event_id: str, limit: int) -> Sequence[ChatMessage]:
    """The newest `limit` messages, oldest first."""
    query = (
        select(ChatMessage)
        .where(ChatMessage.event_id == event_id)
        .order_by(ChatMessage.received_at.desc())
        .limit(limit)
    )
    return list(reversed((await session.scalars(query)).all()))


async def recent_actions(
    session: AsyncSession, event_id: str, limit: int
) -> Sequence[ModerationAction]:
    """The latest platform actions, oldest first (a newer answer replaces an older one)."""
    query = (
        select(ModerationAction)
        .where(ModerationAction.event_id == event_id)
        .order_by(ModerationAction.created_at.desc())
        .limit(limit)
    )
    return list(reversed((await session.scalars(query)).all()))
