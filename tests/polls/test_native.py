"""Native platform polls, from the polls' side: what a launch and a close ask of each
source, and how a platform's own counts merge with ballots into one result."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import select

from app.connectors.native_polls import POLL_END, POLL_START, tally_envelope
from app.events import service as events
from app.events.models import Source
from app.pipeline.worker import PipelineWorker
from app.polls import service
from app.polls.models import NativeTally, Poll, PollKind
from tests.conftest import Seeded, Stack
from tests.pipeline.harness import chat, deltas, drain
from tests.polls.test_polls import T0, ballot, current_results, make_poll, record, votes


async def add_sources(stack: Stack, seeded: Seeded) -> dict[str, Source]:
    async with stack.db.sessions() as session:
        found = {
            "twitch": await events.add_source(
                session, seeded.event, "twitch", "main", config={"channel": "x"}
            ),
            "owncast": await events.add_source(
                session, seeded.event, "owncast", "own", config={"server": "http://o"}
            ),
            "zoom": await events.add_source(
                session, seeded.event, "zoom", "webinar", config={"webinar_id": "1"}
            ),
        }
        await session.commit()
    return found


async def commands(stack: Stack, seeded: Seeded, source: Source) -> list[dict]:
    read = await stack.bus.read_commands(seeded.event.id, source.id, "t", 10, block_ms=10)
    await stack.bus.ack_command(seeded.event.id, source.id, [c.entry_id for c in read])
    return [orjson.loads(c.payload) for c in read]


async def close(stack: Stack, poll_id: str) -> None:
    async with stack.db.sessions() as session:
        poll = await session.get(Poll, poll_id)
        assert poll is not None
        change = await service.close(session, poll, "test", now=T0 + timedelta(seconds=30))
        await session.commit()
    await change.publish(stack.bus)


async def test_launch_runs_a_native_poll_where_there_is_one_and_chat_voting_elsewhere(
    stack: Stack, seeded: Seeded
) -> None:
    sources = await add_sources(stack, seeded)
    pid = await make_poll(stack, seeded, duration_s=60)
    [start] = await commands(stack, seeded, sources["twitch"])
    assert start["type"] == POLL_START
    params = start["params"]
    assert params["poll_id"] == pid and params["title"] == "Best talk?"
    assert params["options"] == ["Keynote", "Panel", "Demo"] and params["duration_s"] == 60
    assert "!vote 1..3" in params["chat_text"], "the fallback if Twitch refuses the poll"
    [announce] = await commands(stack, seeded, sources["owncast"])
    assert announce["type"] == "send_message" and "!vote 1..3" in announce["params"]["text"]
    assert await commands(stack, seeded, sources["zoom"]) == [], "Zoom cannot post to chat"

    await close(stack, pid)
    [end] = await commands(stack, seeded, sources["twitch"])
    assert end["type"] == POLL_END and end["params"] == {"poll_id": pid}
    assert await commands(stack, seeded, sources["owncast"]) == []


async def test_a_multiple_choice_poll_runs_in_chat_everywhere(stack: Stack, seeded: Seeded) -> None:
    sources = await add_sources(stack, seeded)
    pid = await make_poll(stack, seeded, PollKind.multiple)
    [announce] = await commands(stack, seeded, sources["twitch"])
    assert announce["type"] == "send_message", "platform polls take one choice"
    assert "several allowed" in announce["params"]["text"]
    await close(stack, pid)
    assert await commands(stack, seeded, sources["twitch"]) == [], "no native poll to end"


async def test_a_rating_runs_natively_as_its_five_values(stack: Stack, seeded: Seeded) -> None:
    sources = await add_sources(stack, seeded)
    await make_poll(stack, seeded, PollKind.rating)
    [start] = await commands(stack, seeded, sources["twitch"])
    assert start["type"] == POLL_START and start["params"]["options"] == ["1", "2", "3", "4", "5"]


def report(
    seeded: Seeded, source: Source, poll_id: str, counts: list[int], at: datetime, seq: str
) -> bytes:
    return tally_envelope(
        event_id=seeded.event.id,
        source_id=source.id,
        platform=source.platform,
        poll_id=poll_id,
        platform_poll_id="tw-poll-1",
        counts=counts,
        final=False,
        at=at,
        seq=seq,
    ).to_json()


async def test_native_counts_merge_with_ballots_and_replace_that_sources_chat_votes(
    stack: Stack, seeded: Seeded
) -> None:
    sources = await add_sources(stack, seeded)
    twitch = sources["twitch"]
    pid = await make_poll(stack, seeded)
    # Ballots: two audience-page voters and one Twitch chat vote (which Twitch's own
    # count will include, so it must not count twice).
    await record(
        stack,
        seeded,
        [
            ballot(pid, "a1", [1], T0 + timedelta(seconds=1), platform="audience"),
            ballot(pid, "a2", [3], T0 + timedelta(seconds=1), platform="audience"),
        ],
    )
    chat_vote = ballot(pid, "tw-viewer", [2], T0 + timedelta(seconds=2))
    await record(stack, seeded, [dataclasses.replace(chat_vote, source_id=twitch.id)])
    assert votes(await current_results(stack, pid)) == [1, 1, 1]

    now = datetime.now(UTC)
    await stack.bus.add_ingest(
        seeded.event.id,
        [
            report(seeded, twitch, pid, [4, 6, 0], now, "m2"),
            # Delivered late: an older report never replaces a newer one.
            report(seeded, twitch, pid, [1, 1, 0], now - timedelta(seconds=5), "m1"),
        ],
    )
    worker = PipelineWorker(stack.bus, stack.db, consumer="t")
    await drain(stack, worker, seeded.event.id)
    await worker.tick_results()
    found = await current_results(stack, pid)
    assert votes(found) == [5, 6, 1] and found["total_voters"] == 12
    assert found["by_platform"]["twitch"] == {"voters": 10, "counts": [4, 6, 0], "native": True}
    assert found["by_platform"]["audience"] == {"voters": 2, "counts": [1, 0, 1]}
    published = [d for d in await deltas(stack, seeded.event.id) if d["type"] == "poll.results"]
    assert published and votes(published[-1]["data"]) == [5, 6, 1]

    # Twitch's final count arrives after our close: it still counts.
    await close(stack, pid)
    await stack.bus.add_ingest(
        seeded.event.id, [report(seeded, twitch, pid, [4, 7, 0], datetime.now(UTC), "m3")]
    )
    await drain(stack, worker, seeded.event.id)
    assert votes(await current_results(stack, pid)) == [5, 7, 1]


async def test_bad_tallies_are_dead_lettered_with_the_reason(stack: Stack, seeded: Seeded) -> None:
    sources = await add_sources(stack, seeded)
    twitch = sources["twitch"]
    await make_poll(stack, seeded)
    bad = orjson.loads(report(seeded, twitch, "p", [1], datetime.now(UTC), "x"))
    bad["data"]["counts"] = [1, -2]
    await stack.bus.add_ingest(
        seeded.event.id,
        [
            report(seeded, twitch, "no-such-poll", [1, 2, 3], datetime.now(UTC), "y"),
            orjson.dumps(bad),
            chat(seeded, "c1", "still flowing"),
        ],
    )
    worker = PipelineWorker(stack.bus, stack.db, consumer="t")
    await drain(stack, worker, seeded.event.id)
    reasons = sorted(letter.reason for letter in await stack.bus.dead_letters(seeded.event.id))
    assert reasons == [
        "no poll no-such-poll in this event",
        "poll_tally counts must be a list of non-negative integers",
    ]
    shown = [d for d in await deltas(stack, seeded.event.id) if d["type"] == "chat.message"]
    assert [d["data"]["text"] for d in shown] == ["still flowing"], "the rest of the batch"


async def test_the_simulated_audience_votes_natively_and_in_chat(
    stack: Stack, seeded: Seeded
) -> None:
    """A launch on the simulator: its Twitch and YouTube count in their own polls, its
    Zoom audience votes in chat after the instructions; all of it reaches the results."""
    from app.connectors.base import Action
    from app.connectors.simulator import Simulator

    async def instant(_: float) -> None:
        await asyncio.sleep(0)

    plays = {s.config["plays"]: s.id for s in seeded.sources[:3]}
    sim = Simulator(
        bus=stack.bus, event_id=seeded.event.id, sources=plays, seed=7, speed=1.0, sleep=instant
    )
    pid = await make_poll(stack, seeded)

    async def perform_all() -> dict[str, str]:
        outcomes = {}
        for platform, source_id in plays.items():
            for raw in await commands(stack, seeded, _source(seeded, source_id)):
                result = await sim.perform(Action.from_json(orjson.dumps(raw)))
                outcomes[platform] = f"{raw['type']}:{result.status}"
        return outcomes

    assert await perform_all() == dict.fromkeys(plays, f"{POLL_START}:done")
    await asyncio.gather(*(run.task for run in sim.polls.running.values() if run.task))
    worker = PipelineWorker(stack.bus, stack.db, consumer="t")
    await drain(stack, worker, seeded.event.id)
    found = await current_results(stack, pid)
    by = found["by_platform"]
    assert by["twitch"]["native"] and by["youtube"]["native"] and "native" not in by["zoom"]
    assert all(by[p]["voters"] > 0 for p in plays), by
    assert found["total_voters"] == sum(by[p]["voters"] for p in plays)
    shown = [d["data"].get("text") for d in await deltas(stack, seeded.event.id)]
    assert any(t and t.startswith("Poll: Best talk?") for t in shown), "instructions in Zoom chat"

    await close(stack, pid)
    assert await perform_all() == {
        "twitch": f"{POLL_END}:done",
        "youtube": f"{POLL_END}:done",
        "zoom": f"{POLL_END}:done",
    }
    await drain(stack, worker, seeded.event.id)
    async with stack.db.sessions() as session:
        finals = (await session.scalars(select(NativeTally))).all()
        assert sorted((t.platform, t.final) for t in finals) == [
            ("twitch", True),
            ("youtube", True),
        ]


def _source(seeded: Seeded, source_id: str) -> Source:
    return next(s for s in seeded.sources if s.id == source_id)
