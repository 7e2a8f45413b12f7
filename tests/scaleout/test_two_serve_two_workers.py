"""Scale-out: two `serve` and two `worker` processes on one Redis and one PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from app.auth import service as auth
from app.auth.models import Role
from app.events import service as events
from tests.conftest import REDIS_URL, Stack, free_port
from tests.wsclient import login_cookie, open_console, recv_json

pytestmark = pytest.mark.slow
TOPICS = ["chat", "questions", "sources"]  # never coalesced: every instance sends all of them


@contextlib.contextmanager
def processes(specs: list[list[str]], env: dict[str, str], logs: Path) -> Iterator[list[Any]]:
    procs = []
    try:
        for i, args in enumerate(specs):
            out = open(logs / f"proc{i}.log", "wb")  # noqa: SIM115
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "app.cli", *args], env=env, stdout=out, stderr=out
                )
            )
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


async def wait_ready(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise AssertionError(f"{base_url} never became ready")


async def collect(ws: Any, seconds: float) -> list[tuple[int, str, str]]:
    items: list[tuple[int, str, str]] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            frame = await recv_json(ws, left)
        except TimeoutError:
            break
        if frame["type"] == "batch":
            # Sources' health deltas carry a source_id, not an id; every console gets them too.
            items += [
                (i["seq"], i["type"], i["data"].get("id") or i["data"]["source_id"])
                for i in frame["items"]
            ]
    return items


@pytest.mark.parametrize("backend", ["real"], indirect=True)
async def test_consoles_on_two_serves_see_the_same_deltas_from_either_worker(
    stack: Stack, tmp_path: Path
) -> None:
    async with stack.db.sessions() as session:
        await auth.create_user(session, "ops", "ops-pass", Role.admin)
        event = await events.create_event(session, "scale", "Scale-out")
        for platform in ("twitch", "youtube", "zoom"):
            await events.add_source(
                session,
                event,
                "simulator",
                platform,
                config={"plays": platform, "scenario": "smoke", "speed": 10, "loop": True},
            )
        await session.commit()

    env = {
        **os.environ,
        "CONTROLROOM_DATABASE_URL": stack.settings.database_url,
        "CONTROLROOM_REDIS_URL": REDIS_URL,
        "CONTROLROOM_REDIS_NAMESPACE": stack.settings.redis_namespace,
        "CONTROLROOM_SECRET_KEY": "scale-secret",
        "CONTROLROOM_LOG_LEVEL": "warning",
    }
    ports = [free_port(), free_port()]
    specs = [["serve", "--port", str(p)] for p in ports] + [["worker"], ["worker"]]
    with processes(specs, env, tmp_path) as procs:
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        for base in bases:
            await wait_ready(base)
        cookie = await login_cookie(bases[0], "ops", "ops-pass")  # valid on both: shared secret
        consoles = [
            await open_console(b.replace("http", "ws"), event.id, cookie, topics=TOPICS)
            for b in bases
        ]
        hellos = [await recv_json(ws, 10) for ws in consoles]
        assert all(h["type"] == "hello" for h in hellos)

        first = await asyncio.gather(*(collect(ws, 6) for ws in consoles))
        start = max(h["seq"] for h in hellos)
        common = [[i for i in items if i[0] > start] for items in first]
        end = min(items[-1][0] for items in common if items)
        a, b = ([i for i in items if i[0] <= end] for items in common)
        assert len(a) > 20, "the simulator should be feeding the event"
        assert a == b, "both serve processes must deliver the same deltas in the same order"
        assert len({(t, i) for _, t, i in a}) == len(a), "no delta twice"

        # Kill the worker that runs the simulator: the other takes it over.
        redis = aioredis.from_url(REDIS_URL)
        lease = f"{stack.settings.redis_namespace}:lease:connector:simulator:{event.id}"
        owner = (await redis.get(lease)).decode()
        await redis.aclose()
        pid = int(owner.split("-")[-2])
        victim = next(p for p in procs[2:] if p.pid == pid)
        victim.kill()
        later = await asyncio.gather(*(collect(ws, 16) for ws in consoles))
        # The two windows close a moment apart: compare up to the last seq both saw.
        common_end = min(items[-1][0] for items in later if items)
        later = [[i for i in items if i[0] <= common_end] for items in later]
        assert later[0] == later[1]
        assert len(later[0]) > 10, "the surviving worker should have taken over the simulator"
        for ws in consoles:
            await ws.close()
