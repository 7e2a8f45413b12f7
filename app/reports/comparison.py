"""Two events' figures side by side, with absolute and relative deltas.

"The last event of the same series": events are a series when their slugs match up to
the last '-' (`launch-2026-03` and `launch-2026-02` are series `launch-2026`); the one
compared with is the most recent earlier one — by start time, or creation time for an
event without one. An explicit other event may be given instead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import Event
from app.reports import repository

SERIES_RULE = (
    "the most recent earlier event (by start time, else creation time) whose slug is the "
    "same up to its last '-'"
)
EXPLICIT_RULE = "the event named by the request"

# (path into the figures, label): what the comparison lines up.
METRICS: tuple[tuple[str, str], ...] = (
    ("kpis.viewers.peak.total", "peak concurrent viewers"),
    ("kpis.viewers.average.total", "average concurrent viewers"),
    ("kpis.viewers.viewer_minutes.total", "viewer-minutes"),
    ("kpis.participants.total", "unique participants"),
    ("kpis.participants.chatters", "unique chatters"),
    ("kpis.participants.askers", "unique askers"),
    ("kpis.participants.voters", "unique voters"),
    ("kpis.interactions.total", "interactions"),
    ("kpis.interactions.by_type.chat", "chat interactions"),
    ("kpis.interactions.by_type.questions", "questions asked"),
    ("kpis.interactions.by_type.poll_votes", "poll votes"),
    ("kpis.interactions.by_type.upvotes", "question upvotes"),
    ("kpis.messages.total", "chat messages"),
    ("kpis.engagement_rate.total", "engagement rate (interactions per 100 viewers per minute)"),
    ("kpis.watch_time.average_s", "average watch time (s)"),
    ("kpis.watch_time.median_s", "median watch time (s)"),
    ("window.minutes", "minutes with data"),
    ("questions.received", "questions received"),
    ("questions.answered", "questions answered"),
    ("questions.unanswered_share", "share of approved questions unanswered"),
    ("questions.median_time_to_answer_s", "median time to answer (s)"),
    ("polls.launched", "polls launched"),
    ("polls.average_participation", "average poll participation"),
    ("incidents.counted", "incidents"),
    ("incidents.response.all.all.acknowledge.median_s", "median time to acknowledge (s)"),
    ("incidents.response.all.all.resolve.median_s", "median time to resolve (s)"),
)


def series_prefix(slug: str) -> str | None:
    """The series a slug belongs to: what comes before its last '-' (None without one)."""
    prefix, dash, _ = slug.rpartition("-")
    return prefix if dash and prefix else None


async def previous_in_series(session: AsyncSession, event: Event) -> Event | None:
    prefix = series_prefix(event.slug)
    if prefix is None:
        return None
    for other in await repository.earlier_events_like(session, event, prefix + "-"):
        # "launch-2026-extra-1" starts like "launch-2026-" but is series "launch-2026-extra".
        if series_prefix(other.slug) == prefix:
            return other
    return None


def _get(figures: dict[str, Any], path: str) -> Any:
    value: Any = figures
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def delta(this: float | None, other: float | None) -> tuple[float | None, float | None]:
    """(this - other, that change in % of other); % is None when other is 0 or missing."""
    if this is None or other is None:
        return None, None
    change = this - other
    change = int(change) if float(change).is_integer() else round(change, 4)
    return change, (round(change / other * 100, 2) if other else None)


def _event(figures: dict[str, Any]) -> dict[str, Any]:
    return {**figures["event"], "window": figures["window"]}


def compare(this: dict[str, Any], other: dict[str, Any], *, basis: str) -> dict[str, Any]:
    """The figures of `this` event against `other`'s; basis: "series" or "explicit"."""
    paths = list(METRICS)
    platforms = sorted(
        set(this["kpis"]["viewers"]["peak"]["by_platform"])
        | set(other["kpis"]["viewers"]["peak"]["by_platform"])
    )
    paths += [(f"kpis.viewers.peak.by_platform.{p}", f"peak viewers on {p}") for p in platforms]
    rows = []
    for path, label in paths:
        mine, theirs = _get(this, path), _get(other, path)
        change, pct = delta(mine, theirs)
        rows.append(
            {
                "key": path,
                "label": label,
                "this": mine,
                "other": theirs,
                "delta": change,
                "delta_pct": pct,
            }
        )
    return {
        "basis": basis,
        "rule": SERIES_RULE if basis == "series" else EXPLICIT_RULE,
        "event": _event(this),
        "other": _event(other),
        "metrics": rows,
    }
