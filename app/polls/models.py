"""Polls: drafted or ad hoc, launched and closed, one vote per voter merged across platforms."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class PollKind(StrEnum):
    single = "single"
    multiple = "multiple"
    rating = "rating"


class PollState(StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"


class Poll(Base):
    __tablename__ = "poll"
    __table_args__ = (
        Index("ix_poll_event_id", "event_id"),
        # The timer's sweep: open polls whose closes_at has passed.
        Index("ix_poll_state_closes_at", "state", "closes_at"),
        # One open poll per event, held by the database: two launches at once cannot both win.
        Index(
            "uq_poll_event_id_open",
            "event_id",
            unique=True,
            postgresql_where=text("state = 'open'"),
            sqlite_where=text("state = 'open'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[PollKind] = mapped_column(String(16))
    state: Mapped[PollState] = mapped_column(String(16), default=PollState.draft)
    duration_s: Mapped[int | None] = mapped_column(default=None)
    opens_at: Mapped[datetime | None] = mapped_column(default=None)
    closes_at: Mapped[datetime | None] = mapped_column(default=None)
    # Votes that came after the close (or for a draft): counted, never stored.
    late_votes: Mapped[int] = mapped_column(default=0, server_default="0")
    # The run-of-show cue that launches it, if any.
    cue_id: Mapped[str | None] = mapped_column(String(32), default=None)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PollOption(Base):
    __tablename__ = "poll_option"

    poll_id: Mapped[str] = mapped_column(
        ForeignKey("poll.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)  # 1-based, as voters type it
    label: Mapped[str] = mapped_column(String(200))


class Vote(Base):
    """One voter's current ballot on one poll: a changed vote replaces it."""

    __tablename__ = "vote"

    poll_id: Mapped[str] = mapped_column(
        ForeignKey("poll.id", ondelete="CASCADE"), primary_key=True
    )
    # "<platform>:<author id>" or "audience:<client id>"
    voter: Mapped[str] = mapped_column(String(160), primary_key=True)
    source_id: Mapped[str | None] = mapped_column(
        ForeignKey("source.id", ondelete="CASCADE"), default=None
    )
    platform: Mapped[str] = mapped_column(String(32))
    # Option positions (a rating: one value 1..5), sorted.
    choices: Mapped[list[Any]] = mapped_column(JSON)
    # The same choices as text ("1,3"): what results GROUP BY on both databases.
    choice_key: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NativeTally(Base):
    """A platform's own count for its native poll (Twitch, YouTube): the latest report.

    Those platforms count their viewers' votes themselves and report totals per option,
    not ballots, so a platform's share of the results is its latest report, and its
    viewers' chat ballots (if any) are left out of the results for that platform.
    """

    __tablename__ = "poll_native_tally"

    poll_id: Mapped[str] = mapped_column(
        ForeignKey("poll.id", ondelete="CASCADE"), primary_key=True
    )
    source_id: Mapped[str] = mapped_column(
        ForeignKey("source.id", ondelete="CASCADE"), primary_key=True
    )
    platform: Mapped[str] = mapped_column(String(32))
    platform_poll_id: Mapped[str] = mapped_column(String(128))
    counts: Mapped[list[Any]] = mapped_column(JSON)  # per option, in our order
    final: Mapped[bool] = mapped_column(default=False)
    reported_at: Mapped[datetime]  # the platform's time: an older report never replaces
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
