"""Questions from every platform, in one triage queue."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class QuestionState(StrEnum):
    pending = "pending"
    approved = "approved"
    on_deck = "on_deck"
    answered = "answered"
    rejected = "rejected"
    archived = "archived"


class Question(Base):
    __tablename__ = "question"
    __table_args__ = (
        UniqueConstraint("source_id", "platform_message_id"),
        Index("ix_question_event_id_state", "event_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    source_id: Mapped[str] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    platform_message_id: Mapped[str] = mapped_column(String(128))
    author_id: Mapped[str] = mapped_column(String(128))
    author_name: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[QuestionState] = mapped_column(String(16), default=QuestionState.pending)
    votes: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    platform_at: Mapped[datetime]
    received_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
