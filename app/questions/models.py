"""Questions from every platform, in one triage queue."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.chat.message_base import PlatformMessageColumns
from app.db import Base, utcnow


class QuestionState(StrEnum):
    pending = "pending"
    approved = "approved"
    on_deck = "on_deck"
    answered = "answered"
    rejected = "rejected"
    archived = "archived"


class Question(PlatformMessageColumns, Base):
    __tablename__ = "question"
    __table_args__ = (
        UniqueConstraint("source_id", "platform_message_id"),
        Index("ix_question_event_id_state", "event_id", "state"),
        # The duplicate finder's incremental sync reads "this event, since T".
        Index("ix_question_event_id_received_at", "event_id", "received_at"),
    )

    state: Mapped[QuestionState] = mapped_column(String(16), default=QuestionState.pending)
    votes: Mapped[int] = mapped_column(default=0)
    boost: Mapped[int] = mapped_column(default=0, server_default="0")
    # Every write bumps it; a write naming an older version gets 409 (optimistic lock).
    version: Mapped[int] = mapped_column(default=1)
    original_text: Mapped[str | None] = mapped_column(Text, default=None)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    anonymous: Mapped[bool] = mapped_column(default=False, server_default="0")
    host_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    pinned: Mapped[bool] = mapped_column(default=False, server_default="0")
    claimed_by: Mapped[str | None] = mapped_column(String(32), default=None)
    claimed_by_name: Mapped[str | None] = mapped_column(String(128), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    merged_into_id: Mapped[str | None] = mapped_column(String(32), default=None)
    merged_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # The pipeline's merge suggestion: an open question this one re-asks, and how alike.
    duplicate_of_id: Mapped[str | None] = mapped_column(String(32), default=None)
    duplicate_score: Mapped[float | None] = mapped_column(default=None)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuestionVote(Base):
    """One voter's vote on one question: merges count each voter once."""

    __tablename__ = "question_vote"

    question_id: Mapped[str] = mapped_column(
        ForeignKey("question.id", ondelete="CASCADE"), primary_key=True
    )
    # "<platform>:<user id>" or "audience:<client id>"
    voter_key: Mapped[str] = mapped_column(String(160), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
