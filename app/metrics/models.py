"""Gauges rolled up per minute: the series the ops view and the report draw."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class MetricSample(Base):
    __tablename__ = "metric_sample"
    __table_args__ = (UniqueConstraint("event_id", "metric", "dimension", "bucket_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    # viewers | messages_per_min | unique_chatters_per_min | interactions_per_min |
    # questions_pending | shares (a platform's running count, the most seen that minute)
    metric: Mapped[str] = mapped_column(String(32))
    # "total" or a platform name
    dimension: Mapped[str] = mapped_column(String(64))
    bucket_at: Mapped[datetime]
    value: Mapped[float]
