"""The cue sheet: one row per event (the GO lock) and its ordered cues."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class CueState(StrEnum):
    pending = "pending"
    live = "live"
    done = "done"
    skipped = "skipped"


class CueSheet(Base):
    """One per event: which cue is live, and a version every structural change bumps.

    GO and reorders lock this row first, so two hosts pressing GO at once are
    serialized on it: the second sees the first's live cue and gets a 409. A version on
    the live cue could not do that for the very first GO, when no cue is live yet.
    """

    __tablename__ = "cue_sheet"

    event_id: Mapped[str] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    live_cue_id: Mapped[str | None] = mapped_column(String(32), default=None)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Cue(Base):
    __tablename__ = "cue"
    __table_args__ = (Index("ix_cue_event_id_position", "event_id", "position"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    # Dense, from 0. No unique constraint: a move shifts its neighbours row by row, and
    # the sheet lock (CueSheet) is what keeps two moves from interleaving.
    position: Mapped[int] = mapped_column()
    title: Mapped[str] = mapped_column(String(200))
    planned_start_at: Mapped[datetime | None] = mapped_column(default=None)
    planned_duration_s: Mapped[int] = mapped_column(default=0)
    owner_role: Mapped[str] = mapped_column(String(16), default="host")
    notes: Mapped[str] = mapped_column(Text, default="")
    actions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    state: Mapped[CueState] = mapped_column(String(16), default=CueState.pending)
    actual_start_at: Mapped[datetime | None] = mapped_column(default=None)
    actual_end_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set once, by whichever worker first sees the overrun: it is announced once.
    overrun_flagged_at: Mapped[datetime | None] = mapped_column(default=None)
    actions_fired: Mapped[list[Any]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
