"""A worker process killed mid-stream loses nothing: the next one finishes its work."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select

from app.chat.models import ChatMessage
from app.connectors.simulator import simulated_envelopes
from tests.conftest import REDIS_URL, Seeded, Stack
from tests.scaleout.test_two_serve_two_workers import processes

pytestmark = pytest.mark.slow


async def chat_rows(stack: Stack) -> int:
    async with stack.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ChatMessage)) or 0)


@pytest.mark.parametrize("backend", ["real"], indirect=True)
async def test_killed_worker_loses_nothing(stack: Stack, seeded: Seeded, tmp_path: Path) -> None:
    event_id = seeded.event.id
    sources = {s.config["plays"]: s.id for s in seeded.sources[:3]}
    envelopes = list(simulated_envelopes(event_id, sources, 8000, scenario="demo", seed=7))
    chat_ids = {e.row_id for e in envelopes if e.kind == "chat"}
    await stack.bus.mark_event_active(event_id)
    await stack.bus.add_ingest(event_id, [e.to_json() for e in envelopes])

    env = {
        **os.environ,
        "CONTROLROOM_DATABASE_URL": stack.settings.database_url,
        "CONTROLROOM_REDIS_URL": REDIS_URL,
        "CONTROLROOM_REDIS_NAMESPACE": stack.settings.redis_namespace,
        "CONTROLROOM_WORKER_BATCH": "50",
    }
    with processes([["worker"]], env, tmp_path) as (first,):
        for _ in range(1000):
            if await chat_rows(stack) > 0:
                break
            await asyncio.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    done_by_first = await chat_rows(stack)
    assert 0 < done_by_first < len(chat_ids), "kill it mid-stream"

    with processes([["worker"]], env, tmp_path / "..") as (_second,):
        for _ in range(600):
            # Acknowledged only after commit and publish: wait for both.
            if await stack.bus.ingest_backlog(event_id) == 0:
                break
            await asyncio.sleep(0.1)
    assert await chat_rows(stack) == len(chat_ids)
    assert await stack.bus.ingest_backlog(event_id) == 0
    batches = await stack.bus.read_live(event_id, 0, block_ms=10, count=100_000)
    published = {
        d["data"]["id"]
        for b in batches
        for d in map(orjson.loads, b.items)
        if d["type"] == "chat.message"
    }
    assert published == chat_ids, "every message reached the live stream"
