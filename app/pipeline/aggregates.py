"""Gauges: viewers, messages and unique chatters per minute, from the bus's counters."""

from __future__ import annotations

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
    cur_msgs, cur_users = await bus.read_activity(event_id, minute)
    prev_msgs, prev_users = await bus.read_activity(event_id, minute - 1)
    cur_acts = await bus.read_interactions(event_id, minute)
    prev_acts = await bus.read_interactions(event_id, minute - 1)
    viewers = await bus.read_viewers(event_id)
    return {
        "at": datetime.fromtimestamp(now, UTC),
        "viewers": {"total": sum(viewers.values()), "by_platform": viewers},
        "messages_per_min": round(sliding_per_minute(cur_msgs, prev_msgs, fraction)),
        "unique_chatters_per_min": round(sliding_per_minute(cur_users, prev_users, fraction)),
        # Chat and questions as the report counts them; the console adds ballots and upvotes.
        "interactions_per_min": round(sliding_per_minute(cur_acts, prev_acts, fraction)),
        "questions_pending": questions_pending,
        "ingest_backlog": await bus.ingest_backlog(event_id),
    }


async def minute_samples(
    bus: Bus, event_id: str, minute: int, *, questions_pending: int | None = None
) -> list[dict[str, Any]]:
    """The metric_sample rows for one minute bucket (viewers and the backlog as seen now)."""
    bucket_at = datetime.fromtimestamp(minute * 60, UTC)
    messages, users = await bus.read_activity(event_id, minute)
    interactions = await bus.read_interactions(event_id, minute)
    viewers = await bus.read_viewers(event_id)
    base = {"event_id": event_id, "bucket_at": bucket_at}
    rows = [
        {**base, "metric": "messages_per_min", "dimension": "total", "value": float(messages)},
        {**base, "metric": "unique_chatters_per_min", "dimension": "total", "value": float(users)},
        {
            **base,
            "metric": "interactions_per_min",
            "dimension": "total",
            "value": float(interactions),
        },
        {**base, "metric": "viewers", "dimension": "total", "value": float(sum(viewers.values()))},
    ]
    rows += [
        {**base, "metric": "viewers", "dimension": platform, "value": float(count)}
        for platform, count in viewers.items()
    ]
    if questions_pending is not None:
        # The report's backlog rule reads it: a pending count is not recoverable later.
        rows.append(
            {
                **base,
                "metric": "questions_pending",
                "dimension": "total",
                "value": float(questions_pending),
            }
        )
    return rows
