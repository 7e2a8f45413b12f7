"""Queries on playbook versions and their entries."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.playbooks.models import Playbook, PlaybookEntry


async def latest(session: AsyncSession) -> Playbook | None:
    """The active version: the highest."""
    return await session.scalar(select(Playbook).order_by(Playbook.version.desc()).limit(1))


async def by_version(session: AsyncSession, version: int) -> Playbook | None:
    return await session.scalar(select(Playbook).where(Playbook.version == version))


async def versions(session: AsyncSession) -> list[tuple[Playbook, int]]:
    """Every version, newest first, with how many entries it has."""
    counts = (
        select(PlaybookEntry.playbook_id, func.count().label("n"))
        .group_by(PlaybookEntry.playbook_id)
        .subquery()
    )
    rows = await session.execute(
        select(Playbook, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.playbook_id == Playbook.id)
        .order_by(Playbook.version.desc())
    )
    return [(p, int(n)) for p, n in rows.all()]


async def entries(session: AsyncSession, playbook_id: str) -> list[PlaybookEntry]:
    rows = await session.scalars(
        select(PlaybookEntry)
        .where(PlaybookEntry.playbook_id == playbook_id)
        .order_by(PlaybookEntry.position)
    )
    return list(rows.all())


async def entry(session: AsyncSession, playbook_id: str, slug: str) -> PlaybookEntry | None:
    return await session.scalar(
        select(PlaybookEntry).where(
            PlaybookEntry.playbook_id == playbook_id, PlaybookEntry.slug == slug
        )
    )
