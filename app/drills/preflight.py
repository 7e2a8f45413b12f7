"""Preflight: the checks an ops lead runs before going live, as a pass/fail checklist.

- each source connected and fresh (its connector's health on the bus);
- a test message round trip where the platform allows sending (opt-in: it posts in
  the real chat), waiting for the platform's answer to come back through the pipeline;
- a poll dry run: each drafted poll played against the simulator's voters in memory
  (nothing stored), counted as the pipeline counts, and checked against the limits of
  each platform that would run it natively;
- clock skew: this server against the database, Redis, and each platform's timestamps.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.bus import Bus
from app.chat.models import ChatMessage
from app.connectors import youtube
from app.connectors.base import Action, Capability
from app.connectors.registry import capabilities_for
from app.db import new_id
from app.events.models import Source
from app.polls import repository as poll_queries
from app.polls.chat_votes import parse_vote
from app.polls.models import PollKind, PollState
from app.polls.native import NATIVE_KINDS
from app.polls.service import Ballot, shown_labels, tally
from app.sources.service import parse_health

FRESH_S = 60.0  # a source silent (no event, no keepalive) longer than this is stale
SKEW_OK_S = 2.0
ROUND_TRIP_S = 15.0
DRY_RUN_VOTERS = 40
# What each platform's own poll takes (docs/CONNECTORS.md): beyond it, chat voting.
# YouTube's option range is the connector's own (it refuses outside it before calling);
# Twitch's are Helix's rules, which only Helix enforces (its connector lets it refuse).
NATIVE_LIMITS = {
    "twitch": (2, 5, 60, 25),
    "youtube": (youtube.POLL_MIN_OPTIONS, youtube.POLL_MAX_OPTIONS, None, None),
}


@dataclass
class Check:
    name: str
    status: str  # pass | warn | fail | skip
    detail: str
    target: str = ""

    def data(self) -> dict[str, str]:
        return {
            "name": self.name,
            "target": self.target,
            "status": self.status,
            "detail": self.detail,
        }


def _age(at: str | None, now: datetime) -> float | None:
    return None if not at else (now - datetime.fromisoformat(at)).total_seconds()


async def live_sources(session: AsyncSession, event_id: str) -> list[Source]:
    """The sources the show runs on: enabled, a drill's rehearsal source left out."""
    rows = await session.scalars(
        select(Source).where(Source.event_id == event_id, Source.enabled.is_(True))
    )
    return [s for s in rows.all() if not s.is_drill]


def check_sources(sources: list[Source], health: dict[str, bytes], now: datetime) -> list[Check]:
    checks = []
    for source in sources:
        found = parse_health(health.get(source.id), enabled=True)  # live_sources: enabled
        if found is None:
            checks.append(
                Check("source", "fail", "no health report: is a worker running it?", source.name)
            )
            continue
        state = found.get("state")
        ages = [
            a
            for a in (
                _age(found.get("last_event_at"), now),
                _age(found.get("last_keepalive_at"), now),
            )
            if a is not None
        ]
        freshest = min(ages) if ages else None
        if state != "connected":
            error = found.get("last_error") or "no error reported"
            checks.append(Check("source", "fail", f"{state}: {error}", source.name))
        elif freshest is None:
            checks.append(Check("source", "warn", "connected, nothing received yet", source.name))
        elif freshest > FRESH_S:
            checks.append(
                Check("source", "fail", f"connected but silent for {freshest:.0f} s", source.name)
            )
        else:
            checks.append(
                Check("source", "pass", f"connected, last heard {freshest:.0f} s ago", source.name)
            )
    return checks


async def round_trips(bus: Bus, event_id: str, sources: list[Source], now: datetime) -> list[Check]:
    """Sends one line where the platform allows it and waits for the platform's answer."""
    senders = [s for s in sources if Capability.send_message in capabilities_for(s.platform)]
    if not senders:
        return [Check("test message", "skip", "no source can send messages")]
    since = await bus.live_seq(event_id)
    waiting: dict[str, Source] = {}
    stamp = now.strftime("%H:%M:%S")
    for source in senders:
        action = Action(
            new_id(), "send_message", source.id, {"text": f"Control Room preflight check {stamp} ✓"}
        )
        waiting[action.id] = source
        await bus.add_command(event_id, source.id, action.to_json())
    answers: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    deadline = started + ROUND_TRIP_S
    while waiting.keys() - answers.keys() and time.monotonic() < deadline:
        for batch in await bus.read_live(event_id, since, block_ms=500):
            since = max(since, batch.seq_to)
            for item in batch.items:
                body = orjson.loads(item)
                data = body.get("data") or {}
                if body.get("type") == "moderation.result" and data.get("action_id") in waiting:
                    answers[data["action_id"]] = data | {"after_s": time.monotonic() - started}
    checks = []
    for action_id, source in waiting.items():
        got = answers.get(action_id)
        if got is None:
            checks.append(
                Check("test message", "fail", f"no answer within {ROUND_TRIP_S:.0f} s", source.name)
            )
        elif got.get("status") == "done":
            checks.append(
                Check(
                    "test message",
                    "pass",
                    f"posted and confirmed in {got['after_s']:.1f} s",
                    source.name,
                )
            )
        else:
            checks.append(
                Check(
                    "test message", "fail", f"{got.get('status')}: {got.get('reason')}", source.name
                )
            )
    return checks


def _fits(platform: str, kind: PollKind, title: str, options: list[str]) -> str | None:
    """Why the platform's own poll would refuse this one (None if it takes it)."""
    low, high, title_max, option_max = NATIVE_LIMITS[platform]
    if kind not in NATIVE_KINDS:
        return "takes one choice only"
    if not low <= len(options) <= high:
        return f"takes {low} to {high} options, not {len(options)}"
    if title_max and len(title) > title_max:
        return f"titles are at most {title_max} characters"
    if option_max and any(len(o) > option_max for o in options):
        return f"options are at most {option_max} characters"
    return None


async def poll_dry_run(
    session: AsyncSession, event_id: str, sources: list[Source], now: datetime
) -> list[Check]:
    polls = [
        p for p in await poll_queries.for_event(session, event_id) if p.state == PollState.draft
    ]
    if not polls:
        return [Check("poll dry run", "skip", "no drafted polls")]
    labels = await poll_queries.options(session, [p.id for p in polls])
    platforms = {s.platform for s in sources}
    checks = []
    for poll in polls:
        kind = PollKind(poll.kind)
        options = shown_labels(poll, labels[poll.id])
        # The simulator's audience types votes; the pipeline's parser and tally count them.
        ballots = []
        for n in range(DRY_RUN_VOTERS):
            choice = n % len(options) + 1
            text = f"!rate {choice}" if kind == PollKind.rating else f"!vote {choice}"
            parsed = parse_vote(text, kind, len(options))
            if parsed is not None:
                ballots.append(Ballot(poll.id, f"simulator:v{n}", "simulator", None, parsed, now))
        rows: dict[str, int] = {}
        for ballot in ballots:
            key = ",".join(str(c) for c in ballot.choices)
            rows[key] = rows.get(key, 0) + 1
        counted = tally(poll, labels[poll.id], [("simulator", k, n) for k, n in rows.items()])
        refusals = [
            f"{platform} would run it in chat ({why})"
            for platform in sorted(platforms & NATIVE_LIMITS.keys())
            if (why := _fits(platform, kind, poll.title, options)) is not None
        ]
        status = "pass" if counted["total_voters"] == DRY_RUN_VOTERS else "fail"
        detail = f"{counted['total_voters']}/{DRY_RUN_VOTERS} simulated votes counted"
        if refusals:
            status = "warn" if status == "pass" else status
            detail += "; " + "; ".join(refusals)
        checks.append(Check("poll dry run", status, detail, poll.title))
    return checks


async def clock_skew(session: AsyncSession, bus: Bus, event_id: str, now: datetime) -> list[Check]:
    checks = []
    db_now = await session.scalar(select(func.current_timestamp()))
    if isinstance(db_now, datetime):
        db_now = db_now if db_now.tzinfo else db_now.replace(tzinfo=UTC)
        skew = (db_now - now).total_seconds()
        checks.append(
            Check(
                "clock skew",
                "pass" if abs(skew) <= SKEW_OK_S else "fail",
                f"database {skew:+.2f} s",
                "database",
            )
        )
    redis = getattr(bus, "redis", None)
    if redis is not None:
        seconds, micros = await redis.time()
        skew = seconds + micros / 1e6 - now.timestamp()
        checks.append(
            Check(
                "clock skew",
                "pass" if abs(skew) <= SKEW_OK_S else "fail",
                f"Redis {skew:+.2f} s",
                "redis",
            )
        )
    # A platform's clock, seen through its messages: received minus sent, median of the
    # last ten minutes (network delay is in it, so only a large gap means a wrong clock).
    rows = (
        await session.execute(
            select(ChatMessage.platform, ChatMessage.platform_at, ChatMessage.received_at)
            .where(
                ChatMessage.event_id == event_id,
                ChatMessage.received_at >= now - timedelta(minutes=10),
            )
            .order_by(ChatMessage.received_at.desc())
            .limit(500)
        )
    ).all()
    by_platform: dict[str, list[float]] = {}
    for platform, sent, received in rows:
        by_platform.setdefault(platform, []).append((received - sent).total_seconds())
    for platform, gaps in sorted(by_platform.items()):
        skew = statistics.median(gaps)
        status = "pass" if abs(skew) <= SKEW_OK_S else "warn"
        checks.append(
            Check(
                "clock skew",
                status,
                f"{platform} messages arrive {skew:+.2f} s after their timestamps",
                platform,
            )
        )
    return checks


async def run(
    session: AsyncSession, bus: Bus, event_id: str, now: datetime, *, send_test_messages: bool
) -> dict[str, Any]:
    sources = await live_sources(session, event_id)
    checks = check_sources(sources, await bus.read_health(event_id), now)
    if send_test_messages:
        checks += await round_trips(bus, event_id, sources, now)
    else:
        checks.append(Check("test message", "skip", "not asked (it posts a line in each chat)"))
    checks += await poll_dry_run(session, event_id, sources, now)
    checks += await clock_skew(session, bus, event_id, now)
    return {
        "passed": all(c.status in ("pass", "warn", "skip") for c in checks),
        "at": now,
        "checks": [c.data() for c in checks],
    }
