"""Gauges: viewers, messages and unique chatters per minute, from the bus's counters."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from app.bus import Bus


def minute_of(ts: float) -> int:
    return int(ts // 60)


def sliding_per_minute(current: int, previous: int, elapsed_fraction: float) -> float:
    """A trailing-60-s estimate from two fixed buckets (the older one weighted down)."""
    return current + previous * (1.0 - elapsed_fraction)


async def compute_gauges(
    bus: Bus, event_id: str, *, questions_pending: int, now: float | None = None
) -> dict[str, Any]:
    now = time.time() if now is None else now
    minute = minute_of(now)
    fraction = (now % 60) / 60
    # Independent reads, overlapped: one round trip's wait instead of six, every second.
    (
        (cur_msgs, cur_users),
        (prev_msgs, prev_users),
        cur_acts,
        prev_acts,
        viewers,
        backlog,
    ) = await asyncio.gather(
        bus.read_activity(event_id, minute),
        bus.read_activity(event_id, minute - 1),
        bus.read_interactions(event_id, minute),
        bus.read_interactions(event_id, minute - 1),
        bus.read_viewers(event_id),
        bus.ingest_backlog(event_id),
    )
    return {
        "at": datetime.fromtimestamp(now, UTC),
        "viewers": {"total": sum(viewers.values()), "by_platform": viewers},
        "messages_per_min": round(sliding_per_minute(cur_msgs, prev_msgs, fraction)),
        "unique_chatters_per_min": round(sliding_per_minute(cur_users, prev_users, fraction)),
        # Chat and questions as the report counts them; the console adds ballots and upvotes.
        "interactions_per_min": round(sliding_per_minute(cur_acts, prev_acts, fraction)),
        "questions_pending": questions_pending,
        "ingest_backlog": backlog,
    }


async def minute_samples(
    bus: Bus, event_id: str, minute: int, *, questions_pending: int
) -> list[dict[str, Any]]:
    """The metric_sample rows for one minute bucket (viewers and the backlog as seen now;
    the report's backlog rule reads the pending count, which is not recoverable later)."""
    bucket_at = datetime.fromtimestamp(minute * 60, UTC)
    (messages, users), interactions, viewers = await asyncio.gather(
        bus.read_activity(event_id, minute),
        bus.read_interactions(event_id, minute),
        bus.read_viewers(event_id),
    )

    def row(metric: str, value: float, dimension: str = "total") -> dict[str, Any]:
        return {
            "event_id": event_id,
            "bucket_at": bucket_at,
            "metric": metric,
            "dimension": dimension,
            "value": float(value),
        }

    return [
        row("messages_per_min", messages),
        row("unique_chatters_per_min", users),
        row("interactions_per_min", interactions),
        row("viewers", sum(viewers.values())),
        *(row("viewers", count, platform) for platform, count in viewers.items()),
        row("questions_pending", questions_pending),
    ]
