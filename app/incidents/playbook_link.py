"""The playbook entries incidents follow: the active version's, as plain data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.playbooks import repository, service


async def active(session: AsyncSession) -> tuple[int, list[dict[str, Any]]]:
    """(version, entries in order) of the active playbook, the default loaded (and
    committed) if there was none yet: detectors run before anyone opened the console."""
    playbook = await service.active(session, datetime.now(UTC))
    await session.commit()
    entries = await repository.entries(session, playbook.id)
    return playbook.version, [service.entry_data(e) for e in entries]


async def entry(session: AsyncSession, slug: str) -> tuple[dict[str, Any], int]:
    """The active playbook's entry `slug` and the version; 404 naming where to look."""
    playbook = await service.active(session, datetime.now(UTC))
    return service.entry_data(await service.entry(session, playbook, slug)), playbook.version
