from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class GaugePoint(BaseModel):
    """One minute: `at` is the bucket's start, `value` covers [at, at + 60 s)."""

    at: datetime
    value: float


class GaugeHistory(BaseModel):
    """GET /api/events/{id}/gauges/history: complete minutes, per metric and dimension."""

    event_id: str
    server_time: datetime
    since: datetime
    until: datetime
    bucket_s: int
    # metric → dimension ("total" or a platform) → points, oldest first
    series: dict[str, dict[str, list[GaugePoint]]]
