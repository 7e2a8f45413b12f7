"""Report: the post-event report of a 3-hour event with 2,000,000 chat messages, on PostgreSQL.

`python -m bench.report` (also run by `make bench`, after bench.live10 and
bench.audience_votes) does, in a few minutes:

1. setup: a fresh PostgreSQL database (cr_bench_report, migrated), then one 3-hour event
   per scale (0.5 M, 1 M and 2 M chat messages, all in the same tables, as events share
   them in production): chat over three platforms from ~20,000 authors (a few write most
   of it), following an audience curve with a dip; per-minute metric samples as the
   worker writes them; ~2,000 questions with upvotes; four polls with ~20,000 votes;
   a run-of-show of eight cues; three incidents with playbook steps; Zoom presence.
   Bulk rows go in with COPY (asyncpg), then VACUUM ANALYZE, as autovacuum would;
2. for each event, `app.reports.figures.build` end to end (three runs: the median is
   the figure), with the time of each SQL statement it ran;
3. EXPLAIN (ANALYZE, BUFFERS) of the statements that read chat_message, at the smallest
   and the largest scale: which plan and index each one uses.

Target: build() <= 10 s at 2,000,000 messages. Writes bench/results/report.json and
prints a summary. Do not run it alongside the tests: it measures, they load the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import random
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from sqlalchemy import event as sa_event

from bench.live10 import PG_ADMIN_DSN, RESULTS, fresh_database

DB_NAME = "cr_bench_report"
SCALES = (500_000, 1_000_000, 2_000_000)
TARGET_S = 10.0
DURATION_MIN = 180
PLATFORMS = {"twitch": 0.5, "youtube": 0.35, "zoom": 0.15}  # share of audience and chat
AUTHORS = 20_000
QUESTIONS = 2_000
POLL_VOTES = 20_000
PRESENCE_VIEWERS = 3_000  # on Zoom, the platform that reports joins and leaves
RUNS = 3
COPY_CHUNK = 100_000
T_START = datetime(2026, 10, 1, 17, 0, tzinfo=UTC)
LINES = [
    "great talk", "hi from Berlin", "lol", "🔥🔥🔥", "audio is fine here", "this is gold",
    "can't wait for the demo", "+1", "agreed", "wow", "same here", "PogChamp",
    "the slides are readable", "hello everyone 👋", "nice", "interesting point",
]  # fmt: skip
QUESTION_LINES = [
    "Will the slides be shared?", "How does this scale past one region?",
    "Is the recording going to be posted?", "What version are you running?",
    "Can you show the config again?", "Does it work offline?",
]  # fmt: skip
T0 = time.monotonic()


def say(phase: str, message: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {phase:<7} {message}", flush=True)


def audience_at(minute: int) -> float:
    """The show's total audience: a 15-minute ramp, a plateau with a 25% dip for a few
    minutes at 1:35 (a stream hiccup), a slow fade over the last half hour."""
    if minute < 15:
        level = 2_000 + 8_000 * minute / 15
    elif minute < 150:
        level = 10_000 + 1_500 * math.sin(minute / 20)
    else:
        level = 10_000 - 5_000 * (minute - 150) / 30
    if 95 <= minute < 100:
        level *= 0.75
    return level


@dataclass
class Seeded:
    event_id: str
    slug: str
    messages: int
    sources: dict[str, str]
    rows: dict[str, int]


class Authors:
    """Per platform: ids, and Zipf-like weights (a few regulars write most lines)."""

    def __init__(self, rng: random.Random) -> None:
        self.ids: dict[str, list[str]] = {}
        self.cum: dict[str, list[float]] = {}
        for platform, share in PLATFORMS.items():
            count = round(AUTHORS * share)
            self.ids[platform] = [f"{platform[:2]}{i:07d}" for i in range(count)]
            self.cum[platform] = list(
                itertools.accumulate(1 / (r + 1) ** 0.8 for r in range(count))
            )
        rng.shuffle(self.ids["twitch"])  # rank is not id order

    def pick(self, rng: random.Random, platform: str, k: int) -> list[str]:
        return rng.choices(self.ids[platform], cum_weights=self.cum[platform], k=k)


def _minute_counts(total: int) -> list[int]:
    weights = [audience_at(m) for m in range(DURATION_MIN)]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    counts[len(counts) // 2] += total - sum(counts)
    return counts


async def _copy(
    conn: asyncpg.Connection, table: str, columns: list[str], rows: list[tuple[Any, ...]]
) -> None:
    if rows:
        await conn.copy_records_to_table(table, records=rows, columns=columns)


CHAT_COLUMNS = [
    "id", "event_id", "source_id", "platform", "platform_message_id", "author_id",
    "author_name", "text", "platform_at", "received_at", "truncated", "is_question",
    "hidden", "held", "flagged", "moderation_reason", "version", "created_at",
]  # fmt: skip


async def seed_chat(
    conn: asyncpg.Connection, seeded: Seeded, authors: Authors, rng: random.Random, tag: int
) -> None:
    """`seeded.messages` chat lines over the three hours, in time order, in COPY chunks."""
    rows: list[tuple[Any, ...]] = []
    platforms = list(PLATFORMS)
    shares = list(PLATFORMS.values())
    n = 0
    for minute, count in enumerate(_minute_counts(seeded.messages)):
        base = T_START + timedelta(minutes=minute)
        offsets = sorted(rng.random() * 60 for _ in range(count))
        which = rng.choices(platforms, weights=shares, k=count)
        per_platform: dict[str, list[str]] = {
            p: authors.pick(rng, p, which.count(p)) for p in platforms
        }
        taken = dict.fromkeys(platforms, 0)
        for offset, platform in zip(offsets, which, strict=True):
            author = per_platform[platform][taken[platform]]
            taken[platform] += 1
            question = rng.random() < 0.02
            text = rng.choice(QUESTION_LINES if question else LINES)
            at = base + timedelta(seconds=offset)
            n += 1
            rows.append(
                (
                    f"{tag:08x}{n:024x}",
                    seeded.event_id,
                    seeded.sources[platform],
                    platform,
                    f"m{n}",
                    author,
                    author.upper(),
                    text,
                    at,
                    at + timedelta(milliseconds=40),
                    False,
                    question,
                    rng.random() < 0.005,
                    False,
                    False,
                    None,
                    1,
                    at,
                )
            )
            if len(rows) >= COPY_CHUNK:
                await _copy(conn, "chat_message", CHAT_COLUMNS, rows)
                rows = []
    await _copy(conn, "chat_message", CHAT_COLUMNS, rows)
    seeded.rows["chat_message"] = n


async def seed_samples(conn: asyncpg.Connection, seeded: Seeded, rng: random.Random) -> None:
    """The worker's per-minute samples: viewers per platform and total, chat, backlog."""
    counts = _minute_counts(seeded.messages)
    rows: list[tuple[Any, ...]] = []
    for minute in range(DURATION_MIN):
        at = T_START + timedelta(minutes=minute)
        total = 0.0
        for platform, share in PLATFORMS.items():
            value = float(round(audience_at(minute) * share * rng.uniform(0.97, 1.03)))
            total += value
            rows.append((seeded.event_id, "viewers", platform, at, value))
        rows += [
            (seeded.event_id, "viewers", "total", at, total),
            (seeded.event_id, "messages_per_min", "total", at, float(counts[minute])),
            (seeded.event_id, "unique_chatters_per_min", "total", at, float(counts[minute] // 3)),
            (seeded.event_id, "questions_pending", "total", at, float(rng.randint(0, 35))),
        ]
    await _copy(
        conn, "metric_sample", ["event_id", "metric", "dimension", "bucket_at", "value"], rows
    )
    seeded.rows["metric_sample"] = len(rows)


QUESTION_COLUMNS = [
    "id", "event_id", "source_id", "platform", "platform_message_id", "author_id",
    "author_name", "text", "platform_at", "received_at", "state", "votes", "boost",
    "version", "tags", "anonymous", "host_note", "pinned", "merged_count", "answered_at",
    "created_at", "updated_at",
]  # fmt: skip


async def seed_questions(
    conn: asyncpg.Connection, seeded: Seeded, authors: Authors, rng: random.Random, tag: int
) -> None:
    states = ["answered"] * 40 + ["approved"] * 15 + ["on_deck"] * 5 + ["rejected"] * 15
    states += ["pending"] * 15 + ["archived"] * 10
    rows, votes = [], []
    for i in range(QUESTIONS):
        platform = rng.choices(list(PLATFORMS), weights=list(PLATFORMS.values()))[0]
        author = authors.pick(rng, platform, 1)[0]
        at = T_START + timedelta(seconds=rng.uniform(0, DURATION_MIN * 60))
        state = rng.choice(states)
        answered = at + timedelta(seconds=rng.uniform(30, 1500)) if state == "answered" else None
        upvoters = {
            authors.pick(rng, platform, 1)[0] for _ in range(int(rng.paretovariate(1.5)) - 1)
        }
        qid = f"{tag:08x}{i:024x}"
        rows.append(
            (
                qid,
                seeded.event_id,
                seeded.sources[platform],
                platform,
                f"q{i}",
                author,
                author.upper(),
                rng.choice(QUESTION_LINES),
                at,
                at,
                state,
                len(upvoters),
                0,
                1,
                "[]",
                False,
                "",
                False,
                0,
                answered,
                at,
                answered or at,
            )
        )
        votes += [(qid, f"{platform}:{u}", at + timedelta(seconds=5)) for u in upvoters]
    await _copy(conn, "question", QUESTION_COLUMNS, rows)
    await _copy(conn, "question_vote", ["question_id", "voter_key", "created_at"], votes)
    seeded.rows["question"], seeded.rows["question_vote"] = len(rows), len(votes)


async def seed_polls(
    conn: asyncpg.Connection, seeded: Seeded, authors: Authors, rng: random.Random, tag: int
) -> list[tuple[datetime, datetime]]:
    """Four closed polls of three minutes each; ~POLL_VOTES ballots in all."""
    windows = []
    polls, options, votes = [], [], []
    for p in range(4):
        opens = T_START + timedelta(minutes=30 + 40 * p)
        closes = opens + timedelta(minutes=3)
        windows.append((opens, closes))
        pid = f"{tag:08x}{p:024x}"
        polls.append(
            (pid, seeded.event_id, f"Poll {p + 1}", "single", "closed", 180, opens, closes, 0, None,
             2, opens, closes)
        )  # fmt: skip
        count = 3 + p % 2
        options += [(pid, k + 1, f"Option {k + 1}") for k in range(count)]
        for platform, share in PLATFORMS.items():
            voters = set(authors.pick(rng, platform, round(POLL_VOTES / 4 * share * 1.6)))
            for voter in voters:
                choice = rng.randint(1, count)
                at = opens + timedelta(seconds=rng.uniform(0, 180))
                votes.append(
                    (pid, f"{platform}:{voter}", seeded.sources[platform], platform,
                     f"[{choice}]", str(choice), at, at)
                )  # fmt: skip
    await _copy(
        conn, "poll",
        ["id", "event_id", "title", "kind", "state", "duration_s", "opens_at", "closes_at",
         "late_votes", "cue_id", "version", "created_at", "updated_at"],
        polls,
    )  # fmt: skip
    await _copy(conn, "poll_option", ["poll_id", "position", "label"], options)
    await _copy(
        conn, "vote",
        ["poll_id", "voter", "source_id", "platform", "choices", "choice_key", "received_at",
         "updated_at"],
        votes,
    )  # fmt: skip
    seeded.rows["vote"] = len(votes)
    return windows


async def seed_presence(
    conn: asyncpg.Connection, seeded: Seeded, authors: Authors, rng: random.Random, tag: int
) -> None:
    rows = []
    n = 0
    for viewer in authors.ids["zoom"][:PRESENCE_VIEWERS]:
        at = T_START + timedelta(minutes=rng.uniform(0, 60))
        for _visit in range(rng.choice((1, 1, 1, 2))):
            for action in ("join", "leave"):
                n += 1
                rows.append(
                    (f"{tag:08x}{n:024x}", seeded.event_id, seeded.sources["zoom"], "zoom",
                     viewer, action, at, at)
                )  # fmt: skip
                at += timedelta(minutes=rng.uniform(1, 90))
                if at > T_START + timedelta(minutes=DURATION_MIN):
                    break
    await _copy(
        conn, "presence_event",
        ["id", "event_id", "source_id", "platform", "viewer_id", "action", "at", "received_at"],
        rows,
    )  # fmt: skip
    seeded.rows["presence_event"] = len(rows)


async def seed_show(url: str, seeded: Seeded) -> None:
    """The run-of-show and three incidents with their playbook steps, through the services."""
    from app.cues import service as cues
    from app.cues.schemas import CueSpec
    from app.db import Database
    from app.incidents import service as incidents
    from app.incidents.models import IncidentState

    db = Database(url)
    try:
        async with db.sessions() as session:
            titles = ["Welcome", "Keynote", "Demo", "Panel", "Break", "Customer story",
                      "Q&A", "Wrap-up"]  # fmt: skip
            specs = [CueSpec(title=t, planned_duration_s=22 * 60) for t in titles]
            await cues.import_sheet(session, seeded.event_id, specs, "bench", T_START)  # type: ignore[arg-type]
            live = None
            for k in range(len(titles) + 1):
                now = T_START + timedelta(minutes=k * DURATION_MIN / len(titles))
                outcome = await cues.go(session, seeded.event_id, live, "bench", now)  # type: ignore[arg-type]
                live = next((c.id for c in outcome.changed if c.state == "live"), None)
            entry = {
                "slug": "stream-down", "title": "Stream down", "category": "stream",
                "default_severity": "sev2",
                "steps": [{"text": f"step {s}", "owner_role": "ops_lead"} for s in range(4)],
            }  # fmt: skip
            for k, minute in enumerate((20, 95, 140)):
                detected = T_START + timedelta(minutes=minute)
                change = await incidents.open_incident(
                    session, seeded.event_id, actor="bench", now=detected, entry=entry,
                    impact_started_at=detected - timedelta(seconds=40 + 20 * k),
                )  # fmt: skip
                assert change.incident is not None
                found = await incidents.get(session, seeded.event_id, str(change.incident["id"]))
                for state, after in (
                    (IncidentState.acknowledged, 50),
                    (IncidentState.resolved, 400),
                ):
                    await incidents.transition(
                        session, found, state, "bench", detected + timedelta(seconds=after + 30 * k)
                    )
            await session.commit()
    finally:
        await db.dispose()


async def seed_event(url: str, dsn: str, messages: int, tag: int) -> Seeded:
    from app.db import Database
    from app.events import service as events

    db = Database(url)
    async with db.sessions() as session:
        event = await events.create_event(session, f"bench-report-{messages}", f"{messages:,}")
        event.starts_at = T_START
        sources = {
            p: (await events.add_source(session, event, "bench", p, config={"plays": p})).id
            for p in PLATFORMS
        }
        await session.commit()
    await db.dispose()
    seeded = Seeded(event.id, event.slug, messages, sources, {})
    rng = random.Random(tag)
    authors = Authors(rng)
    conn = await asyncpg.connect(dsn)
    try:
        started = time.monotonic()
        await seed_chat(conn, seeded, authors, rng, tag)
        say("seed", f"{messages:,} chat lines in {time.monotonic() - started:.0f} s")
        await seed_samples(conn, seeded, rng)
        await seed_questions(conn, seeded, authors, rng, tag)
        await seed_polls(conn, seeded, authors, rng, tag)
        await seed_presence(conn, seeded, authors, rng, tag)
    finally:
        await conn.close()
    await seed_show(url, seeded)
    return seeded


class StatementTimer:
    """The time of each SQL statement an engine runs (cursor execute to its end)."""

    def __init__(self, engine: Any) -> None:
        self.found: list[dict[str, Any]] = []
        self._started: list[float] = []
        sync = engine.sync_engine
        sa_event.listen(sync, "before_cursor_execute", self._before)
        sa_event.listen(sync, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        took = time.perf_counter() - self._started.pop()
        self.found.append({"ms": round(took * 1000, 1), "sql": statement, "params": params})


def _label(sql: str) -> str:
    """A short name for a statement: its main table and what it groups by."""
    flat = " ".join(sql.split())
    lowered = flat.lower()
    table = next(
        (t for t in ("chat_message", "presence_event", "question_vote", "metric_sample", "vote",
                     "question", "poll", "incident", "cue", "event") if f"from {t}" in lowered
         or f"join {t}" in lowered),
        "?",
    )  # fmt: skip
    if "union all" in lowered:
        return "participants (union of chat, questions, votes, upvotes)"
    if "date_trunc" in lowered and table == "chat_message":
        return "chat per minute, platform and segment"
    if "date_trunc" in lowered:
        return f"{table} per minute"
    if "lag(" in lowered:
        return "watch time (presence windows)"
    return f"{table}: {flat[:70]}"


async def measure(url: str, seeded: Seeded) -> dict[str, Any]:
    from app.db import Database
    from app.reports import figures

    db = Database(url)
    timer = StatementTimer(db.engine)
    runs: list[float] = []
    statements: list[list[dict[str, Any]]] = []
    sections: list[dict[str, float]] = []
    size = 0
    try:
        for _ in range(RUNS):
            timer.found = []
            started = time.perf_counter()
            async with db.sessions() as session:
                built = await figures.build(session, seeded.event_id)
            body = orjson.dumps(built)
            runs.append(time.perf_counter() - started)
            statements.append(timer.found)
            sections.append(built["build"]["sections_ms"])
            size = len(body)
    finally:
        await db.dispose()
    middle = runs.index(sorted(runs)[len(runs) // 2])
    by_label: dict[str, float] = defaultdict(float)
    for s in statements[middle]:
        by_label[_label(s["sql"])] += s["ms"]
    top = sorted(by_label.items(), key=lambda kv: -kv[1])[:8]
    return {
        "messages": seeded.messages,
        "rows": seeded.rows,
        "build_s": {
            "runs": [round(r, 3) for r in runs],
            "median": round(statistics.median(runs), 3),
            "max": round(max(runs), 3),
        },
        "json_bytes": size,
        "statements": len(statements[middle]),
        "sections_ms": sections[middle],
        "slowest_statements_ms": dict(top),
        "kpis": {
            "peak_viewers": built["kpis"]["viewers"]["peak"]["total"],
            "participants": built["kpis"]["participants"]["total"],
            "interactions": built["kpis"]["interactions"]["total"],
            "engagement_rate": built["kpis"]["engagement_rate"]["total"],
            "watch_time_median_s": built["kpis"]["watch_time"]["median_s"],
            "fired": sorted(
                r["id"]
                for part in ("highlights", "shortcomings", "recommendations")
                for r in built[part]
                if r["fired"]
            ),
        },
        "_sql": statements[middle],
    }


def _plan_summary(plan: list[str]) -> list[str]:
    """The plan's node lines (scans, aggregates, sorts), without the cost details."""
    keep = ("Scan", "Aggregate", "Sort", "Gather", "Hash Join", "Append", "WindowAgg", "Unique")
    out = []
    for line in plan:
        text = line.strip().lstrip("->").strip()
        if any(k in text for k in keep):
            out.append(text.split("  (")[0])
    return out


async def explain(url: str, sql_runs: list[dict[str, Any]]) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement of one build that reads chat_message."""
    from app.db import Database

    db = Database(url)
    out: dict[str, Any] = {}
    try:
        async with db.engine.connect() as conn:
            for s in sql_runs:
                if "chat_message" not in s["sql"]:
                    continue
                params = s["params"]
                result = await conn.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS) " + s["sql"], params if params else ()
                )
                plan = [row[0] for row in result.all()]
                out[_label(s["sql"])] = {
                    "nodes": _plan_summary(plan),
                    "execution": next((p for p in plan if p.startswith("Execution Time")), None),
                    "plan": plan,
                }
    finally:
        await db.dispose()
    return out


async def reuse(dsn: str, scales: list[int]) -> list[Seeded]:
    """The events a previous run seeded (--reuse: measure again without seeding)."""
    conn = await asyncpg.connect(dsn)
    try:
        found = []
        for messages in scales:
            slug = f"bench-report-{messages}"
            event_id = await conn.fetchval("SELECT id FROM event WHERE slug = $1", slug)
            if event_id is None:
                raise SystemExit(f"{slug} is not in {DB_NAME}: run without --reuse first")
            rows = {
                table: await conn.fetchval(
                    f"SELECT count(*) FROM {table} WHERE event_id = $1", event_id
                )
                for table in ("chat_message", "metric_sample", "question", "presence_event")
            }
            found.append(Seeded(event_id, slug, messages, {}, rows))
        return found
    finally:
        await conn.close()


async def run(a: argparse.Namespace) -> dict[str, Any]:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    if a.reuse:
        url = f"{base}/{DB_NAME}"
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        seeded = await reuse(dsn, a.scales)
    else:
        say("setup", f"fresh database {DB_NAME}")
        url = await fresh_database(DB_NAME)
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        seeded = []
        for tag, messages in enumerate(a.scales, start=1):
            say("seed", f"event of {messages:,} messages")
            seeded.append(await seed_event(url, dsn, messages, tag))
    conn = await asyncpg.connect(dsn)
    try:
        if not a.reuse:
            say("seed", "VACUUM ANALYZE (what autovacuum does after a bulk load)")
            await conn.execute("VACUUM ANALYZE")
        chat_total = await conn.fetchval("SELECT count(*) FROM chat_message")
        pg_version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    scales = []
    for s in seeded:
        say("build", f"{s.messages:,} messages: {RUNS} runs")
        found = await measure(url, s)
        say("build", f"{s.messages:,} messages: median {found['build_s']['median']:.2f} s")
        scales.append(found)
    # The smallest event is a small part of the table (an index-only scan is worth it),
    # the largest more than half of it (a sequential scan may be as good): both plans.
    plans: dict[str, Any] = {}
    for chosen in {id(s): s for s in (scales[0], scales[-1])}.values():
        say("explain", f"chat_message statements at {chosen['messages']:,} messages")
        plans[str(chosen["messages"])] = await explain(url, chosen["_sql"])
    for s in scales:
        s.pop("_sql")
    per_million = [
        round(s["build_s"]["median"] / (s["messages"] / 1e6), 3) for s in scales if s["messages"]
    ]
    at_2m = next((s for s in scales if s["messages"] == 2_000_000), None)
    measured = at_2m["build_s"]["median"] if at_2m else None
    return {
        "config": {
            "scales": list(a.scales),
            "duration_min": DURATION_MIN,
            "platforms": PLATFORMS,
            "authors": AUTHORS,
            "runs": RUNS,
            "reused_seed": a.reuse,
            "chat_rows_in_table": chat_total,
            "postgres": pg_version,
        },
        "scales": scales,
        "seconds_per_million_messages": per_million,
        "target": {
            "build_s_at_2m": f"<= {TARGET_S}",
            "measured": measured,
            "pass": measured is not None and measured <= TARGET_S,
        },
        "explain": plans,
    }


def summary(result: dict[str, Any]) -> str:
    lines = [
        "  report build() on PostgreSQL "
        f"{result['config']['postgres']} ({result['config']['chat_rows_in_table']:,} chat rows "
        "in the table)",
        "",
        f"  {'messages':>10}  {'median s':>9}  {'max s':>7}  {'s / M msgs':>10}  statements",
    ]
    for s, per in zip(result["scales"], result["seconds_per_million_messages"], strict=True):
        lines.append(
            f"  {s['messages']:>10,}  {s['build_s']['median']:>9.2f}  {s['build_s']['max']:>7.2f}"
            f"  {per:>10.2f}  {s['statements']}"
        )
    largest = result["scales"][-1]
    lines += ["", f"  slowest statements at {largest['messages']:,} messages (ms):"]
    lines += [f"    {ms:>8.0f}  {label}" for label, ms in largest["slowest_statements_ms"].items()]
    for messages, plans in result["explain"].items():
        lines += ["", f"  plans (chat_message) at {int(messages):,} messages:"]
        for label, plan in plans.items():
            lines.append(f"    {label}: {plan['execution']}")
            lines += [f"      {node}" for node in plan["nodes"][:6]]
    target = result["target"]
    verdict = "PASS" if target["pass"] else "FAIL" if target["measured"] else "not measured"
    lines += ["", f"  target at 2 M messages: {target['build_s_at_2m']} s, measured "
              f"{target['measured']} s: {verdict}"]  # fmt: skip
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--scales",
        type=lambda v: [int(x) for x in v.split(",")],
        default=list(SCALES),
        help="chat messages per event, comma-separated (default: 500000,1000000,2000000)",
    )
    p.add_argument(
        "--reuse",
        action="store_true",
        help=f"measure the events a previous run left in {DB_NAME} again, without seeding",
    )
    p.add_argument("--out", type=Path, default=RESULTS / "report.json")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    result = asyncio.run(run(a))
    result["elapsed_s"] = round(time.monotonic() - T0, 1)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print()
    print(summary(result))
    print(f"\n  written to {a.out} ({result['elapsed_s']:.0f} s)")
    if not result["target"]["pass"] and result["target"]["measured"] is not None:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
