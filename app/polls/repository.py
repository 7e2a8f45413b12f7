"""Poll queries."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.polls.models import NativeTally, Poll, PollOption, PollState, Vote


async def for_event(session: AsyncSession, event_id: str) -> Sequence[Poll]:
    query = select(Poll).where(Poll.event_id == event_id).order_by(Poll.created_at)
    return (await session.scalars(query)).all()


async def open_poll(session: AsyncSession, event_id: str) -> Poll | None:
    query = select(Poll).where(Poll.event_id == event_id, Poll.state == PollState.open)
    return (await session.scalars(query)).first()


async def due(session: AsyncSession, now: datetime) -> Sequence[Poll]:
    """Open polls whose timer has run out."""
    query = select(Poll).where(Poll.state == PollState.open, Poll.closes_at <= now)
    return (await session.scalars(query)).all()


async def options(session: AsyncSession, poll_ids: Collection[str]) -> dict[str, list[str]]:
    """Each poll's option labels, in position order."""
    rows = await session.execute(
        select(PollOption.poll_id, PollOption.label)
        .where(PollOption.poll_id.in_(poll_ids))
        .order_by(PollOption.poll_id, PollOption.position)
    )
    found: dict[str, list[str]] = {pid: [] for pid in poll_ids}
    for poll_id, label in rows.all():
        found[poll_id].append(label)
    return found


async def tallies(
    session: AsyncSession, poll_id: str
) -> tuple[list[tuple[str, str, int]], list[tuple[str, list[int]]]]:
    """Ballots as (platform, choice key, voters), counted in the database, and native
    platform counts as (platform, counts per option). A source that reported native
    counts has its chat ballots left out: its viewers are counted by the platform."""
    native = (
        await session.execute(
            select(NativeTally.source_id, NativeTally.platform, NativeTally.counts).where(
                NativeTally.poll_id == poll_id
            )
        )
    ).all()
    query = select(Vote.platform, Vote.choice_key, func.count()).where(Vote.poll_id == poll_id)
    if native:
        native_sources = [source_id for source_id, _, _ in native]
        query = query.where(or_(Vote.source_id.is_(None), Vote.source_id.not_in(native_sources)))
    rows = await session.execute(query.group_by(Vote.platform, Vote.choice_key))
    ballots = [(str(p), str(k), int(n)) for p, k, n in rows.all()]
    return ballots, [(str(p), [int(c) for c in counts]) for _, p, counts in native]
