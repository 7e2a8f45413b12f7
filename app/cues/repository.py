"""Queries on the cue sheet."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.cues.models import Cue, CueSheet, CueState
from app.db import insert_ignore


async def sheet_cues(session: AsyncSession, event_id: str) -> list[Cue]:
    """Every cue of the event, in running order."""
    rows = await session.scalars(
        select(Cue)
        .where(Cue.event_id == event_id)
        .order_by(Cue.position, Cue.created_at)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def lock_sheet(session: AsyncSession, event_id: str, now: datetime) -> CueSheet:
    """Bumps the sheet's version, which holds its row until commit (creating it if
    needed), then reads it as the winner of any race left it."""
    await insert_ignore(
        session, CueSheet, [{"event_id": event_id, "version": 0, "updated_at": now}]
    )
    await session.execute(
        update(CueSheet)
        .where(CueSheet.event_id == event_id)
        .values(version=CueSheet.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    sheet = await session.get(CueSheet, event_id, populate_existing=True)
    assert sheet is not None
    return sheet


async def sheet(session: AsyncSession, event_id: str) -> CueSheet | None:
    return await session.get(CueSheet, event_id, populate_existing=True)


async def live_cues(session: AsyncSession, event_id: str) -> Sequence[Cue]:
    """The live cues of the event (at most one)."""
    rows = await session.scalars(
        select(Cue).where(Cue.event_id == event_id, Cue.state == CueState.live)
    )
    return rows.all()
