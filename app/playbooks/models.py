"""The playbook: organisation-wide, one row per version, its entries beside it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class Playbook(Base):
    """One version; the highest is the active one. Versions are never changed or
    deleted: an incident names the version it followed, and that must stay readable."""

    __tablename__ = "playbook"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # Unique: two imports racing for the same number cannot both win.
    version: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # As the audit log names actors ("user:<name>", "system"): it outlives the user.
    created_by: Mapped[str] = mapped_column(String(128))
    # The text as imported, comments and all; entries are what it validated to.
    yaml: Mapped[str] = mapped_column(Text)


class PlaybookEntry(Base):
    __tablename__ = "playbook_entry"
    __table_args__ = (UniqueConstraint("playbook_id", "slug"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    playbook_id: Mapped[str] = mapped_column(ForeignKey("playbook.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column()
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    default_severity: Mapped[str] = mapped_column(String(8))
    owner_role: Mapped[str] = mapped_column(String(16))
    detection: Mapped[list[Any]] = mapped_column(JSON, default=list)
    steps: Mapped[list[Any]] = mapped_column(JSON, default=list)
    escalation: Mapped[list[Any]] = mapped_column(JSON, default=list)
    targets: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    templates: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
