"""The feeder: paces simulated envelopes into every event's ingest stream, as connectors do.

Run by bench.live10 as its own process. Envelopes are generated before the measured
window (simulated_envelopes, the demo scenario, plus a few poll votes) and kept as JSON
templates; at send time only the platform message id (kept unique) and ingest_at (the
moment the bus takes it, as a connector stamps it) are spliced in, so the feeder's CPU
stays low. Each tick hands every event its due envelopes through RedisBus.add_ingest,
the connectors' path.

Control on stdin (one word a line): start, stats, stop. Reports JSON lines on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from app.bus.redis import RedisBus
from app.connectors.simulator import simulated_envelopes
from app.envelope import Author, Kind, make_envelope
from bench.common import emit, stdin_lines, utc_now_iso

TICK_S = 0.02
VOTE_SHARE = 0.005  # poll votes mixed into the stream (the pipeline accepts and ignores them)
PMID = b"@@PMID@@"
INGEST = b"@@INGEST@@"


def templates(event: dict[str, Any], count: int, rate: float, seed: int) -> list[bytes]:
    """`count` envelope templates for one event: the demo scenario's mix at `rate`/s."""
    sources = {p: s for p, s in event["sources"].items() if p != "qa"}
    rate_scale = rate / 2.7  # the demo scenario chats ~2.7 msg/s at its peak audience
    rng = random.Random(seed)
    out: list[bytes] = []
    for env in simulated_envelopes(
        event["id"], sources, count, rate=rate, rate_scale=rate_scale, seed=seed
    ):
        if rng.random() < VOTE_SHARE:
            author = env.author or Author(id=f"voter-{rng.randrange(10**6)}", name="voter")
            vote = make_envelope(
                event_id=event["id"],
                source_id=env.source_id,
                platform=env.platform,
                kind=Kind.vote,
                platform_message_id="vote",
                platform_at=env.platform_at,
                author=author,
                data={"poll_id": "bench-poll", "option": rng.choice("ABCD")},
            )
            out.append(_template(vote))
        out.append(_template(env))
    return out[:count]


def _template(env: Any) -> bytes:
    body = orjson.loads(env.to_json())
    body["platform_message_id"] = PMID.decode()
    body["ingest_at"] = INGEST.decode()
    return orjson.dumps(body)


def kind_mix(pool: list[bytes]) -> dict[str, int]:
    mix: Counter[str] = Counter()
    for t in pool:
        body = orjson.loads(t)
        label = body["kind"]
        if label == "chat" and (body.get("raw") or {}).get("simulated") in (
            "question",
            "duplicate_question",
        ):
            label = "chat(question)"
        mix[label] += 1
    return dict(mix)


class Feeder:
    def __init__(
        self, bus: RedisBus, events: list[dict[str, Any]], pools: list[list[bytes]], rate: float
    ):
        self.bus = bus
        self.events = events
        self.pools = pools
        self.rate = rate
        self.sent = [0] * len(events)
        self.started = 0.0
        self.max_behind = 0  # the most envelopes any event was behind schedule at a tick
        self.late_ticks = 0
        self.ticks = 0
        self.errors = 0
        self.running = False

    def _payloads(self, index: int, n: int, ingest: bytes) -> list[bytes]:
        pool, start = self.pools[index], self.sent[index]
        out = []
        for k in range(start, start + n):
            template = pool[k % len(pool)]
            pmid = b"b%d-%d" % (k // len(pool), k)  # unique per event for the whole run
            out.append(template.replace(PMID, pmid).replace(INGEST, ingest))
        return out

    async def run(self, max_s: float) -> None:
        self.running = True
        self.started = time.monotonic()
        burst_cap = max(1, int(self.rate * 0.25))
        next_tick = self.started
        while self.running and time.monotonic() - self.started < max_s:
            elapsed = time.monotonic() - self.started
            due = int(self.rate * elapsed)
            ingest = utc_now_iso().encode()
            calls = []
            for i, event in enumerate(self.events):
                behind = due - self.sent[i]
                self.max_behind = max(self.max_behind, behind)
                n = min(behind, burst_cap)
                if n > 0:
                    calls.append(self._send(i, event["id"], n, ingest))
            if calls:
                await asyncio.gather(*calls)
            self.ticks += 1
            next_tick += TICK_S
            delay = next_tick - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                self.late_ticks += 1
                next_tick = time.monotonic()
        self.running = False

    async def _send(self, index: int, event_id: str, n: int, ingest: bytes) -> None:
        payloads = self._payloads(index, n, ingest)
        try:
            await self.bus.add_ingest(event_id, payloads)
        except Exception as exc:  # counted, reported; the next tick retries the same ones
            self.errors += 1
            emit({"type": "error", "error": repr(exc)})
            return
        self.sent[index] += n

    def stats(self) -> dict[str, Any]:
        return {
            "type": "stats",
            "t": time.time(),
            "elapsed_s": time.monotonic() - self.started if self.started else 0.0,
            "sent": sum(self.sent),
            "sent_by_event": dict(zip([e["id"] for e in self.events], self.sent, strict=True)),
            "max_behind": self.max_behind,
            "late_ticks": self.late_ticks,
            "ticks": self.ticks,
            "errors": self.errors,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--events", required=True, help="JSON file: [{id, sources{platform:id}}]")
    parser.add_argument("--rate", type=float, default=1000.0, help="envelopes/s per event")
    parser.add_argument("--pool", type=int, default=20_000, help="templates per event")
    parser.add_argument("--max-seconds", type=float, default=240.0)
    args = parser.parse_args()

    events = orjson.loads(Path(args.events).read_bytes())
    t0 = time.monotonic()
    pools = [templates(e, args.pool, args.rate, seed=1000 + i) for i, e in enumerate(events)]
    emit(
        {
            "type": "ready",
            "generate_s": round(time.monotonic() - t0, 2),
            "templates": sum(len(p) for p in pools),
            "mix": kind_mix(pools[0]),
            "mean_bytes": round(sum(len(t) for t in pools[0]) / len(pools[0])),
        }
    )
    asyncio.run(serve(args, events, pools))


async def serve(
    args: argparse.Namespace, events: list[dict[str, Any]], pools: list[list[bytes]]
) -> None:
    bus = RedisBus(args.redis)
    feeder = Feeder(bus, events, pools, args.rate)
    commands = await stdin_lines()
    task: asyncio.Task[None] | None = None
    try:
        while True:
            line = (await commands.readline()).decode().strip()
            if line == "start" and task is None:
                for e in events:
                    await bus.mark_event_active(e["id"])
                task = asyncio.create_task(feeder.run(args.max_seconds))
                emit({"type": "started", "t": time.time()})
            elif line == "stats":
                emit(feeder.stats())
            elif line in ("stop", ""):  # "" is EOF: the orchestrator went away
                feeder.running = False
                if task is not None:
                    await asyncio.wait_for(task, 5)
                emit(feeder.stats() | {"type": "stopped"})
                break
    finally:
        await bus.close()


if __name__ == "__main__":
    main()
