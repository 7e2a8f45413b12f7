"""Events, who may work on them, and the sources (connector instances) feeding them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class EventStatus(StrEnum):
    draft = "draft"
    live = "live"
    ended = "ended"


class Event(Base):
    __tablename__ = "event"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[EventStatus] = mapped_column(String(16), default=EventStatus.draft)
    starts_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventMember(Base):
    __tablename__ = "event_member"

    event_id: Mapped[str] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SourceKind(StrEnum):
    chat = "chat"  # questions are recognised in chat
    qa = "qa"  # an explicit Q&A feed: everything it sends is a question


class Source(Base):
    """One connector instance: a platform account/channel feeding one event."""

    __tablename__ = "source"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[SourceKind] = mapped_column(String(8), default=SourceKind.chat)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Secrets (tokens, webhook secrets), or `env:NAME` pointers to the worker's
    # environment. Written by admins, read by connectors, never sent back out.
    credentials: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_drill(self) -> bool:
        """A drill's rehearsal source (app/drills): kept apart from the show's own."""
        return bool((self.config or {}).get("drill"))
