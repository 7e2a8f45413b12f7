"""Audience votes: 5,000 audience-page voters within 10 s, on Redis + PostgreSQL.

`python -m bench.audience_votes` (also run by `make bench`, after bench.live10):

1. setup: a fresh PostgreSQL database (cr_bench_votes, migrated) and Redis db, an admin
   with an API token, one event, its audience code, a single-choice poll launched;
2. one `controlroom serve` and the `controlroom worker` processes (as bench.live10);
   10 console WebSockets subscribed to "polls";
3. 5,000 voters, started evenly over 10 s: each GETs /api/a/{code} for its cookie, then
   POSTs one vote with a random choice.

Acceptance: every vote counted once (5,000 distinct voters in the stored votes and in
the final poll.results), and on every console the poll.results with total_voters =
5,000 within 1 s of the last vote's 202; and the last vote taken (202) no later than
0.5 s after the 10 s window, so the voters really voted within it. Writes bench/results/audience_votes.json.

All the voters come from 127.0.0.1, so the serve process is started with
CONTROLROOM_AUDIENCE_IP_VOTES_PER_10S raised above the voter count: the per-IP limit
(300 per 10 s by default) is there for one venue's address, not for a load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import statistics
import sys
import time
import uuid
from collections import Counter
from typing import Any

import asyncpg
import httpx
import orjson
import psutil
import redis.asyncio as aioredis
import websockets

from bench.common import raise_nofile
from bench.http1 import Connection, Http1Error
from bench.live10 import (
    RESULTS,
    VENV_BIN,
    Procs,
    free_port,
    fresh_database,
    say,
    wait_ready,
)

REDIS_URL = os.environ.get("BENCH_VOTES_REDIS_URL", "redis://127.0.0.1:6379/12")
DB_NAME = "cr_bench_votes"
TARGET_S = 1.0
PACE_SLACK_S = 0.5  # the last vote's 202 may come this long after the window closes
OPTIONS = ["Red", "Green", "Blue", "Yellow"]


async def seed(url: str) -> tuple[str, str]:
    """An admin with an API token and one event it is a host of: (token, event id)."""
    from app.auth import service as auth
    from app.auth.models import Role
    from app.db import Database
    from app.events import service as events

    db = Database(url)
    async with db.sessions() as session:
        user = await auth.create_user(session, "bench", secrets.token_urlsafe(12), Role.admin)
        token = await auth.create_api_token(session, user, "bench")
        event = await events.create_event(session, "votes", "Audience votes bench")
        await events.add_member(session, event, user.id, Role.host.value)
        event_id = event.id
        await session.commit()
    await db.dispose()
    return token, event_id


async def launch_poll(base: str, token: str, event_id: str) -> tuple[str, str]:
    """The event's audience code and a launched single-choice poll: (code, poll id)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10.0) as http:
        resp = await http.post(f"/api/events/{event_id}/audience")
        resp.raise_for_status()
        code = resp.json()["code"]
        resp = await http.post(
            f"/api/events/{event_id}/polls",
            json={
                "title": "Favourite colour",
                "kind": "single",
                "options": OPTIONS,
                "duration_s": 600,
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        resp.raise_for_status()
        poll = resp.json()
        resp = await http.post(
            f"/api/events/{event_id}/polls/{poll['id']}/launch",
            json={"version": poll["version"]},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        resp.raise_for_status()
        return code, str(poll["id"])


class Console:
    """One console socket on topic "polls": when it first saw total_voters >= goal."""

    def __init__(self, n: int, goal: int) -> None:
        self.n = n
        self.goal = goal
        self.done_at: float | None = None
        self.last: dict[str, Any] | None = None
        self.results_items = 0
        self.done = asyncio.Event()
        self.ready = asyncio.Event()

    async def run(self, ws_url: str, event_id: str, token: str, poll_id: str) -> None:
        async with websockets.connect(
            f"{ws_url}/ws/events/{event_id}",
            additional_headers={"Authorization": f"Bearer {token}"},
            max_size=None,
            compression=None,
        ) as ws:
            await ws.send(orjson.dumps({"type": "subscribe", "topics": ["polls"], "since": None}))
            self.ready.set()
            async for raw in ws:
                now = time.monotonic()
                frame = orjson.loads(raw)
                if frame.get("type") != "batch":
                    continue
                for item in frame["items"]:
                    if item.get("type") != "poll.results":
                        continue
                    data = item["data"]
                    if data.get("poll_id") != poll_id:
                        continue
                    self.results_items += 1
                    self.last = data
                    if self.done_at is None and data["total_voters"] >= self.goal:
                        self.done_at = now
                        self.done.set()


class Voters:
    """The audience: a pool of keep-alive connections that voters take turns on."""

    def __init__(self, port: int, code: str, poll_id: str, connections: int) -> None:
        self.code, self.poll_id = code, poll_id
        self.pool: asyncio.Queue[Connection] = asyncio.Queue()
        for _ in range(connections):
            self.pool.put_nowait(Connection("127.0.0.1", port))
        self.outcomes: Counter[str] = Counter()
        self.sent: list[float] = []
        self.accepted: list[float] = []
        self.timings: dict[str, list[float]] = {"get": [], "post": []}

    async def load_page(self, conn: Connection) -> str | None:
        """GETs the page as a new browser does; its client id cookie."""
        t0 = time.monotonic()
        reply = await conn.request("GET", f"/api/a/{self.code}")
        self.timings["get"].append(time.monotonic() - t0)
        cookie = reply.cookie("cr_audience")
        if reply.status != 200 or cookie is None:
            self.outcomes[f"page_{reply.status}"] += 1
        return cookie

    async def vote(self, at: float, cookie: str | None) -> None:
        """At `at`: the page (unless loaded before), then one vote with a random choice."""
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        conn = await self.pool.get()
        try:
            if cookie is None:
                cookie = await self.load_page(conn)
                if cookie is None:
                    return
            body = orjson.dumps({"poll_id": self.poll_id, "choices": [random.randint(1, 4)]})
            self.sent.append(time.monotonic())
            reply = await conn.request(
                "POST",
                f"/api/a/{self.code}/votes",
                body=body,
                headers={"Cookie": f"cr_audience={cookie}"},
            )
            now = time.monotonic()
            self.timings["post"].append(now - self.sent[-1])
            self.outcomes[f"vote_{reply.status}"] += 1
            if reply.status == 202:
                self.accepted.append(now)
        except Http1Error as exc:
            self.outcomes[type(exc).__name__] += 1
        finally:
            self.pool.put_nowait(conn)

    async def preload(self) -> str | None:
        conn = await self.pool.get()
        try:
            return await self.load_page(conn)
        finally:
            self.pool.put_nowait(conn)

    def close(self) -> None:
        while not self.pool.empty():
            self.pool.get_nowait().close()


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds each process has used so far."""
    used = {}
    for name, pid in pids.items():
        times = psutil.Process(pid).cpu_times()
        used[name] = times.user + times.system
    return used


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(a: argparse.Namespace) -> dict[str, Any]:
    raise_nofile()
    db_url = await fresh_database(DB_NAME)
    r = aioredis.from_url(REDIS_URL)
    await r.flushdb()
    await r.aclose()
    token, event_id = await seed(db_url)
    say("setup", f"database {DB_NAME} migrated, Redis {REDIS_URL} flushed, event seeded")

    env = dict(os.environ)
    env.update(
        CONTROLROOM_DATABASE_URL=db_url,
        CONTROLROOM_REDIS_URL=REDIS_URL,
        CONTROLROOM_SECRET_KEY=secrets.token_urlsafe(32),
        CONTROLROOM_LOG_LEVEL="warning",
        # Every bench voter comes from 127.0.0.1: the per-IP limit (300 per 10 s by
        # default, one venue's address) would refuse all but the first 300.
        CONTROLROOM_AUDIENCE_IP_VOTES_PER_10S=str(max(300, a.voters * 2)),
        PYTHONUNBUFFERED="1",
    )
    procs = Procs(env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    pg = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        serve = await procs.start(
            "votes-serve", [str(VENV_BIN / "controlroom"), "serve", "--port", str(port)]
        )
        workers = [
            await procs.start(f"votes-worker-{i}", [str(VENV_BIN / "controlroom"), "worker"])
            for i in range(a.workers)
        ]
        await wait_ready(base)
        say("serve", f"serve pid {serve.pid} on :{port}; workers {[w.pid for w in workers]}")
        code, poll_id = await launch_poll(base, token, event_id)
        say("setup", f"audience code {code}, poll {poll_id} launched")

        consoles = [Console(i, a.voters) for i in range(a.consoles)]
        tasks = []
        for c in consoles:
            tasks.append(
                asyncio.create_task(c.run(f"ws://127.0.0.1:{port}", event_id, token, poll_id))
            )
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in consoles)), 15)
        await asyncio.sleep(1.0)  # the hellos are in
        say("vote", f"{a.consoles} consoles on 'polls'; {a.voters:,} voters over {a.spread} s")

        audience = Voters(port, code, poll_id, a.connections)
        cookies: list[str | None] = [None] * a.voters
        if a.cookies_first:
            t0 = time.monotonic()
            cookies = list(await asyncio.gather(*(audience.preload() for _ in cookies)))
            say("vote", f"pages loaded (cookies) in {time.monotonic() - t0:.1f} s")
        step = a.spread / a.voters
        start = time.monotonic() + 0.2
        watched = {"serve": serve.pid, **{f"worker-{i}": w.pid for i, w in enumerate(workers)}}
        watched["load"] = os.getpid()
        cpu_before = cpu_seconds(watched)
        await asyncio.gather(*(audience.vote(start + i * step, c) for i, c in enumerate(cookies)))
        audience.close()
        cpu = {
            name: round(after - cpu_before[name], 2) for name, after in cpu_seconds(watched).items()
        }
        outcomes, accepted, sent, timings = (
            audience.outcomes,
            audience.accepted,
            audience.sent,
            audience.timings,
        )
        last_202 = max(accepted) if accepted else time.monotonic()
        say(
            "vote",
            f"{len(accepted):,} votes accepted; first vote sent {sent[0] - start:.2f} s, "
            f"last 202 at {last_202 - start:.2f} s after start; {dict(outcomes)}",
        )

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(c.done.wait() for c in consoles)), a.wait_results
            )
        await asyncio.sleep(0.5)  # any later poll.results (there should be none changing it)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

        stored = await pg.fetchrow(
            "SELECT count(*) AS n, count(DISTINCT voter) AS d FROM vote WHERE poll_id = $1",
            poll_id,
        )
    finally:
        await procs.stop_all()
        await pg.close()

    lat = [c.done_at - last_202 for c in consoles if c.done_at is not None]
    missing = sum(1 for c in consoles if c.done_at is None)
    final = [c.last for c in consoles if c.last is not None]
    final_totals = sorted({int(f["total_voters"]) for f in final})
    final_sum_ok = all(sum(o["votes"] for o in f["options"]) == f["total_voters"] for f in final)
    p50 = pct(lat, 0.5)
    worst = max(lat) if lat else None
    counted_once = (
        len(accepted) == a.voters
        and stored["n"] == a.voters
        and stored["d"] == a.voters
        and final_totals == [a.voters]
        and final_sum_ok
    )
    # The server kept pace: the last vote was taken within the window (and a little).
    kept_pace = last_202 - start <= a.spread + PACE_SLACK_S
    passed = counted_once and kept_pace and missing == 0 and worst is not None and worst <= TARGET_S
    return {
        "config": {
            "voters": a.voters,
            "spread_s": a.spread,
            "consoles": a.consoles,
            "workers": a.workers,
            "connections": a.connections,
            "cookies_first": a.cookies_first,
            "audience_ip_votes_per_10s": env["CONTROLROOM_AUDIENCE_IP_VOTES_PER_10S"],
            "cores": os.cpu_count(),
        },
        "votes_accepted_202": len(accepted),
        "outcomes": dict(outcomes),
        "vote_window_s": round(last_202 - start, 3),
        "kept_pace": kept_pace,
        "request_s": {
            k: {"p50": round(pct(v, 0.5) or 0, 3), "max": round(max(v, default=0), 3)}
            for k, v in timings.items()
        },
        "cpu_s_during_voting": cpu,
        "votes_stored": stored["n"],
        "distinct_voters_stored": stored["d"],
        "final_total_voters_on_consoles": final_totals,
        "final_option_votes_sum_to_total": final_sum_ok,
        "results_items_per_console": statistics.mean(c.results_items for c in consoles),
        "consoles_without_final_results": missing,
        "last_vote_to_results_s": {
            "p50": None if p50 is None else round(p50, 3),
            "max": None if worst is None else round(worst, 3),
            "per_console": [round(x, 3) for x in lat],
            "target": TARGET_S,
        },
        "every_vote_counted_once": counted_once,
        "pass": passed,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.audience_votes", description=__doc__)
    p.add_argument("--voters", type=int, default=5000)
    p.add_argument("--spread", type=float, default=10.0, help="seconds the voters start over")
    p.add_argument("--consoles", type=int, default=10)
    p.add_argument("--workers", type=int, default=2, help="controlroom worker processes")
    p.add_argument("--connections", type=int, default=200, help="voters' HTTP connection pool")
    p.add_argument(
        "--cookies-first",
        action="store_true",
        help="load every voter's page (its cookie) before the voting window, not in it",
    )
    p.add_argument(
        "--wait-results", type=float, default=30.0, help="seconds to wait for the final results"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    result = asyncio.run(run(a))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "audience_votes.json"
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    lat = result["last_vote_to_results_s"]
    print(
        f"\naccepted {result['votes_accepted_202']:,}/{a.voters:,} (202) in "
        f"{result['vote_window_s']} s; stored {result['votes_stored']:,} votes, "
        f"{result['distinct_voters_stored']:,} distinct voters; consoles' final "
        f"total_voters {result['final_total_voters_on_consoles']}\n"
        f"last 202 -> poll.results total_voters={a.voters:,} on {a.consoles} consoles: "
        f"p50 {lat['p50']} s, max {lat['max']} s (target <= {TARGET_S} s; "
        f"{result['consoles_without_final_results']} consoles never saw it)\n"
        f"CPU seconds while voting: {result['cpu_s_during_voting']}\n"
        f"{'PASS' if result['pass'] else 'FAIL'}; wrote {out.relative_to(RESULTS.parent.parent)}",
        flush=True,
    )
    sys.exit(0 if result["pass"] else 1)


if __name__ == "__main__":
    main()
