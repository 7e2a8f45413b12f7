"""Live-10: 10 events x 50 consoles, ~1,000 chat msgs/s per event, on Redis + PostgreSQL.

`python -m bench.live10` (or `make bench`) runs, in about four minutes:

1. setup: a fresh PostgreSQL database (cr_bench, migrated) and Redis db, a moderator
   with an API token, 10 events of three sources each, one idle event;
2. ours: `controlroom worker` process(es) and one `controlroom serve`; the feeder process
   paces simulated envelopes into the ingest streams (the connectors' path); console
   client processes hold 500 WebSocket consoles; after a warm-up, a steady window
   measures ingest, deliveries, latency, gaps/duplicates and the servers' CPU;
3. naive: the same feed and consoles against bench/naive_peer.py (one frame per item per
   socket), a shorter window;
4. idle: a fresh serve process, 2,000 idle consoles on an event without traffic: RSS
   per console.

Prints progress and a summary, and writes bench/results/live10.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import psutil
import redis.asyncio as aioredis

from app.bus.redis import key as redis_key
from app.config import Settings
from bench.common import Hist, parse_utc, raise_nofile
from bench.live10_report import evaluate_targets, summary_table

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = Settings.model_fields
# The processes it starts inherit this environment, so they use the same namespace.
NAMESPACE = Settings().redis_namespace
RESULTS = ROOT / "bench" / "results"
LOGS = RESULTS / "logs"
VENV_BIN = Path(sys.executable).parent
PYTHON = sys.executable
PG_ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
DB_NAME = "cr_bench"
T0 = time.monotonic()


def say(phase: str, message: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {phase:<6} {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- processes --------------------------------------------------------------------


@dataclass
class Proc:
    """A child process this benchmark started; JSON-lines control for the bench ones."""

    name: str
    proc: asyncio.subprocess.Process
    log: Any
    lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def expect(self, kind: str, timeout: float) -> dict[str, Any]:
        """The next JSON line of this type (others are kept in self.lines)."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.name}: no '{kind}' within {timeout:.0f} s")
            raw = await asyncio.wait_for(self.proc.stdout.readline(), left)
            if not raw:
                raise RuntimeError(f"{self.name} exited (see {self.log.name})")
            try:
                msg = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if msg.get("type") == kind:
                return msg  # type: ignore[no-any-return]
            self.lines.append(msg)

    async def stop(self, timeout: float = 8.0) -> None:
        if self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        self.log.close()


class Procs:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.all: list[Proc] = []

    async def start(self, name: str, argv: list[str], *, control: bool = False) -> Proc:
        LOGS.mkdir(parents=True, exist_ok=True)
        log = (LOGS / f"{name}.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if control else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if control else log,
            stderr=log,
            env=self.env,
            cwd=ROOT,
            limit=64 * 1024 * 1024,
        )
        p = Proc(name, proc, log)
        self.all.append(p)
        return p

    async def stop_all(self) -> None:
        await asyncio.gather(*(p.stop() for p in self.all), return_exceptions=True)


async def wait_ready(base: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=2.0) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{base} not ready within {timeout:.0f} s")


# -- setup ------------------------------------------------------------------------


async def fresh_database(name: str = DB_NAME) -> str:
    """Drops and creates database `name`, migrates it to head; returns its async URL."""
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    from app.cli import migrate

    await asyncio.to_thread(migrate, Settings(database_url=url))
    return url


async def seed(url: str, n_events: int) -> tuple[str, list[dict[str, Any]], str]:
    """A moderator with an API token, the events with their sources, one idle event."""
    from app.auth import service as auth
    from app.auth.models import Role
    from app.db import Database
    from app.events import service as events

    db = Database(url)
    out: list[dict[str, Any]] = []
    async with db.sessions() as session:
        user = await auth.create_user(session, "bench", secrets.token_urlsafe(12), Role.moderator)
        token = await auth.create_api_token(session, user, "bench")
        for i in range(n_events + 1):
            event = await events.create_event(session, f"bench-{i}", f"Live-10 event {i}")
            sources = {}
            # platform "bench": no connector builder, so the workers run none for them;
            # the feeder stands in for the connectors.
            for platform in ("twitch", "youtube", "zoom"):
                source = await events.add_source(session, event, "bench", platform)
                sources[platform] = source.id
            await events.add_member(session, event, user.id, Role.moderator.value)
            out.append({"id": event.id, "sources": sources})
        await session.commit()
    await db.dispose()
    idle = out.pop()
    return token, out, idle["id"]


# -- measurements -----------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    try:
        t = psutil.Process(pid).cpu_times()
        return float(t.user + t.system)
    except psutil.Error:
        return 0.0


def pids_named(name: str) -> list[int]:
    out = []
    for p in psutil.process_iter(["name"]):
        if p.info["name"] == name:
            out.append(p.pid)
    return out


class CpuProbe:
    """CPU seconds of named groups of processes, between two snapshots."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups

    def snapshot(self) -> dict[str, Any]:
        snap: dict[str, Any] = {"t": time.monotonic()}
        for group, pids in self.groups.items():
            snap[group] = {pid: cpu_seconds(pid) for pid in pids}
        for shared, name in (("redis", "redis-server"), ("postgres", "postgres")):
            snap[shared] = {pid: cpu_seconds(pid) for pid in pids_named(name)}
        t = psutil.cpu_times()
        busy = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
        snap["machine"] = float(busy)  # guest time is inside user; steal is not ours
        snap["steal"] = float(getattr(t, "steal", 0.0))
        return snap

    @staticmethod
    def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        elapsed = b["t"] - a["t"]
        out: dict[str, Any] = {"elapsed_s": round(elapsed, 2)}
        for group, now in b.items():
            if group in ("t", "machine", "steal"):
                continue
            # Processes born inside the window (a new PostgreSQL backend) count in full.
            used = sum(cpu - a[group].get(pid, 0.0) for pid, cpu in now.items())
            out[group] = round(used, 3)
        out["machine"] = round(b["machine"] - a["machine"], 3)
        out["steal"] = round(b["steal"] - a["steal"], 3)
        # Whatever else ran on the machine (other people's tests on a shared box, the
        # kernel's softirq work for loopback traffic): it competes for the same 2 cores.
        known = sum(v for k, v in out.items() if k not in ("elapsed_s", "machine", "steal"))
        out["other"] = round(out["machine"] - known, 3)
        return out


async def ingest_state(r: aioredis.Redis, event_ids: list[str]) -> dict[str, int]:
    """Envelopes acknowledged by the pipeline, still owed, and deltas published."""
    acked = backlog = live = 0
    for e in event_ids:
        key = redis_key(NAMESPACE, e, "ingest")
        with contextlib.suppress(Exception):
            for g in await r.xinfo_groups(key):
                if g["name"] == b"pipeline":
                    read = int(g.get("entries-read") or 0)
                    pending = int(g["pending"])
                    acked += read - pending
                    backlog += pending + int(g.get("lag") or 0)
        live += int(await r.get(redis_key(NAMESPACE, e, "seq")) or 0)
    return {"acked": acked, "backlog": backlog, "live_seq": live}


async def chat_rows(pg: asyncpg.Connection) -> int:
    return int(await pg.fetchval("SELECT count(*) FROM chat_message"))


async def live_stream_probe(r: aioredis.Redis, event_ids: list[str], hist: Hist) -> None:
    """Times each delta from its `at` to when a blocked XREAD reader sees it on the live
    stream: the part of publish->console latency spent before the hub gets it."""
    keys = {redis_key(NAMESPACE, e, "live"): "$" for e in event_ids}
    while True:
        resp = await r.xread(keys, count=200, block=1000)
        now = time.time()
        for key, entries in resp or []:
            for entry_id, fields in entries:
                keys[key.decode()] = entry_id
                for item in fields[b"d"].split(b"\n"):
                    at = item.find(b'"at":"') + 6
                    if at > 5:
                        stamp = item[at : item.index(b'"', at)].decode()
                        hist.add((now - parse_utc(stamp)) * 1000)


TRIAGE_GRACE_S = 2.0


async def triage_actor(
    base: str,
    token: str,
    event_id: str,
    rate: float,
    actions: list[tuple[float, str, int, float]],
    outcomes: Counter[str],
) -> None:
    """A moderator approving pending questions of one event, `rate` a second: each action's
    send time and the (question id, new version) it produced go to `actions`."""
    period = 1.0 / rate
    queue: list[tuple[str, int]] = []
    path = f"/api/events/{event_id}/questions"
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=5.0) as http:
        next_t = time.monotonic()
        while True:
            next_t += period
            try:
                if not queue:
                    resp = await http.get(
                        path, params={"state": "pending", "sort": "age", "limit": 200}
                    )
                    resp.raise_for_status()
                    queue = [(q["id"], q["version"]) for q in resp.json()]
                    queue.reverse()  # pop() takes the oldest first
                if not queue:
                    outcomes["skipped_none_pending"] += 1
                else:
                    qid, version = queue.pop()
                    sent = time.time()
                    resp = await http.post(
                        f"{path}/{qid}/transition",
                        json={"to": "approved", "version": version},
                        headers={"Idempotency-Key": str(uuid.uuid4())},
                    )
                    if resp.status_code == 200:
                        q = resp.json()
                        actions.append((sent, q["id"], int(q["version"]), time.time()))
                        outcomes["ok"] += 1
                    else:
                        outcomes[f"http_{resp.status_code}"] += 1
            except httpx.HTTPError as exc:
                outcomes[type(exc).__name__] += 1
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))


def triage_summary(
    actions: list[tuple[float, str, int, float]],
    triage_reports: list[dict[str, Any]],
    outcomes: Counter[str],
) -> dict[str, Any]:
    """Action -> every first-event console's receipt of its question.updated."""
    hist = Hist()
    request = Hist()  # the REST call alone: auth, commit, publish, answer
    for sent, _qid, _version, answered in actions:
        request.add((answered - sent) * 1000)
    missing = 0
    consoles = 0
    for rep in triage_reports:
        for seen in rep["seen"]:
            consoles += 1
            for sent, qid, version, _answered in actions:
                got = seen.get(f"{qid}:{version}")
                if got is None:
                    missing += 1
                else:
                    hist.add((got - sent) * 1000)
    return {
        "triage_visible_ms": hist.summary(),
        "triage_request_ms": request.summary(),
        "triage_actions": len(actions),
        "triage_missing": missing,
        "triage_consoles": consoles,
        "triage_outcomes": dict(outcomes),
    }


def merge_clients(reports: list[dict[str, Any]], marks: list[dict[str, Any]]) -> dict[str, Any]:
    lat, e2e, first = Hist(), Hist(), Hist()
    out: dict[str, Any] = {
        k: 0
        for k in (
            "items",
            "frames",
            "bytes",
            "gaps",
            "duplicates",
            "resyncs",
            "total_gaps",
            "total_duplicates",
            "total_resyncs",
            "consoles_open",
            "closed_early",
            "late_items",
            "error_count",
        )
    }
    items_per_s = frames_per_s = bytes_per_s = 0.0
    errors: list[str] = []
    gap_events: list[Any] = []
    for rep, mark in zip(reports, marks, strict=True):
        span = max(rep["t"] - mark["t"], 1e-6)
        items_per_s += rep["items"] / span
        frames_per_s += rep["frames"] / span
        bytes_per_s += rep["bytes"] / span
        for k in out:
            out[k] += rep[k]
        lat.merge(rep["latency"])
        e2e.merge(rep["e2e"])
        first.merge(rep["first_item"])
        errors += rep["errors"]
        gap_events += rep["gap_events"]
    out.update(
        deliveries_per_s=round(items_per_s, 1),
        frames_per_s=round(frames_per_s, 1),
        mbytes_per_s=round(bytes_per_s / 1e6, 2),
        latency_ms=lat.summary(),
        e2e_latency_ms=e2e.summary(),
        first_item_latency_ms=first.summary(),
        errors=errors[:10],
        gap_events=gap_events[:10],
    )
    return out


# -- phases -----------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    procs: Procs
    token: str
    events: list[dict[str, Any]]
    idle_event: str
    redis: aioredis.Redis
    pg: asyncpg.Connection
    feeder: Proc | None = None

    @property
    def event_ids(self) -> list[str]:
        return [e["id"] for e in self.events]

    async def start_clients(
        self,
        phase: str,
        base: str,
        mode: str,
        event_ids: list[str],
        per_event: int,
        n_procs: int,
        full_per_event: int,
    ) -> tuple[list[Proc], int]:
        clients = []
        for i in range(n_procs):
            share = per_event // n_procs + (1 if i < per_event % n_procs else 0)
            full = full_per_event // n_procs + (1 if i < full_per_event % n_procs else 0)
            if share == 0:
                continue
            argv = [
                "nice",
                "-n",
                str(self.args.client_nice),
                PYTHON,
                "-m",
                "bench.console_client",
                "--base",
                base,
                "--mode",
                mode,
                "--events",
                ",".join(event_ids),
                "--per-event",
                str(share),
                "--full-per-event",
                str(min(full, share)),
                "--token",
                self.token,
            ]
            clients.append(await self.procs.start(f"{phase}-client-{i}", argv, control=True))
        connected = await asyncio.gather(*(c.expect("connected", 120) for c in clients))
        total = sum(c["consoles"] for c in connected)
        failed = sum(c["failed"] for c in connected)
        secs = max(c["seconds"] for c in connected)
        say(
            phase,
            f"{total} consoles connected in {secs:.1f} s ({failed} failed) over {len(clients)} processes",
        )
        for c in connected:
            for err in c["errors"][:2]:
                say(phase, f"  client error: {err}")
        return clients, total

    async def progress(self, phase: str, seconds: float, probe: CpuProbe | None = None) -> None:
        """Waits `seconds`, printing a progress line every 5 s."""
        end = time.monotonic() + seconds
        last = await ingest_state(self.redis, self.event_ids)
        last_t = time.monotonic()
        snap = probe.snapshot() if probe else None
        while (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(5.0, left))
            now = await ingest_state(self.redis, self.event_ids)
            dt = time.monotonic() - last_t
            line = (
                f"ingest {(now['acked'] - last['acked']) / dt:7.0f}/s  "
                f"deltas {(now['live_seq'] - last['live_seq']) / dt:7.0f}/s  "
                f"backlog {now['backlog']:7d}"
            )
            if probe and snap:
                snap2 = probe.snapshot()
                d = CpuProbe.delta(snap, snap2)
                el = d["elapsed_s"] or 1
                line += "  cpu " + " ".join(
                    f"{k}={d[k] / el:.2f}"
                    for k in (
                        "serve",
                        "workers",
                        "naive",
                        "postgres",
                        "redis",
                        "clients",
                        "other",
                        "machine",
                    )
                    if k in d
                )
                snap = snap2
            say(phase, line)
            last, last_t = now, time.monotonic()

    async def measure(
        self,
        phase: str,
        clients: list[Proc],
        probe: CpuProbe,
        window_s: float,
        triage_base: str | None = None,
    ) -> dict[str, Any]:
        """One steady window: counters and CPU snapshotted at its edges."""
        assert self.feeder is not None
        await self.feeder.send("stats")
        feed0 = await self.feeder.expect("stats", 10)
        ing0 = await ingest_state(self.redis, self.event_ids)
        rows0 = await chat_rows(self.pg)
        cpu0 = probe.snapshot()
        for c in clients:
            await c.send("mark")
        marks = await asyncio.gather(*(c.expect("marked", 20) for c in clients))
        say(phase, f"window open ({window_s:.0f} s)")
        spies = await self.start_profilers(phase, probe, window_s)
        stream_hist = Hist()
        stream_probe = asyncio.create_task(
            live_stream_probe(self.redis, self.event_ids[:2], stream_hist)
        )
        actions: list[tuple[float, str, int, float]] = []
        outcomes: Counter[str] = Counter()
        triage = None
        if triage_base is not None:
            triage = asyncio.create_task(
                triage_actor(
                    triage_base,
                    self.token,
                    self.event_ids[0],
                    self.args.triage_rate,
                    actions,
                    outcomes,
                )
            )
        await self.progress(phase, window_s, probe)
        window_end = time.monotonic()
        if triage is not None:
            triage.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await triage
        stream_probe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stream_probe
        for spy in spies:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(spy.proc.wait(), 30)
        for c in clients:
            await c.send("report")
        live_end = {
            e: int(await self.redis.get(redis_key(NAMESPACE, e, "seq")) or 0)
            for e in self.event_ids
        }
        cpu1 = probe.snapshot()
        ing1 = await ingest_state(self.redis, self.event_ids)
        rows1 = await chat_rows(self.pg)
        await self.feeder.send("stats")
        feed1 = await self.feeder.expect("stats", 10)
        reports = await asyncio.gather(*(c.expect("report", 60) for c in clients))
        cpu = CpuProbe.delta(cpu0, cpu1)
        elapsed = cpu["elapsed_s"]
        if cpu["other"] / elapsed > 0.25:
            say(
                phase,
                f"warning: {cpu['other'] / elapsed:.2f} cores used outside the benchmark's "
                "processes during the window: the numbers are disturbed",
            )
        merged = merge_clients(reports, marks)
        if triage is not None:
            await asyncio.sleep(max(0.0, window_end + TRIAGE_GRACE_S - time.monotonic()))
            keys = ",".join(f"{qid}:{version}" for _, qid, version, _done in actions)
            for c in clients:
                await c.send(f"triage {keys}")
            triage_reports = await asyncio.gather(*(c.expect("triage", 30) for c in clients))
            merged.update(triage_summary(actions, triage_reports, outcomes))
            t = merged["triage_visible_ms"]
            say(
                phase,
                f"triage: {len(actions)} actions ({dict(outcomes)}), seen on "
                f"{merged['triage_consoles']} consoles: p50 {t.get('p50')} / p99 {t.get('p99')} ms, "
                f"missing {merged['triage_missing']}",
            )
        # How far behind the live stream the consoles were when the window closed.
        furthest: dict[str, int] = {}
        least: dict[str, int] = {}
        for rep in reports:
            for e, (hi, lo) in rep["seq_reached"].items():
                furthest[e] = max(furthest.get(e, 0), hi)
                least[e] = min(least.get(e, hi), lo)
        lag = {
            "items_behind_furthest_console": sum(
                live_end[e] - furthest.get(e, 0) for e in live_end
            ),
            "items_behind_slowest_console_max": max(
                (live_end[e] - least.get(e, 0) for e in live_end), default=0
            ),
        }
        return {
            "publish_to_live_stream_ms": stream_hist.summary(),
            "console_lag_at_end": lag,
            "window_s": elapsed,
            "offered_msgs_per_s": round(
                (feed1["sent"] - feed0["sent"]) / (feed1["t"] - feed0["t"]), 1
            ),
            "feeder_max_behind": feed1["max_behind"],
            "ingest_msgs_per_s": round((ing1["acked"] - ing0["acked"]) / elapsed, 1),
            "chat_rows_per_s": round((rows1 - rows0) / elapsed, 1),
            "live_deltas_per_s": round((ing1["live_seq"] - ing0["live_seq"]) / elapsed, 1),
            "ingest_backlog_start": ing0["backlog"],
            "ingest_backlog_end": ing1["backlog"],
            "cpu_seconds": cpu,
            "cpu_cores": {k: round(v / elapsed, 3) for k, v in cpu.items() if k != "elapsed_s"},
            **merged,
        }

    async def start_profilers(self, phase: str, probe: CpuProbe, seconds: float) -> list[Proc]:
        """py-spy on server processes for the window (--profile serve|workers|naive)."""
        spy = VENV_BIN / "py-spy"
        started: list[Proc] = []
        for target in self.args.profile or []:
            for i, pid in enumerate(probe.groups.get(target, [])):
                if not spy.exists():
                    say(phase, "--profile needs py-spy: .venv/bin/pip install py-spy")
                    return started
                out = RESULTS / f"profile-{phase}-{target}-{i}.txt"
                argv = [
                    str(spy),
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(int(seconds) - 1),
                    "--rate",
                    "100",
                    "--format",
                    "raw",
                    "--output",
                    str(out),
                    "--nonblocking",
                ]
                if self.args.profile_idle:
                    argv.append("--idle")
                say(phase, f"profiling {target} pid {pid} into {out.relative_to(ROOT)}")
                started.append(await self.procs.start(f"py-spy-{phase}-{target}-{i}", argv))
        return started

    async def close_clients(self, clients: list[Proc]) -> None:
        for c in clients:
            with contextlib.suppress(Exception):
                await c.send("close")
        await asyncio.gather(*(c.expect("closed", 20) for c in clients), return_exceptions=True)
        await asyncio.gather(*(c.stop() for c in clients))


async def phase_ours(b: Bench, workers: list[Proc]) -> dict[str, Any]:
    a = b.args
    port = free_port()
    serve = await b.procs.start(
        "ours-serve", [str(VENV_BIN / "controlroom"), "serve", "--port", str(port)]
    )
    await wait_ready(f"http://127.0.0.1:{port}")
    say("ours", f"serve pid {serve.pid} ready on :{port}; workers {[w.pid for w in workers]}")
    clients, _ = await b.start_clients(
        "ours",
        f"ws://127.0.0.1:{port}",
        "ours",
        b.event_ids,
        a.consoles,
        a.client_procs,
        a.full_consoles,
    )
    assert b.feeder is not None
    await b.feeder.send("start")
    await b.feeder.expect("started", 10)
    say(
        "ours", f"feeder started: {a.rate:,.0f} env/s x {a.events} events; warm-up {a.warmup:.0f} s"
    )
    probe = CpuProbe(
        {
            "serve": [serve.pid],
            "workers": [w.pid for w in workers],
            "clients": [c.pid for c in clients],
            "feeder": [b.feeder.pid],
        }
    )
    await b.progress("ours", a.warmup, probe)
    result = await b.measure(
        "ours", clients, probe, a.window, triage_base=f"http://127.0.0.1:{port}"
    )
    await b.close_clients(clients)
    await serve.stop()
    return result


async def phase_naive(b: Bench, workers: list[Proc]) -> dict[str, Any]:
    a = b.args
    port = free_port()
    naive = await b.procs.start(
        "naive-peer",
        [
            PYTHON,
            "-m",
            "uvicorn",
            "bench.naive_peer:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ws",
            "websockets-sansio",
            "--ws-per-message-deflate",
            "false",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=base, timeout=2.0) as http:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/stats")).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("naive peer did not start")
            await asyncio.sleep(0.2)
    say("naive", f"naive peer pid {naive.pid} ready on :{port}")
    clients, _ = await b.start_clients(
        "naive",
        f"ws://127.0.0.1:{port}",
        "naive",
        b.event_ids,
        a.consoles,
        a.client_procs,
        a.full_consoles,
    )
    probe = CpuProbe(
        {
            "naive": [naive.pid],
            "workers": [w.pid for w in workers],
            "clients": [c.pid for c in clients],
            "feeder": [b.feeder.pid] if b.feeder else [],
        }
    )
    say("naive", f"warm-up {a.naive_warmup:.0f} s")
    await b.progress("naive", a.naive_warmup, probe)
    result = await b.measure("naive", clients, probe, a.naive_window)
    # The peer's own /stats may not answer while its send loop holds the event loop;
    # the consoles' view (console_lag_at_end) is what counts.
    result["reader_lag_items"] = result["console_lag_at_end"]["items_behind_furthest_console"]
    await b.close_clients(clients)
    await naive.stop()
    return result


async def phase_idle(b: Bench) -> dict[str, Any]:
    a = b.args
    port = free_port()
    serve = await b.procs.start(
        "idle-serve", [str(VENV_BIN / "controlroom"), "serve", "--port", str(port)]
    )
    await wait_ready(f"http://127.0.0.1:{port}")
    proc = psutil.Process(serve.pid)
    warm, _ = await b.start_clients(
        "idle", f"ws://127.0.0.1:{port}", "ours", [b.idle_event], a.idle_warm, 1, 0
    )
    await asyncio.sleep(a.settle)
    rss0, fds0 = proc.memory_info().rss, proc.num_fds()
    say(
        "idle",
        f"serve pid {serve.pid}: RSS {rss0 / 1024:,.0f} KiB with {a.idle_warm} warm-up consoles",
    )
    clients, opened = await b.start_clients(
        "idle", f"ws://127.0.0.1:{port}", "ours", [b.idle_event], a.idle_consoles, a.idle_procs, 0
    )
    await asyncio.sleep(a.settle)
    rss1, fds1 = proc.memory_info().rss, proc.num_fds()
    say(
        "idle", f"RSS {rss1 / 1024:,.0f} KiB with {opened} more consoles open; fds {fds0} -> {fds1}"
    )
    soft, hard = psutil.Process(serve.pid).rlimit(psutil.RLIMIT_NOFILE)
    await b.close_clients(clients + warm)
    await serve.stop()
    return {
        "consoles": opened,
        "warm_consoles": a.idle_warm,
        "rss_before_kib": rss0 // 1024,
        "rss_after_kib": rss1 // 1024,
        "fds_before": fds0,
        "fds_after": fds1,
        "serve_nofile_limit": [soft, hard],
        "rss_kib_per_idle_console": round((rss1 - rss0) / 1024 / max(opened, 1), 2),
    }


# -- main -------------------------------------------------------------------------


async def run(a: argparse.Namespace) -> dict[str, Any]:
    nofile = raise_nofile()  # the servers inherit it: 2,000 idle consoles need the fds
    say("setup", f"RLIMIT_NOFILE {nofile[0]} (hard {nofile[1]}); cores {psutil.cpu_count()}")
    busy = await asyncio.to_thread(psutil.cpu_percent, 2.0)
    say("setup", f"machine {busy:.0f}% busy before the benchmark starts")
    a.busy_before = busy
    if busy > 15:
        say("setup", "warning: something else is using the CPU; the numbers will be lower")
    db_url = await fresh_database()
    r = aioredis.from_url(REDIS_URL)
    await r.flushdb()
    token, events, idle_event = await seed(db_url, a.events)
    events_file = RESULTS / "events.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    events_file.write_bytes(orjson.dumps(events))
    say(
        "setup",
        f"database {DB_NAME} migrated, Redis {REDIS_URL} flushed, {len(events)} events seeded",
    )

    env = dict(os.environ)
    env.update(
        CONTROLROOM_DATABASE_URL=db_url,
        CONTROLROOM_REDIS_URL=REDIS_URL,
        CONTROLROOM_SECRET_KEY=secrets.token_urlsafe(32),
        CONTROLROOM_LOG_LEVEL="warning",
        PYTHONUNBUFFERED="1",
    )
    if a.worker_batch:
        env["CONTROLROOM_WORKER_BATCH"] = str(a.worker_batch)
    if a.batch_interval_ms:
        env["CONTROLROOM_BATCH_INTERVAL_MS"] = str(a.batch_interval_ms)
    procs = Procs(env)
    pg = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
    b = Bench(a, procs, token, events, idle_event, r, pg)
    result: dict[str, Any] = {}
    try:
        # The feeder stands in for the connectors, which run inside `controlroom worker`
        # at its niceness (CONTROLROOM_WORKER_NICE): so the feeder runs at the same one.
        feeder = await procs.start(
            "feeder",
            [
                "nice",
                "-n",
                str(DEFAULTS["worker_nice"].default),
                PYTHON,
                "-m",
                "bench.feeder",
                "--redis",
                REDIS_URL,
                "--events",
                str(events_file),
                "--rate",
                str(a.rate),
                "--pool",
                str(a.pool),
            ],
            control=True,
        )
        b.feeder = feeder
        workers = [
            await procs.start(f"worker-{i}", [str(VENV_BIN / "controlroom"), "worker"])
            for i in range(a.workers)
        ]
        ready = await feeder.expect("ready", 120)
        say(
            "setup",
            f"feeder: {ready['templates']:,} templates in {ready['generate_s']} s; mix {ready['mix']}",
        )

        ours = await phase_ours(b, workers)
        say(
            "ours",
            f"done: {ours['deliveries_per_s']:,.0f} deliveries/s, p99 {ours['latency_ms']['p99']} ms",
        )
        naive = None
        if a.naive_window > 0:
            naive = await phase_naive(b, workers)
            say(
                "naive",
                f"done: {naive['deliveries_per_s']:,.0f} deliveries/s, p99 {naive['latency_ms']['p99']} ms",
            )
        await feeder.send("stop")
        stopped = await feeder.expect("stopped", 15)
        await feeder.stop()
        for w in workers:
            await w.stop()
        say(
            "feed",
            f"feeder sent {stopped['sent']:,} envelopes in {stopped['elapsed_s']:.0f} s "
            f"(late ticks {stopped['late_ticks']}, errors {stopped['errors']})",
        )
        idle = await phase_idle(b) if a.idle_consoles > 0 else None

        result = build_result(a, ready, ours, naive, idle)
    finally:
        await procs.stop_all()
        await pg.close()
        await r.aclose()
    return result


def _cpu_per_1k(cores: float, deliveries_per_s: float) -> float | None:
    if deliveries_per_s <= 0:
        return None
    return round(cores * 1000 / (deliveries_per_s / 1000), 3)


def build_result(
    a: argparse.Namespace,
    feeder_ready: dict[str, Any],
    ours: dict[str, Any],
    naive: dict[str, Any] | None,
    idle: dict[str, Any] | None,
) -> dict[str, Any]:
    cores = ours["cpu_cores"]
    server_cores = cores.get("serve", 0.0) + cores.get("workers", 0.0)
    result: dict[str, Any] = {
        "machine_busy_before_pct": a.busy_before,
        "config": {
            "events": a.events,
            "consoles_per_event": a.consoles,
            "consoles": a.events * a.consoles,
            "fully_checked_consoles_per_event": a.full_consoles,
            "rate_per_event": a.rate,
            "offered_rate_total": a.rate * a.events,
            "warmup_s": a.warmup,
            "window_s": a.window,
            "naive_warmup_s": a.naive_warmup,
            "naive_window_s": a.naive_window,
            "workers": a.workers,
            "worker_batch": a.worker_batch or f"app default ({DEFAULTS['worker_batch'].default})",
            "batch_interval_ms": a.batch_interval_ms
            or f"app default ({DEFAULTS['batch_interval_ms'].default})",
            "serve_processes": 1,
            "client_processes": a.client_procs,
            "idle_consoles": a.idle_consoles,
            "envelope_mix_per_event_pool": feeder_ready["mix"],
            "envelope_mean_bytes": feeder_ready["mean_bytes"],
            "cores": psutil.cpu_count(),
            "postgres": "synchronous_commit and fsync as configured on this machine",
        },
        "offered_msgs_per_s": ours["offered_msgs_per_s"],
        "ingest_msgs_per_s": ours["ingest_msgs_per_s"],
        "chat_rows_per_s": ours["chat_rows_per_s"],
        "live_deltas_per_s": ours["live_deltas_per_s"],
        "ingest_backlog_start": ours["ingest_backlog_start"],
        "ingest_backlog_end": ours["ingest_backlog_end"],
        "deliveries_per_s": ours["deliveries_per_s"],
        "frames_per_s": ours["frames_per_s"],
        "mbytes_per_s": ours["mbytes_per_s"],
        "latency_ms": ours["latency_ms"],
        "e2e_latency_ms": ours["e2e_latency_ms"],
        "first_item_latency_ms": ours["first_item_latency_ms"],
        # `at` -> readable on the Redis live stream (2 events), i.e. before the hub:
        "publish_to_live_stream_ms": ours["publish_to_live_stream_ms"],
        "gaps": ours["total_gaps"],
        "duplicates": ours["total_duplicates"],
        "resyncs": ours["total_resyncs"],
        "late_gauges_items": ours["late_items"],
        "window_gaps": ours["gaps"],
        "window_duplicates": ours["duplicates"],
        "gap_events": ours["gap_events"],
        "consoles_open_at_end": ours["consoles_open"],
        # moderator approvals on event 0 -> the question.updated on each of its consoles
        "triage_visible_ms": ours.get("triage_visible_ms"),
        "triage_request_ms": ours.get("triage_request_ms"),
        "triage_actions": ours.get("triage_actions"),
        "triage_missing": ours.get("triage_missing"),
        "triage_consoles": ours.get("triage_consoles"),
        "triage_outcomes": ours.get("triage_outcomes"),
        "console_lag_at_end": ours["console_lag_at_end"],
        "client_errors": ours["errors"],
        "cpu_ms_per_1k_deliveries": _cpu_per_1k(server_cores, ours["deliveries_per_s"]),
        "fanout_cpu_ms_per_1k_deliveries": _cpu_per_1k(
            cores.get("serve", 0.0), ours["deliveries_per_s"]
        ),
        "cpu_cores": cores,
        "cpu_seconds": ours["cpu_seconds"],
    }
    if naive is not None:
        ncores = naive["cpu_cores"]
        naive_server = ncores.get("naive", 0.0) + ncores.get("workers", 0.0)
        result["naive"] = {
            "offered_msgs_per_s": naive["offered_msgs_per_s"],
            "ingest_msgs_per_s": naive["ingest_msgs_per_s"],
            "live_deltas_per_s": naive["live_deltas_per_s"],
            "deliveries_per_s": naive["deliveries_per_s"],
            "frames_per_s": naive["frames_per_s"],
            "latency_ms": naive["latency_ms"],
            "e2e_latency_ms": naive["e2e_latency_ms"],
            "gaps": naive["total_gaps"],
            "duplicates": naive["total_duplicates"],
            "reader_lag_items": naive.get("reader_lag_items"),
            "console_lag_at_end": naive["console_lag_at_end"],
            "consoles_open_at_end": naive["consoles_open"],
            "cpu_ms_per_1k_deliveries": _cpu_per_1k(naive_server, naive["deliveries_per_s"]),
            "fanout_cpu_ms_per_1k_deliveries": _cpu_per_1k(
                ncores.get("naive", 0.0), naive["deliveries_per_s"]
            ),
            "cpu_cores": ncores,
            "cpu_seconds": naive["cpu_seconds"],
            "client_errors": naive["errors"],
        }
        # The naive peer replaces the hub, not the pipeline: the headline ratio compares
        # the fan-out processes (serve vs the peer). The same workers feed both, so the
        # ratio with their CPU added on both sides is reported beside it.
        fan_ours = ours["deliveries_per_s"] / cores["serve"] if cores.get("serve") else 0.0
        fan_naive = naive["deliveries_per_s"] / ncores["naive"] if ncores.get("naive") else 0.0
        result["ratio_deliveries_per_cpu"] = round(fan_ours / fan_naive, 2) if fan_naive else None
        ours_eff = ours["deliveries_per_s"] / server_cores if server_cores else 0.0
        naive_eff = naive["deliveries_per_s"] / naive_server if naive_server else 0.0
        result["ratio_deliveries_per_cpu_with_pipeline"] = (
            round(ours_eff / naive_eff, 2) if naive_eff else None
        )
    if idle is not None:
        result["idle"] = idle
        result["rss_kib_per_idle_console"] = idle["rss_kib_per_idle_console"]
    result["targets"] = evaluate_targets(result)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.live10",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--events", type=int, default=10)
    p.add_argument("--consoles", type=int, default=50, help="consoles per event")
    p.add_argument("--rate", type=float, default=1000.0, help="envelopes/s per event offered")
    # 2 workers: on 2 cores one worker is latency-bound (it waits on PostgreSQL and Redis
    # round-trips at ~0.5 core); a second one lifts ingest from ~4,900 to ~7,200 env/s.
    p.add_argument("--workers", type=int, default=2, help="controlroom worker processes")
    p.add_argument(
        "--worker-batch",
        type=int,
        default=0,
        help="CONTROLROOM_WORKER_BATCH: ingest entries per stream per read (0: app default)",
    )
    p.add_argument(
        "--batch-interval-ms",
        type=int,
        default=0,
        help="CONTROLROOM_BATCH_INTERVAL_MS: hub flush interval (0: app default, 50)",
    )
    p.add_argument("--client-procs", type=int, default=3, help="console client processes")
    p.add_argument("--full-consoles", type=int, default=3, help="fully checked consoles per event")
    p.add_argument(
        "--client-nice",
        type=int,
        default=5,
        help="niceness of the console clients: they stand in for browsers on other machines, "
        "so they yield the CPU to the server (serve, PostgreSQL, Redis) but not to the "
        "workers (CONTROLROOM_WORKER_NICE) or the feeder",
    )
    p.add_argument("--triage-rate", type=float, default=4.0, help="question approvals/s on event 0")
    p.add_argument("--warmup", type=float, default=10.0)
    p.add_argument("--window", type=float, default=40.0)
    p.add_argument("--naive-warmup", type=float, default=5.0)
    p.add_argument("--naive-window", type=float, default=20.0, help="0 skips the naive phase")
    p.add_argument("--idle-consoles", type=int, default=2000, help="0 skips the idle phase")
    p.add_argument("--idle-warm", type=int, default=50, help="consoles open before RSS 'before'")
    p.add_argument("--idle-procs", type=int, default=2)
    p.add_argument("--settle", type=float, default=3.0)
    p.add_argument("--pool", type=int, default=20_000, help="envelope templates per event")
    p.add_argument("--out", type=Path, default=RESULTS / "live10.json")
    p.add_argument(
        "--profile",
        choices=["serve", "workers", "naive"],
        action="append",
        help="py-spy record that process during the window (bench/results/profile-*.txt)",
    )
    p.add_argument("--profile-idle", action="store_true", help="include idle (waiting) stacks")
    p.add_argument("--deadline", type=float, default=290.0, help="hard stop, seconds")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    try:
        result = asyncio.run(asyncio.wait_for(run(a), a.deadline))
    except TimeoutError:
        say("abort", f"the benchmark did not finish within {a.deadline:.0f} s")
        raise SystemExit(1) from None
    result["elapsed_s"] = round(time.monotonic() - T0, 1)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print()
    print(summary_table(result))
    print(
        f"\n  written to {a.out.relative_to(ROOT) if a.out.is_relative_to(ROOT) else a.out}"
        f" ({result['elapsed_s']:.0f} s)"
    )


if __name__ == "__main__":
    main()
