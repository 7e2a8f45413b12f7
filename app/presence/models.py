"""Viewers joining and leaving, where a platform reports it (Zoom, Owncast, the simulator)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class PresenceEvent(Base):
    """One join or leave; written in batches by the pipeline, read by the report."""

    __tablename__ = "presence_event"
    __table_args__ = (
        # The report pairs each viewer's joins and leaves in time order.
        Index("ix_presence_event_viewer", "event_id", "platform", "viewer_id", "at"),
    )

    # Derived from (source, platform message id), like a chat line's: a redelivered
    # envelope maps to the same row and is written once.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    source_id: Mapped[str] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    viewer_id: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(8))  # join | leave
    # The platform's time: watch time is measured on it, not on when we heard of it.
    at: Mapped[datetime]
    received_at: Mapped[datetime]
