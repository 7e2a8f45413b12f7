"""Creating events and their sources."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict
from app.events import repository
from app.events.models import Event, EventMember, Source, SourceKind


async def create_event(session: AsyncSession, slug: str, title: str) -> Event:
    if await repository.event_by_slug(session, slug) is not None:
        raise Conflict(f"an event with slug '{slug}' exists: pick another slug")
    event = Event(slug=slug, title=title)
    session.add(event)
    await session.flush()
    return event


async def add_source(
    session: AsyncSession,
    event: Event,
    platform: str,
    name: str,
    *,
    kind: SourceKind = SourceKind.chat,
    config: dict[str, Any] | None = None,
) -> Source:
    source = Source(event_id=event.id, platform=platform, name=name, kind=kind, config=config or {})
    session.add(source)
    await session.flush()
    return source


async def add_member(session: AsyncSession, event: Event, user_id: str, role: str) -> None:
    session.add(EventMember(event_id=event.id, user_id=user_id, role=role))
    await session.flush()
