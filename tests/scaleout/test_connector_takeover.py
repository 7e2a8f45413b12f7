"""A worker holding a connector's lease is killed: the other takes over and no message is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select

from app.chat.models import ChatMessage
from app.events import service as events
from tests.conftest import REDIS_URL, Stack
from tests.fakes.youtube import FakeYouTube, serve
from tests.scaleout.test_two_serve_two_workers import processes

pytestmark = pytest.mark.slow
T = TypeVar("T")


def owner_pid(owner: str) -> int:
    """Workers own leases as f"{hostname}-{pid}-{id:x}" (PipelineWorker.consumer)."""
    return int(owner.rsplit("-", 2)[1])


async def stored_counts(stack: Stack, source_id: str) -> dict[str, int]:
    async with stack.db.sessions() as session:
        rows = await session.execute(
            select(ChatMessage.platform_message_id, func.count())
            .where(ChatMessage.source_id == source_id)
            .group_by(ChatMessage.platform_message_id)
        )
        return {pmid: int(n) for pmid, n in rows.all()}


async def wait_for(
    check: Callable[[], Awaitable[T | None]], timeout: float, what: str, step: float = 0.1
) -> T:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = await check()
        if value:  # a pid, or True
            return value
        await asyncio.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("backend", ["real"], indirect=True)
async def test_killed_lease_holder_hands_the_chat_over_without_loss(
    stack: Stack, tmp_path: Path
) -> None:
    fake = FakeYouTube(polling_interval_ms=100)
    async with serve(fake) as server:
        async with stack.db.sessions() as session:
            event = await events.create_event(session, "takeover", "Takeover")
            source = await events.add_source(
                session,
                event,
                "youtube",
                "YouTube",
                config={
                    "api_base": f"{server.base_url}/youtube/v3",
                    "video_id": fake.video_id,
                    "daily_quota": 1_000_000_000,  # 10 polls a second: no real quota lasts
                },
            )
            source.credentials = {"access_token": "good-access-token"}
            await session.commit()
        source_id = source.id
        lease_key = f"{stack.settings.redis_namespace}:lease:connector:{source_id}"
        env = {
            **os.environ,
            "CONTROLROOM_DATABASE_URL": stack.settings.database_url,
            "CONTROLROOM_REDIS_URL": REDIS_URL,
            "CONTROLROOM_REDIS_NAMESPACE": stack.settings.redis_namespace,
        }
        redis = aioredis.from_url(REDIS_URL)
        stop = asyncio.Event()
        chatter = asyncio.create_task(fake.chat_steadily(20, stop))
        try:
            with processes([["worker"], ["worker"]], env, tmp_path) as workers:
                by_pid = {w.pid: w for w in workers}

                async def holder() -> int | None:
                    owner = await redis.get(lease_key)
                    if isinstance(owner, bytes):
                        owner = owner.decode()
                    return owner_pid(owner) if owner else None

                first_pid = await wait_for(holder, 20, "a worker to take the lease")
                assert first_pid in by_pid, "the lease owner names one of our workers"
                await wait_for(lambda: _some(stack, source_id), 15, "the first holder's messages")
                by_pid[first_pid].send_signal(signal.SIGKILL)
                killed_at = time.monotonic()

                async def taken_over() -> bool | None:
                    pid = await holder()
                    return pid is not None and pid != first_pid

                await wait_for(taken_over, 15, "the other worker to take the lease")
                takeover_s = time.monotonic() - killed_at
                second_pid = await holder()
                assert second_pid in by_pid and second_pid != first_pid
                assert takeover_s <= 10, f"lease taken over after {takeover_s:.1f} s"

                # Let the new holder read a while, then stop the chat and let it drain.
                await asyncio.sleep(1.0)
                stop.set()
                sent = await chatter

                async def all_stored() -> bool | None:
                    return len(await stored_counts(stack, source_id)) >= len(sent)

                await wait_for(all_stored, 20, "every message to be stored", step=0.25)
                counts = await stored_counts(stack, source_id)
        finally:
            stop.set()
            await asyncio.gather(chatter, return_exceptions=True)
            await redis.aclose()

    print(f"lease taken over {takeover_s:.1f} s after SIGKILL; {len(sent)} messages")
    assert set(counts) == set(sent), "every message the platform sent is stored"
    assert all(n == 1 for n in counts.values()), "and each exactly once"
    assert sum(counts.values()) == len(sent)
    assert fake.early_polls == 0
    backlog_reads = [c for c in fake.list_calls if c.status == 200 and c.token is None]
    assert len(backlog_reads) == 1, "the new holder resumed from the saved page token"


async def _some(stack: Stack, source_id: str) -> bool:
    return len(await stored_counts(stack, source_id)) > 0
