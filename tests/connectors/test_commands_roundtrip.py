"""A console action travels the command stream to the connector and its result comes back."""

from __future__ import annotations

import asyncio

import orjson

from app.connectors.base import Action
from app.connectors.simulator import Simulator
from app.pipeline.worker import PipelineWorker
from tests.conftest import Seeded, Stack


async def test_moderation_command_result_reaches_the_live_stream(
    stack: Stack, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    sources = {s.config["plays"]: s.id for s in seeded.sources[:3]}
    sim = Simulator(bus=stack.bus, event_id=event_id, sources=sources, scenario="smoke", speed=1000)
    worker = PipelineWorker(stack.bus, stack.db, consumer="w1")
    twitch = sources["twitch"]
    runner = asyncio.create_task(sim.run())
    try:
        # Let it play a little so there is a message to delete.
        produced: list[str] = []
        for _ in range(100):
            entries = await stack.bus.read_ingest("w1", [event_id], 500, block_ms=50)
            await worker.process(entries)
            produced += [
                orjson.loads(e.payload)["platform_message_id"]
                for e in entries
                if orjson.loads(e.payload)["source_id"] == twitch
                and orjson.loads(e.payload)["kind"] == "chat"
            ]
            if produced:
                break
        assert produced, "the simulator produced no twitch chat"
        await stack.bus.add_command(
            event_id, twitch, Action("a1", "delete", twitch, {"message_id": produced[0]}).to_json()
        )
        await stack.bus.add_command(
            event_id, twitch, Action("a2", "pin", twitch, {"message_id": produced[0]}).to_json()
        )
        results: dict[str, dict] = {}
        for _ in range(100):
            entries = await stack.bus.read_ingest("w1", [event_id], 500, block_ms=50)
            await worker.process(entries)
            batches = await stack.bus.read_live(event_id, 0, block_ms=10, count=10_000)
            for batch in batches:
                for item in batch.items:
                    delta = orjson.loads(item)
                    if delta["type"] == "moderation.result":
                        results[delta["data"]["action_id"]] = delta["data"]
            if len(results) == 2:
                break
        assert results["a1"]["status"] == "done" and results["a1"]["action"] == "delete"
        assert results["a2"]["status"] == "not_supported"
        assert "pin" in results["a2"]["reason"]
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
