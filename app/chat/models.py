"""Chat lines as received from every platform; written in batches by the pipeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.chat.message_base import PlatformMessageColumns
from app.db import Base, utcnow


class ChatMessage(PlatformMessageColumns, Base):
    __tablename__ = "chat_message"
    __table_args__ = (
        UniqueConstraint("source_id", "platform_message_id"),
        Index("ix_chat_message_event_id_received_at", "event_id", "received_at"),
    )

    truncated: Mapped[bool] = mapped_column(default=False)
    is_question: Mapped[bool] = mapped_column(default=False)
    hidden: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
