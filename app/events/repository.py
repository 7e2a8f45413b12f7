"""Queries for events, members and sources."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Role, User
from app.events.models import Event, EventMember, Source


async def events_for(session: AsyncSession, user: User) -> Sequence[Event]:
    query = select(Event).order_by(Event.created_at.desc())
    if user.role != Role.admin:
        query = query.join(EventMember, EventMember.event_id == Event.id).where(
            EventMember.user_id == user.id
        )
    return (await session.scalars(query)).all()


async def event_by_slug(session: AsyncSession, slug: str) -> Event | None:
    return await session.scalar(select(Event).where(Event.slug == slug))


async def sources_of(session: AsyncSession, event_id: str) -> Sequence[Source]:
    query = select(Source).where(Source.event_id == event_id).order_by(Source.created_at)
    return (await session.scalars(query)).all()


async def members_of(session: AsyncSession, event_id: str) -> list[tuple[User, str]]:
    """(user, event role) of everyone on the event's team, by name."""
    rows = await session.execute(
        select(User, EventMember.role)
        .join(EventMember, EventMember.user_id == User.id)
        .where(EventMember.event_id == event_id)
        .order_by(User.username)
    )
    return [(user, str(role)) for user, role in rows.all()]
