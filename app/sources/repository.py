"""Queries for the sources of an event."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import get_in_event
from app.events.models import Source


async def of_event(session: AsyncSession, event_id: str) -> Sequence[Source]:
    query = select(Source).where(Source.event_id == event_id).order_by(Source.created_at)
    return (await session.scalars(query)).all()


async def get(session: AsyncSession, event_id: str, source_id: str) -> Source:
    """The source if it belongs to the event; 404 otherwise."""
    source: Source = await get_in_event(session, Source, source_id, event_id, "source")
    return source
