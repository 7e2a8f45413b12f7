"""Questions from every platform, in one triage queue."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, UniqueConstraint
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
    )

    state: Mapped[QuestionState] = mapped_column(String(16), default=QuestionState.pending)
    votes: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
