"""Chat lines as received from every platform; written in batches by the pipeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.chat.message_base import PlatformMessageColumns
from app.db import Base, new_id, utcnow


class ChatMessage(PlatformMessageColumns, Base):
    __tablename__ = "chat_message"
    __table_args__ = (
        UniqueConstraint("source_id", "platform_message_id"),
        # On PostgreSQL it carries what the report groups by, so the report reads an
        # event's lines from the index alone (index-only scans, in proportion to the
        # event, not to the table): bench/report.py.
        Index(
            "ix_chat_message_event_id_received_at",
            "event_id",
            "received_at",
            postgresql_include=["platform", "author_id", "hidden", "is_question"],
        ),
        # The hold queue: a few lines among millions, listed and counted by event.
        Index(
            "ix_chat_message_held",
            "event_id",
            "received_at",
            postgresql_where=text("held"),
            sqlite_where=text("held = 1"),
        ),
    )

    truncated: Mapped[bool] = mapped_column(default=False)
    is_question: Mapped[bool] = mapped_column(default=False)
    hidden: Mapped[bool] = mapped_column(default=False)
    # Automatic moderation's verdict: held for review, or flagged, and why.
    held: Mapped[bool] = mapped_column(default=False, server_default="0")
    flagged: Mapped[bool] = mapped_column(default=False, server_default="0")
    moderation_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # Bumped by every console decision (hide, unhide, release, reject): a stale one gets 409.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModerationAction(Base):
    """A console's request to a platform (delete, timeout, ban) and the platform's answer."""

    __tablename__ = "moderation_action"
    __table_args__ = (Index("ix_moderation_action_event_id_created_at", "event_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    source_id: Mapped[str] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"))
    chat_message_id: Mapped[str | None] = mapped_column(String(32), default=None)
    type: Mapped[str] = mapped_column(String(16))  # delete | timeout | ban
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # pending until the connector answers: done | failed | not_supported
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    requested_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
