"""The post-event report's figures, as one JSON-ready dict (docs/PROTOCOL.md, "Report").

Every count comes grouped from the database (app/reports/repository.py); what is left
to Python is a few thousand per-minute rows, the run-of-show, polls and incidents.
Highlights, shortcomings and recommendations are stated rules over these figures
(app/reports/rules.py), each with the numbers that made it fire or not.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.cues import repository as cues_repo
from app.cues.models import Cue, CueState
from app.errors import NotFound
from app.events.models import Event
from app.incidents import metrics as incident_metrics
from app.incidents.models import Incident
from app.incidents.service import incidents_of
from app.polls import repository as polls_repo
from app.polls import service as polls
from app.polls.models import PollState
from app.reports import repository, rules

SCHEMA_VERSION = 1
TOP_QUESTIONS = 5
INTERACTION_TYPES = ("chat", "questions", "poll_votes", "upvotes")
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
RETENTION_POINTS = 180  # most points a retention curve has (minutes are grouped above it)
ENGAGEMENT_UNIT = "interactions per 100 viewers per minute"

median = incident_metrics.percentile  # nearest rank, as the incident figures: a real value


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def number(value: float | None, digits: int = 2) -> float | int | None:
    """A figure as JSON shows it: whole numbers as ints, others rounded."""
    if value is None or math.isnan(value):
        return None
    if float(value).is_integer():
        return int(value)
    return round(value, digits)


def rate(interactions: float, viewer_minutes: float) -> float | None:
    """Interactions per 100 viewers per minute: interactions x 100 / viewer-minutes."""
    if viewer_minutes <= 0:
        return None
    return round(interactions * 100 / viewer_minutes, 3)


class _Timings:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = round((time.perf_counter() - started) * 1000, 1)


class _Audience:
    """Per-minute viewers per platform, from the worker's samples (rehearsals left out)."""

    def __init__(self, samples: Sequence[tuple[datetime, str, str, float]]) -> None:
        self.by_minute: dict[datetime, dict[str, float]] = defaultdict(dict)
        self.backlog: dict[datetime, float] = {}
        self.chatters: dict[datetime, float] = {}
        self.shares: dict[str, dict[datetime, float]] = defaultdict(dict)  # platform -> minute
        for minute, metric, dimension, value in samples:
            if metric == "viewers":
                # "total" is what the live gauge summed, drills included: add platforms up.
                if dimension != "total" and dimension not in repository.REHEARSAL_PLATFORMS:
                    self.by_minute[minute][dimension] = value
            elif metric == "questions_pending":
                self.backlog[minute] = value
            elif metric == "unique_chatters_per_min" and dimension == "total":
                self.chatters[minute] = value
            elif metric == "shares" and dimension not in repository.REHEARSAL_PLATFORMS:
                self.shares[dimension][minute] = value
        self.platforms = sorted({p for row in self.by_minute.values() for p in row})
        self.total = {m: sum(row.values()) for m, row in self.by_minute.items() if row}

    def share_kpis(self, platforms: list[str]) -> dict[str, Any]:
        """Shares (or forwards) where a platform reports them: its running count, so the
        last (largest) one is the event's; the platforms that report none are named."""
        last = {p: max(v.values()) for p, v in sorted(self.shares.items())}
        return {
            "total": number(sum(last.values())) if last else None,
            "by_platform": {p: number(n) for p, n in last.items()},
            "reported_by": sorted(last),
            "not_reported_by": [p for p in platforms if p not in last],
        }

    def shares_so_far(self, minutes: list[datetime]) -> list[list[Any]]:
        """Each reporting platform's count at each minute's end (the last one carried)."""
        platforms = sorted(self.shares)
        rows = []
        for minute in minutes:
            so_far = [
                max((v for m, v in self.shares[p].items() if m <= minute), default=0.0)
                for p in platforms
            ]
            rows.append([iso(minute), *[number(n) for n in so_far], number(sum(so_far))])
        return rows

    def average_between(self, start: datetime, end: datetime) -> float | None:
        """Mean total viewers over the minute samples that overlap [start, end)."""
        found = [v for m, v in self.total.items() if m < end and m + MINUTE > start]
        return sum(found) / len(found) if found else None

    def kpis(self) -> dict[str, Any]:
        def peak(values: dict[datetime, float]) -> tuple[float | None, datetime | None]:
            if not values:
                return None, None
            top = max(values.values())
            return top, min(m for m, v in values.items() if v == top)

        per_platform = {
            p: {m: row[p] for m, row in self.by_minute.items() if p in row} for p in self.platforms
        }
        total_peak, total_at = peak(self.total)
        peaks = {p: peak(values) for p, values in per_platform.items()}
        return {
            "peak": {
                "total": number(total_peak),
                "by_platform": {p: number(v) for p, (v, _) in peaks.items()},
            },
            "peak_at": {
                "total": iso(total_at),
                "by_platform": {p: iso(at) for p, (_, at) in peaks.items()},
            },
            "average": {
                "total": number(_mean(self.total.values())),
                "by_platform": {p: number(_mean(v.values())) for p, v in per_platform.items()},
            },
            "viewer_minutes": {
                "total": number(sum(self.total.values())),
                "by_platform": {p: number(sum(v.values())) for p, v in per_platform.items()},
            },
            "minutes_sampled": len(self.total),
        }


def _mean(values: Any) -> float | None:
    found = list(values)
    return sum(found) / len(found) if found else None


class _Activity:
    """Interactions and messages per minute and platform."""

    def __init__(self) -> None:
        self.interactions: dict[datetime, dict[str, dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: dict.fromkeys(INTERACTION_TYPES, 0))
        )
        self.messages: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        # Chat per run-of-show segment (its index), from the same pass over the lines.
        self.chat_by_segment: dict[int, dict[str, int]] = defaultdict(
            lambda: {"messages": 0, "chat": 0}
        )
        self.hidden = 0

    def add(self, kind: str, rows: Sequence[tuple[datetime, str, int]]) -> None:
        for minute, platform, count in rows:
            self.interactions[minute][platform][kind] += count

    def add_chat(self, rows: Sequence[repository.ChatMinute]) -> None:
        for row in rows:
            self.messages[row.minute][row.platform] += row.messages
            self.interactions[row.minute][row.platform]["chat"] += row.interactions
            self.hidden += row.hidden
            if row.segment >= 0:
                self.chat_by_segment[row.segment]["messages"] += row.messages
                self.chat_by_segment[row.segment]["chat"] += row.interactions

    def by_type(self) -> dict[str, int]:
        out = dict.fromkeys(INTERACTION_TYPES, 0)
        for platforms in self.interactions.values():
            for counts in platforms.values():
                for kind, n in counts.items():
                    out[kind] += n
        return out

    def by_platform(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(INTERACTION_TYPES, 0))
        for platforms in self.interactions.values():
            for platform, counts in platforms.items():
                for kind, n in counts.items():
                    out[platform][kind] += n
        return {p: {**c, "total": sum(c.values())} for p, c in sorted(out.items())}

    def minute_total(self, minute: datetime) -> dict[str, int]:
        out = dict.fromkeys(INTERACTION_TYPES, 0)
        for counts in self.interactions.get(minute, {}).values():
            for kind, n in counts.items():
                out[kind] += n
        return out


def _table(columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"columns": columns, "rows": rows}


def _series(
    minutes: list[datetime], audience: _Audience, activity: _Activity, chat_platforms: list[str]
) -> dict[str, Any]:
    audience_rows, chat_rows, interaction_rows, backlog_rows, chatter_rows = [], [], [], [], []
    for minute in minutes:
        at = iso(minute)
        viewers = audience.by_minute.get(minute, {})
        total = audience.total.get(minute)
        audience_rows.append(
            [at, *[number(viewers.get(p)) for p in audience.platforms], number(total)]
        )
        messages = activity.messages.get(minute, {})
        chat_rows.append(
            [at, *[messages.get(p, 0) for p in chat_platforms], sum(messages.values())]
        )
        counts = activity.minute_total(minute)
        together = sum(counts.values())
        interaction_rows.append(
            [
                at,
                *[counts[k] for k in INTERACTION_TYPES],
                together,
                number(total),
                rate(together, total) if total else None,
            ]
        )
        backlog_rows.append([at, number(audience.backlog.get(minute))])
        chatter_rows.append([at, number(audience.chatters.get(minute))])
    shared = sorted(audience.shares)
    return {
        "audience": _table(["minute", *audience.platforms, "total"], audience_rows),
        "chat": _table(["minute", *chat_platforms, "total"], chat_rows),
        "interactions": _table(
            ["minute", *INTERACTION_TYPES, "total", "viewers", "engagement_rate"],
            interaction_rows,
        ),
        "backlog": _table(["minute", "questions_pending"], backlog_rows),
        "chatters": _table(["minute", "chatters"], chatter_rows),
        "shares": _table(["minute", *shared, "total"], audience.shares_so_far(minutes)),
    }


def _played(cues: Sequence[Cue]) -> list[Cue]:
    return [c for c in cues if c.actual_start_at is not None and c.state != CueState.skipped]


def _cue_end(cue: Cue, window_end: datetime | None) -> datetime:
    assert cue.actual_start_at is not None
    end = cue.actual_end_at or window_end or cue.actual_start_at
    return max(end, cue.actual_start_at)


def _cue_marker(cue: Cue, window_end: datetime | None) -> dict[str, Any]:
    assert cue.actual_start_at is not None
    end = _cue_end(cue, window_end)
    length = (end - cue.actual_start_at).total_seconds()
    planned = cue.planned_duration_s or 0
    return {
        "id": cue.id,
        "position": cue.position,
        "title": cue.title,
        "state": str(cue.state),
        "start": iso(cue.actual_start_at),
        "end": iso(end),
        "ended": cue.actual_end_at is not None,
        "duration_s": number(length, 3),
        "planned_duration_s": planned or None,
        "overrun_s": number(max(0.0, length - planned), 3) if planned else None,
    }


def _incident_marker(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "number": incident.number,
        "title": incident.title,
        "category": incident.category,
        "severity": incident.severity,
        "state": str(incident.state),
        "impact_started_at": iso(incident.impact_started_at),
        "detected_at": iso(incident.detected_at),
        "acknowledged_at": iso(incident.acknowledged_at),
        "mitigated_at": iso(incident.mitigated_at),
        "resolved_at": iso(incident.resolved_at),
    }


def _bounds(played: list[Cue]) -> list[tuple[datetime, datetime | None]]:
    """Each played cue's [start, end); no end for the live one: every later line is in it
    (the window ends with the last line), so the queries need not know the window."""
    found: list[tuple[datetime, datetime | None]] = []
    for cue in played:
        assert cue.actual_start_at is not None  # _played keeps only cues that started
        found.append((cue.actual_start_at, cue.actual_end_at))
    return found


async def _segments(
    session: AsyncSession,
    event_id: str,
    played: list[Cue],
    audience: _Audience,
    activity: _Activity,
    window_end: datetime | None,
) -> list[dict[str, Any]]:
    open_bounds = _bounds(played)
    found: dict[int, dict[str, int]] = defaultdict(dict)
    for part in (
        activity.chat_by_segment,
        await repository.questions_per_segment(session, event_id, open_bounds),
        await repository.votes_per_segment(session, event_id, open_bounds),
        await repository.upvotes_per_segment(session, event_id, open_bounds),
    ):
        for index, counts in part.items():
            found[index].update(counts)
    out = []
    for index, cue in enumerate(played):
        assert cue.actual_start_at is not None
        start, end = cue.actual_start_at, _cue_end(cue, window_end)
        counts = found.get(index, {})
        interactions = {k: counts.get(k, 0) for k in INTERACTION_TYPES}
        together = sum(interactions.values())
        minutes = (end - start).total_seconds() / 60
        viewers = audience.average_between(start, end)
        out.append(
            {
                **_cue_marker(cue, window_end),
                "cue_id": cue.id,
                "minutes": number(minutes, 3),
                "average_viewers": number(viewers),
                "messages": counts.get("messages", 0),
                "interactions": {**interactions, "total": together},
                "engagement_rate": (
                    rate(together, viewers * minutes) if viewers and minutes > 0 else None
                ),
            }
        )
    return out


def _retention(
    watch: list[tuple[str, float]], audience: _Audience, minutes: list[datetime]
) -> dict[str, Any]:
    if watch:
        seconds = sorted(s for _, s in watch)
        longest = math.ceil(seconds[-1] / 60)
        step = max(1, math.ceil(longest / RETENTION_POINTS))
        rows: list[list[Any]] = []
        for n in range(0, longest + 1, step):
            still = sum(1 for s in seconds if s >= n * 60)
            rows.append([n, round(still / len(seconds), 4)])
        per_platform: dict[str, list[float]] = defaultdict(list)
        for platform, s in watch:
            per_platform[platform].append(s)
        return {
            "basis": "presence",
            "platforms": sorted(per_platform),
            "viewers": len(seconds),
            "average_s": number(sum(seconds) / len(seconds), 3),
            "median_s": number(median(seconds, 0.5), 3),
            "total_s": number(sum(seconds), 3),
            "by_platform": {
                p: {
                    "viewers": len(v),
                    "average_s": number(sum(v) / len(v), 3),
                    "median_s": number(median(v, 0.5), 3),
                }
                for p, v in sorted(per_platform.items())
            },
            "curve": _table(["after_min", "share_still_watching"], rows),
        }
    peak = max(audience.total.values(), default=0)
    curve_rows = [
        [
            iso(m),
            number(audience.total.get(m)),
            round(audience.total[m] / peak, 4) if peak and m in audience.total else None,
        ]
        for m in minutes
    ]
    return {
        "basis": "viewer_counts",
        "platforms": audience.platforms,
        "viewers": None,
        "average_s": None,
        "median_s": None,
        "total_s": None,
        "by_platform": {},
        "curve": _table(["minute", "viewers", "share_of_peak"], curve_rows),
    }


async def _questions(
    session: AsyncSession, event_id: str, backlog: dict[datetime, float]
) -> dict[str, Any]:
    states: dict[str, int] = defaultdict(int)
    by_platform: dict[str, int] = defaultdict(int)
    merged = 0
    for platform, state, was_merged, n in await repository.question_states(session, event_id):
        by_platform[platform] += n
        if was_merged:
            merged += n  # folded into another question: received, not triaged on its own
        else:
            states[state] += n
    received = sum(by_platform.values())
    approved = states["approved"] + states["on_deck"] + states["answered"]
    unanswered = states["approved"] + states["on_deck"]
    answer_s = await repository.answer_seconds(session, event_id)
    top = await repository.top_questions(session, event_id, TOP_QUESTIONS)
    peak_pending = max(backlog.values(), default=None)
    return {
        "received": received,
        "by_platform": dict(sorted(by_platform.items())),
        "merged": merged,
        "approved": approved,
        "answered": states["answered"],
        "rejected": states["rejected"],
        "archived": states["archived"],
        "pending": states["pending"],
        "unanswered": unanswered,
        "unanswered_share": round(unanswered / approved, 4) if approved else None,
        "median_time_to_answer_s": number(median(answer_s, 0.5), 3),
        "p90_time_to_answer_s": number(median(answer_s, 0.9), 3),
        "answer_times_counted": len(answer_s),
        "top": [
            {
                "id": q.id,
                "text": q.text,
                "author_name": "Anonymous" if q.anonymous else q.author_name,
                "platform": q.platform,
                "votes": q.votes,
                "state": str(q.state),
                "received_at": iso(q.received_at),
                "answered_at": iso(q.answered_at),
            }
            for q in top
        ],
        "backlog": {
            "samples": len(backlog),
            "peak_pending": number(peak_pending),
            "peak_at": iso(min((m for m, v in backlog.items() if v == peak_pending), default=None)),
        },
    }


async def _polls(
    session: AsyncSession, event_id: str, audience: _Audience, window_end: datetime | None
) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    drafts = 0
    for poll in await polls_repo.for_event(session, event_id):
        if poll.state == PollState.draft or poll.opens_at is None:
            drafts += 1
            continue
        found = await polls.results(session, poll)
        found["by_platform"] = {
            p: v for p, v in found["by_platform"].items() if p not in repository.REHEARSAL_PLATFORMS
        }
        closed = poll.closes_at if poll.state == PollState.closed else None
        end = max(closed or window_end or poll.opens_at, poll.opens_at)
        # A poll shorter than a sample still overlaps the minute it ran in.
        viewers = audience.average_between(poll.opens_at, max(end, poll.opens_at + SECOND))
        voters = int(found["total_voters"])
        items.append(
            {
                "id": poll.id,
                "title": poll.title,
                "kind": str(poll.kind),
                "state": str(poll.state),
                "cue_id": poll.cue_id,
                "opens_at": iso(poll.opens_at),
                "closes_at": iso(poll.closes_at),
                "open_s": number((end - poll.opens_at).total_seconds(), 3),
                "voters": voters,
                "average_viewers": number(viewers),
                "participation": round(voters / viewers, 4) if viewers else None,
                "results": {k: v for k, v in found.items() if k not in ("state", "kind")},
            }
        )
    shares: list[float] = [p["participation"] for p in items if p["participation"] is not None]
    return {
        "launched": len(items),
        "not_launched": drafts,
        "average_participation": round(sum(shares) / len(shares), 4) if shares else None,
        "items": items,
    }


async def build(
    session: AsyncSession, event_id: str, *, thresholds: rules.Thresholds | None = None
) -> dict[str, Any]:
    """Every figure of the report for one event, with the rules evaluated on them."""
    started = time.perf_counter()
    timed = _Timings()
    event = await session.get(Event, event_id)
    if event is None:
        raise NotFound(f"no event {event_id}: list yours with GET /api/events")

    with timed("samples"):
        audience = _Audience(await repository.metric_samples(session, event_id))
    with timed("cues"):
        played = _played(await cues_repo.sheet_cues(session, event_id))
    activity = _Activity()
    with timed("chat"):
        activity.add_chat(await repository.chat_per_minute(session, event_id, _bounds(played)))
    with timed("interactions_per_minute"):
        activity.add("questions", await repository.questions_per_minute(session, event_id))
        activity.add("poll_votes", await repository.votes_per_minute(session, event_id))
        native = await repository.native_tallies(session, event_id)
        activity.add("poll_votes", [(_floor(at), p, n) for at, p, n in native])
        activity.add("upvotes", await repository.upvotes_per_minute(session, event_id))
    with timed("participants"):
        people = await repository.participants(session, event_id)

    # Minutes with viewers or activity; a backlog or chatter sample alone (a ticker running
    # before the show) does not stretch the event.
    minutes = sorted(set(audience.by_minute) | set(activity.messages) | set(activity.interactions))
    starts = [m for m in minutes[:1]] + [c.actual_start_at for c in played if c.actual_start_at]
    ends = [m + MINUTE for m in minutes[-1:]] + [c.actual_end_at for c in played if c.actual_end_at]
    window_start, window_end = min(starts, default=None), max(ends, default=None)
    if window_start is not None and window_end is None:
        window_end = window_start + MINUTE

    with timed("presence"):
        watch = (
            await repository.watch_seconds(session, event_id, window_start, window_end)
            if window_start is not None and window_end is not None
            else []
        )
    with timed("segments"):
        segments = await _segments(session, event_id, played, audience, activity, window_end)
    with timed("questions"):
        shown = set(minutes)
        backlog = {m: v for m, v in audience.backlog.items() if m in shown}
        questions = await _questions(session, event_id, backlog)
    with timed("polls"):
        poll_figures = await _polls(session, event_id, audience, window_end)
    with timed("incidents"):
        incident_rows = await incidents_of(session, event_id, open_only=False)
        incident_figures = await incident_metrics.summary(session, incident_rows)
    counted = incident_metrics.counted(incident_rows)

    by_platform = activity.by_platform()
    viewer_kpis = audience.kpis()
    messages_by_platform: dict[str, int] = defaultdict(int)
    for per_platform in activity.messages.values():
        for platform, n in per_platform.items():
            messages_by_platform[platform] += n
    chat_platforms = sorted(messages_by_platform)
    interactions_total = sum(c["total"] for c in by_platform.values())
    viewer_minutes = viewer_kpis["viewer_minutes"]
    retention = _retention(watch, audience, minutes)
    platforms = sorted(
        set(audience.platforms) | set(by_platform) | set(people) | set(audience.shares)
    )
    figures: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": iso(datetime.now(UTC)),
        "event": {
            "id": event.id,
            "slug": event.slug,
            "title": event.title,
            "status": str(event.status),
            "starts_at": iso(event.starts_at),
        },
        "window": {
            "start": iso(window_start),
            "end": iso(window_end),
            "minutes": len(minutes),
        },
        "platforms": platforms,
        "kpis": {
            "viewers": viewer_kpis,
            "participants": {
                "total": sum(p["participants"] for p in people.values()),
                "chatters": sum(p["chatters"] for p in people.values()),
                "askers": sum(p["askers"] for p in people.values()),
                "voters": sum(p["voters"] for p in people.values()),
                "by_platform": dict(sorted(people.items())),
            },
            "interactions": {
                "total": interactions_total,
                "by_type": activity.by_type(),
                "by_platform": by_platform,
            },
            "messages": {
                "total": sum(messages_by_platform.values()),
                "hidden": activity.hidden,
                "by_platform": dict(sorted(messages_by_platform.items())),
            },
            "engagement_rate": {
                "unit": ENGAGEMENT_UNIT,
                "total": rate(interactions_total, viewer_minutes["total"] or 0),
                "by_platform": {
                    p: rate(
                        by_platform.get(p, {}).get("total", 0),
                        viewer_minutes["by_platform"].get(p) or 0,
                    )
                    for p in audience.platforms
                },
            },
            "shares": audience.share_kpis(platforms),
            "watch_time": {
                "basis": retention["basis"],
                "viewers": retention["viewers"],
                "average_s": retention["average_s"],
                "median_s": retention["median_s"],
            },
        },
        "series": _series(minutes, audience, activity, chat_platforms),
        "retention": retention,
        "markers": {
            "cues": [_cue_marker(c, window_end) for c in played],
            "incidents": [_incident_marker(i) for i in counted],
        },
        "segments": segments,
        "questions": questions,
        "polls": poll_figures,
        "incidents": {**incident_figures, "counted": len(counted)},
    }
    with timed("rules"):
        figures.update(rules.evaluate(figures, thresholds or rules.Thresholds()))
    figures["build"] = {
        "ms": round((time.perf_counter() - started) * 1000, 1),
        "sections_ms": timed.ms,
    }
    return figures


def _floor(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(second=0, microsecond=0)
