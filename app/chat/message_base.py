"""Columns every row made from one platform message carries (chat lines, questions)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class PlatformMessageColumns:
    # Derived from (source, platform message id) so a redelivered message maps to
    # the same row and the same delta without a lookup.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    source_id: Mapped[str] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    platform_message_id: Mapped[str] = mapped_column(String(128))
    author_id: Mapped[str] = mapped_column(String(128))
    author_name: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    platform_at: Mapped[datetime]
    received_at: Mapped[datetime]
