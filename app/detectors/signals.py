"""One snapshot of what the detectors judge an event by, and how it is gathered."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.bus import Bus
from app.connectors.registry import CONNECTOR_CLASSES
from app.cues import service as cues
from app.db import Database
from app.events import repository as events
from app.moderation.normalize import normalize, repeat_key
from app.pipeline import aggregates
from app.questions import repository as questions
from app.sources import service as sources

# A source whose connector has never reported (no worker runs it yet, or none can).
UNKNOWN_STATE = "unknown"


@dataclass(frozen=True, slots=True)
class SourceSignals:
    """One source's connector as its last health report describes it."""

    source_id: str
    platform: str
    state: str  # a ConnectorState value, "paused" for a disabled source, or "unknown"
    since_last_event_s: float | None = None  # None: it has never delivered an event
    lag_s: float = 0.0
    name: str = ""
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class CueOverrun:
    cue_id: str
    title: str
    planned_s: float
    over_s: float


@dataclass(frozen=True, slots=True)
class EventSignals:
    """What an event looks like at `now` (epoch seconds); per-minute figures are trailing."""

    event_id: str
    now: float
    viewers: Mapping[str, int] = field(default_factory=dict)
    viewers_total: int | None = None  # None while no platform reports a count
    messages_last_min: float = 0.0
    chatters_last_min: float = 0.0
    # Share of the last minute's lines whose normalised text an earlier line had.
    duplicate_ratio: float = 0.0
    interactions_last_min: float = 0.0
    sources: tuple[SourceSignals, ...] = ()
    questions_pending: int = 0
    oldest_pending_s: float | None = None
    overruns: tuple[CueOverrun, ...] = ()

    def source(self, source_id: str) -> SourceSignals | None:
        return next((s for s in self.sources if s.source_id == source_id), None)


def text_key(text: str) -> str:
    """The key two chat lines share when they read the same (for the duplicate ratio)."""
    # The flood rule's notion of "the same message": case, spacing, punctuation, look-alike
    # letters and stretched letters do not make a raid's copies different. Hashed to a
    # fixed size because the bus only compares keys, and a 2,000-character line should
    # cost it what a short one does.
    return hashlib.blake2b(repeat_key(normalize(text)).encode(), digest_size=8).hexdigest()


def repeat_share(repeats: float, messages: float) -> float:
    """Share of `messages` that repeated an earlier one (0..1)."""
    if messages <= 0:
        return 0.0
    return min(1.0, max(0.0, repeats / messages))


async def collect(db: Database, bus: Bus, event_id: str, now: float) -> EventSignals:
    """Reads an event's signals from the bus's counters and health, and one DB session."""
    minute = aggregates.minute_of(now)
    fraction = (now % 60) / 60
    # Independent reads: overlapped, one round trip's wait instead of six.
    (cur_msgs, cur_users), (prev_msgs, prev_users), cur_texts, prev_texts = await asyncio.gather(
        bus.read_activity(event_id, minute),
        bus.read_activity(event_id, minute - 1),
        bus.read_distinct_texts(event_id, minute),
        bus.read_distinct_texts(event_id, minute - 1),
    )
    viewers, health = await asyncio.gather(bus.read_viewers(event_id), bus.read_health(event_id))

    at = datetime.fromtimestamp(now, UTC)
    async with db.sessions() as session:
        event_sources = await events.sources_of(session, event_id)
        pending, oldest_at = await questions.pending_backlog(session, event_id)
        asked = await questions.asked_outside_chat_since(
            session, event_id, at - timedelta(seconds=60)
        )
        overrunning = await cues.overruns(session, event_id, at)

    # The same trailing-minute estimate as the gauges, so ops see the numbers judged.
    messages = aggregates.sliding_per_minute(cur_msgs, prev_msgs, fraction)
    # HyperLogLog counts are estimates: a bucket never has more repeats than lines.
    repeats = aggregates.sliding_per_minute(
        max(0, cur_msgs - cur_texts), max(0, prev_msgs - prev_texts), fraction
    )
    return EventSignals(
        event_id=event_id,
        now=now,
        viewers=viewers,
        viewers_total=sum(viewers.values()) if viewers else None,
        messages_last_min=messages,
        chatters_last_min=aggregates.sliding_per_minute(cur_users, prev_users, fraction),
        duplicate_ratio=repeat_share(repeats, messages),
        # Poll votes and question upvotes are not counted per minute anywhere yet.
        interactions_last_min=messages + asked,
        sources=tuple(
            _source_signals(s.id, s.platform, s.name, health.get(s.id), s.enabled, now)
            for s in event_sources
            # The audience page and Q&A imports have no connector to be stale.
            if s.platform in CONNECTOR_CLASSES
        ),
        questions_pending=pending,
        oldest_pending_s=max(0.0, now - oldest_at.timestamp()) if oldest_at else None,
        overruns=tuple(
            CueOverrun(c.id, c.title, float(c.planned_duration_s), cues.timing(c, at)[1])
            for c in overrunning
        ),
    )


def _source_signals(
    source_id: str, platform: str, name: str, raw: bytes | None, enabled: bool, now: float
) -> SourceSignals:
    health: dict[str, Any] = sources.parse_health(raw, enabled) or {}
    last_event = _timestamp(health.get("last_event_at"))
    lag = health.get("lag_s")
    return SourceSignals(
        source_id=source_id,
        platform=platform,
        state=str(health.get("state") or UNKNOWN_STATE),
        since_last_event_s=max(0.0, now - last_event) if last_event is not None else None,
        lag_s=float(lag) if isinstance(lag, int | float) else 0.0,
        name=name,
        last_error=health.get("last_error"),
    )


def _timestamp(iso: Any) -> float | None:
    if not isinstance(iso, str):
        return None
    try:
        at = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
