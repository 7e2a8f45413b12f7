"""Chat moderation: hide/unhide, the hold queue, and platform actions through the simulator."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import orjson
from sqlalchemy import select, update

from app.chat.models import ChatMessage, ModerationAction
from app.connectors.simulator import Simulator
from app.envelope import Author, Kind, make_envelope
from app.pipeline.worker import PipelineWorker
from tests.conftest import Seeded, Stack


async def ingest_chat(stack: Stack, seeded: Seeded, source: int, text: str) -> str:
    env = make_envelope(
        event_id=seeded.event.id,
        source_id=seeded.sources[source].id,
        platform=seeded.sources[source].config.get("plays", "qa"),
        kind=Kind.chat,
        platform_message_id=f"manual-{uuid.uuid4().hex[:8]}",
        platform_at=datetime.now(UTC),
        author=Author(id="troll", name="Troll"),
        text=text,
    )
    await stack.bus.add_ingest(seeded.event.id, [env.to_json()])
    return env.row_id


async def wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await predicate():
        assert loop.time() < end, "timed out"
        await asyncio.sleep(0.05)


async def action_status(stack: Stack, action_id: str) -> tuple[str, str | None]:
    async with stack.db.sessions() as session:
        row = await session.get(ModerationAction, action_id, populate_existing=True)
        assert row is not None
        return row.status, row.reason


async def test_platform_actions_round_trip_done_failed_and_not_supported(
    stack: Stack, seeded: Seeded, mod: httpx.AsyncClient
) -> None:
    event_id = seeded.event.id
    sources = {s.config["plays"]: s.id for s in seeded.sources[:3]}
    sim = Simulator(bus=stack.bus, event_id=event_id, sources=sources, scenario="smoke", speed=200)
    worker = PipelineWorker(stack.bus, stack.db, consumer="w", gauge_interval_s=0.2)
    await stack.bus.mark_event_active(event_id)
    tasks = [asyncio.create_task(sim.run()), asyncio.create_task(worker.run())]
    try:
        twitch = sources["twitch"]

        async def simulated_message() -> bool:
            async with stack.db.sessions() as session:
                return (
                    await session.scalar(
                        select(ChatMessage.id).where(ChatMessage.source_id == twitch).limit(1)
                    )
                ) is not None

        await wait_for(simulated_message)
        async with stack.db.sessions() as session:
            real = await session.scalar(
                select(ChatMessage.id).where(ChatMessage.source_id == twitch).limit(1)
            )
        never_sent = await ingest_chat(stack, seeded, 0, "not the simulator's")
        on_qa = await ingest_chat(stack, seeded, 3, "from the Q&A tool")

        async def stored(mid: str) -> bool:
            async with stack.db.sessions() as session:
                return await session.get(ChatMessage, mid) is not None

        await wait_for(lambda: stored(never_sent))
        await wait_for(lambda: stored(on_qa))

        done = (
            await mod.post(f"/api/events/{event_id}/chat/{real}/actions", json={"type": "delete"})
        ).json()
        failed = (
            await mod.post(
                f"/api/events/{event_id}/chat/{never_sent}/actions", json={"type": "delete"}
            )
        ).json()
        unsupported = (
            await mod.post(f"/api/events/{event_id}/chat/{on_qa}/actions", json={"type": "ban"})
        ).json()
        assert done["status"] == failed["status"] == "pending"
        assert unsupported["status"] == "not_supported" and "cannot ban" in unsupported["reason"]

        async def answered(action_id: str) -> bool:
            return (await action_status(stack, action_id))[0] != "pending"

        await wait_for(lambda: answered(done["id"]))
        await wait_for(lambda: answered(failed["id"]))
        assert (await action_status(stack, done["id"]))[0] == "done"
        status, reason = await action_status(stack, failed["id"])
        assert status == "failed" and "unknown message" in (reason or "")

        batches = await stack.bus.read_live(event_id, 0, block_ms=10, count=100_000)
        results = {
            d["data"]["action_id"]: d["data"]["status"]
            for b in batches
            for d in map(orjson.loads, b.items)
            if d["type"] == "moderation.result"
        }
        assert results[done["id"]] == "done" and results[failed["id"]] == "failed"
        assert results[unsupported["id"]] == "not_supported"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_hide_unhide_and_the_hold_queue(
    stack: Stack, seeded: Seeded, mod: httpx.AsyncClient
) -> None:
    event_id = seeded.event.id
    worker = PipelineWorker(stack.bus, stack.db, consumer="w")
    ids = [await ingest_chat(stack, seeded, 0, f"line {i}") for i in range(3)]
    await worker.process(await stack.bus.read_ingest("w", [event_id], 10, block_ms=100))
    chat = f"/api/events/{event_id}/chat"
    hidden = (await mod.post(f"{chat}/{ids[0]}/hide", json={"version": 1})).json()
    assert (hidden["hidden"], hidden["version"]) == (True, 2)
    shown = (await mod.post(f"{chat}/{ids[0]}/unhide", json={"version": 2})).json()
    assert (shown["hidden"], shown["version"]) == (False, 3)
    not_held = await mod.post(f"{chat}/{ids[1]}/release", json={"version": 1})
    assert not_held.status_code == 409 and not_held.json()["error"]["code"] == "not_held"

    async with stack.db.sessions() as session:
        await session.execute(
            update(ChatMessage).where(ChatMessage.id.in_(ids[1:])).values(held=True)
        )
        await session.commit()
    queue = (await mod.get(f"/api/events/{event_id}/chat/held")).json()
    assert [m["id"] for m in queue] == ids[1:]
    first = await mod.get(f"/api/events/{event_id}/chat/held", params={"limit": 1})
    assert [m["id"] for m in first.json()] == ids[1:2]  # the oldest first
    assert first.headers["X-Total-Count"] == "2"  # and how many wait in all
    released = (await mod.post(f"{chat}/{ids[1]}/release", json={"version": 1})).json()
    rejected = (await mod.post(f"{chat}/{ids[2]}/reject", json={"version": 1})).json()
    assert (released["held"], released["hidden"]) == (False, False)
    assert (rejected["held"], rejected["hidden"]) == (False, True)
    assert (await mod.get(f"/api/events/{event_id}/chat/held")).json() == []


async def test_two_moderators_on_one_line_at_once_one_wins_the_other_gets_409(
    stack: Stack, seeded: Seeded, clients: tuple[httpx.AsyncClient, ...]
) -> None:
    mod, ana = clients
    event_id = seeded.event.id
    worker = PipelineWorker(stack.bus, stack.db, consumer="w")
    mid = await ingest_chat(stack, seeded, 0, "is this thing on")
    await worker.process(await stack.bus.read_ingest("w", [event_id], 10, block_ms=100))
    chat = f"/api/events/{event_id}/chat/{mid}"
    # Both saw version 1: one hides, the other (unaware) un-hides.
    a, b = await asyncio.gather(
        mod.post(f"{chat}/hide", json={"version": 1}),
        ana.post(f"{chat}/unhide", json={"version": 1}),
    )
    assert sorted([a.status_code, b.status_code]) == [200, 409]
    winner, loser = (a, b) if a.status_code == 200 else (b, a)
    error = loser.json()["error"]
    assert error["code"] == "version_conflict"
    assert error["current"] == winner.json()  # the loser sees what the winner made of it
    stale = await mod.post(f"{chat}/hide", json={"version": 1})
    assert stale.status_code == 409
    missing = await mod.post(f"{chat}/hide")
    assert missing.status_code == 422 and "send a JSON body" in missing.text
