"""Each KPI of the report on an event the simulator plays (tests/reports/kpi.yaml).

The simulator runs as it does live, on a virtual clock that moves only when it sleeps:
what it emits goes through the bus and the pipeline worker, and the gauge ticker samples
every 5 s of show time, as the live ticker does. The viewer figures and the watch time
total are worked out by hand from the scenario file; what the seeded chat happens to
say (how many lines, who upvoted what, who left when) is counted from the simulator's
own timeline, in plain Python, and the report must agree with it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import pytest
from sqlalchemy import select

from app.connectors.scenario import Scenario, load_scenario
from app.connectors.simulator import Simulator
from app.envelope import Kind
from app.metrics.models import MetricSample
from app.pipeline.worker import PipelineWorker
from app.reports import figures
from tests.conftest import Seeded, Stack
from tests.pipeline.harness import drain
from tests.reports.scenario import no_detection

SCENARIO = Path(__file__).with_name("kpi.yaml")
T0 = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
TICK_S = 5  # the live ticker writes a minute's sample on every 5th second


class VirtualClock:
    """Show time in seconds from T0; it moves only when the simulator sleeps."""

    def __init__(self) -> None:
        self.s = 0.0

    def __call__(self) -> float:
        return self.s

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.s)


@dataclass
class Replayed:
    scenario: Scenario
    played: list[tuple[float, dict[str, Any]]]  # the simulator's timeline, as it played
    report: dict[str, Any]
    live: dict[str, float]  # the ticker's interactions_per_min sample of each minute


async def replay(stack: Stack, seeded: Seeded) -> Replayed:
    scenario = load_scenario(SCENARIO)
    event_id = seeded.event.id
    sources = {s.config["plays"]: s.id for s in seeded.sources if s.config.get("plays")}
    worker = PipelineWorker(stack.bus, stack.db, consumer="kpi-test")
    # No connector supervisor runs here, so the playbook's detectors would find the
    # sources silent and open incidents; they are tested elsewhere.
    worker.detection.tick = no_detection  # type: ignore[method-assign]
    clock = VirtualClock()
    next_tick = 0.0

    async def catch_up() -> None:
        # Everything due before now has been emitted: store it, then take the samples
        # the live ticker would have taken by now (not at the show's end: it is over).
        nonlocal next_tick
        if next_tick > clock.s or next_tick >= scenario.duration_s:
            return
        await drain(stack, worker, event_id)
        while next_tick <= clock.s and next_tick < scenario.duration_s:
            await worker.tick_gauges(event_id, now=(T0 + timedelta(seconds=next_tick)).timestamp())
            next_tick += TICK_S

    async def sleep(seconds: float) -> None:
        await catch_up()
        clock.s += max(0.0, seconds)
        await asyncio.sleep(0)

    sim = Simulator(
        bus=stack.bus,
        event_id=event_id,
        sources=sources,
        scenario=scenario,
        clock=clock,
        sleep=sleep,
        wall=clock.wall,
    )
    await sim.produce()
    await catch_up()
    await drain(stack, worker, event_id)
    async with stack.db.sessions() as session:
        report = await figures.build(session, event_id)
        samples = await session.scalars(
            select(MetricSample).where(
                MetricSample.event_id == event_id, MetricSample.metric == "interactions_per_min"
            )
        )
        live = {figures.iso(m.bucket_at) or "": m.value for m in samples}
    return Replayed(scenario, list(sim.timeline()), report, live)


def iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def check_viewers_peak_average_and_minutes(replayed: Replayed) -> None:
    viewers = replayed.report["kpis"]["viewers"]
    # The levels of kpi.yaml: 200 400 500 500 300 250, split 50/30/20.
    assert viewers["peak"] == {
        "total": 500,
        "by_platform": {"twitch": 250, "youtube": 150, "zoom": 100},
    }
    assert viewers["peak_at"]["total"] == iso(120)  # minute 2, the first at 500
    assert viewers["average"] == {
        "total": 358.33,  # 2150 / 6
        "by_platform": {"twitch": 179.17, "youtube": 107.5, "zoom": 71.67},  # 1075, 645, 430
    }
    assert viewers["viewer_minutes"] == {
        "total": 2150,
        "by_platform": {"twitch": 1075, "youtube": 645, "zoom": 430},
    }
    assert viewers["minutes_sampled"] == 6
    assert replayed.report["window"] == {"start": iso(0), "end": iso(360), "minutes": 6}


def check_unique_participants(replayed: Replayed) -> None:
    writers: dict[str, set[str]] = defaultdict(set)
    for _, f in replayed.played:
        if f["kind"] in (Kind.chat, Kind.vote):
            writers[f["platform"]].add(f["author"].id)
    # The scenario's premise: 5 to 6 minutes of chat reach all 20 of its users, split by
    # share into 10 on twitch, 6 on youtube and 4 on zoom.
    assert {p: len(ids) for p, ids in writers.items()} == {"twitch": 10, "youtube": 6, "zoom": 4}
    people = replayed.report["kpis"]["participants"]
    assert people["total"] == 20
    assert {p: c["participants"] for p, c in people["by_platform"].items()} == {
        "twitch": 10,
        "youtube": 6,
        "zoom": 4,
    }


def check_interactions_and_engagement_rate(replayed: Replayed) -> None:
    chat: dict[str, int] = defaultdict(int)
    questions: dict[str, int] = defaultdict(int)
    upvotes: set[tuple[str, str, str]] = set()  # one per person and question
    for _, f in replayed.played:
        if f["kind"] == Kind.chat:
            asked = f["text"].rstrip().endswith("?")
            (questions if asked else chat)[f["platform"]] += 1
        elif f["kind"] == Kind.vote:
            upvotes.add((f["platform"], f["author"].id, f["data"]["question"]))
    assert sum(questions.values()) > 0 and upvotes  # the scenario exercises both

    interactions = replayed.report["kpis"]["interactions"]
    assert interactions["by_type"] == {
        "chat": sum(chat.values()),
        "questions": sum(questions.values()),
        "poll_votes": 0,
        "upvotes": len(upvotes),
    }
    total = sum(chat.values()) + sum(questions.values()) + len(upvotes)
    assert interactions["total"] == total
    rate = replayed.report["kpis"]["engagement_rate"]
    # interactions per 100 viewers per minute, over the 2150 viewer-minutes
    assert rate["total"] == round(total * 100 / 2150, 3)
    twitch = chat["twitch"] + questions["twitch"]
    assert rate["by_platform"]["twitch"] == round(twitch * 100 / 1075, 3)


def check_live_interactions_match_the_report(replayed: Replayed) -> None:
    # The engagement rate the ops lead watched live is the one the report states: each
    # minute's live count of chat and questions is the report's. (The last minute's
    # sample was taken at 5:55, before its last lines, as the live ticker's would be.)
    table = replayed.report["series"]["interactions"]
    column = {name: i for i, name in enumerate(table["columns"])}
    rows = table["rows"][:5]
    assert [r[column["minute"]] for r in rows] == [iso(60 * m) for m in range(5)]
    report = {r[column["minute"]]: r[column["chat"]] + r[column["questions"]] for r in rows}
    assert all(report.values())
    assert {m: replayed.live.get(m) for m in report} == report


def check_watch_time_from_presence(replayed: Replayed) -> None:
    watch = replayed.report["kpis"]["watch_time"]
    assert watch["basis"] == "presence"
    # Zoom's ticks fall at 6.67 s past each 10 s. Joins: 40 at 0:06.67, 40 at 1:06.67,
    # 20 at 2:06.67; leaves: 40 at 4:06.67, 10 at 5:06.67; 50 watch to the end (6:00).
    # Nobody rejoins, so 100 viewers, and the person-seconds are
    #   40*(360-20/3) + 40*(360-200/3) + 20*(360-380/3) - 40*(360-740/3) - 10*(360-920/3)
    #   = 76400/3 = 25466.67 s, an average of 254.67 s.
    # (Within a millisecond a visit: SQLite measures time through julianday, a float.)
    assert watch["viewers"] == 100
    assert watch["average_s"] == pytest.approx(254.667, abs=0.002)
    assert replayed.report["retention"]["total_s"] == pytest.approx(25466.667, abs=0.1)

    # Who left when is the seed's choice: pair the simulator's own joins and leaves.
    joined: dict[str, float] = {}
    seconds: list[float] = []
    for t, f in replayed.played:
        if f["kind"] == Kind.presence:
            if f["data"]["action"] == "join":
                joined[f["author"].id] = t
            else:
                seconds.append(t - joined.pop(f["author"].id))
    seconds += [replayed.scenario.duration_s - t for t in joined.values()]
    assert len(seconds) == 100
    assert watch["median_s"] == pytest.approx(median(seconds), abs=0.002)
    curve = dict(replayed.report["retention"]["curve"]["rows"])
    assert curve[0] == 1.0
    assert curve[5] == pytest.approx(sum(s >= 300 for s in seconds) / 100)


async def test_each_kpi_of_a_simulated_event(stack: Stack, seeded: Seeded) -> None:
    # One replay for every check (a replay takes seconds); each check says what it covers.
    replayed = await replay(stack, seeded)
    check_viewers_peak_average_and_minutes(replayed)
    check_unique_participants(replayed)
    check_interactions_and_engagement_rate(replayed)
    check_live_interactions_match_the_report(replayed)
    check_watch_time_from_presence(replayed)
