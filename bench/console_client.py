"""Bench consoles: one process holding many WebSocket consoles, checking what they get.

Run by bench.live10 (2-4 of these). Every console subscribes to all topics, so the
batch frames it gets must cover the sequence without holes (seq_from == previous
seq_to + 1); holes are counted as gaps, ranges or items seen again as duplicates.

Two kinds of console, to keep the client's own CPU low on a 2-core machine:
- "full" consoles (a few per event) parse every frame and check every item: exact
  duplicate detection by seq, and publish->console latency (delta `at` to receive
  time) and ingest->console latency (chat `data.received_at`) for every item;
- the others read the frame header (seq range) and count items (`{"seq":` cannot occur
  inside a JSON string, so counting it is exact), and time the first item of each frame.

Frames are read as bytes (recv(decode=False)): no UTF-8 decode in the client.

mode "naive" reads the naive peer's frames: one item per frame, no batch header.

Control on stdin: mark (start the measured window), report (end it and print counts),
close (close the sockets and exit). Reports JSON lines on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import time
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from bench.common import Hist, emit, parse_utc, raise_nofile, stdin_lines

ALL_TOPICS = ["chat", "questions", "polls", "gauges", "incidents", "cues", "sources"]
_BATCH_HEAD = re.compile(rb'\{"type":"batch","seq_from":(\d+),"seq_to":(\d+)')
_ITEM_SEQ = re.compile(rb'\{"seq":(\d+),')
_ITEM = b'{"seq":'
_AT = b'"at":"'
_QUESTION_UPDATED = b'"question.updated"'


class Window:
    """Counters of the measured window (reset by `mark`)."""

    def __init__(self) -> None:
        self.frames = 0
        self.items = 0
        self.bytes = 0
        self.gaps = 0
        self.duplicates = 0
        self.resyncs = 0
        self.latency = Hist()  # publish -> console, every item of the full consoles
        self.e2e = Hist()  # ingest -> console, every chat item of the full consoles
        self.first_item = Hist()  # publish -> console, first item of each frame, all consoles


class Stats:
    def __init__(self) -> None:
        self.window: Window | None = None
        self.total_frames = 0
        self.total_items = 0
        self.total_gaps = 0
        self.total_duplicates = 0
        self.total_resyncs = 0
        self.gap_events: list[dict[str, Any]] = []  # the first few, for the report
        self.closed_early = 0
        self.late_items = 0
        self.errors: list[str] = []
        # From `mark` to the `triage` command: the triage consoles record when they first
        # get each question.updated (id, version).
        self.triage_on = False


MAX_TRACKED_MISSING = 10_000


class ConsoleState:
    __slots__ = ("full", "holes", "last_to", "missing", "seen_max", "seen_q")

    def __init__(self, full: bool, triage: bool = False) -> None:
        self.full = full
        # triage consoles (those of the first event): "question_id:version" -> first seen
        self.seen_q: dict[str, float] | None = {} if triage else None
        self.last_to: int | None = None  # the seq_to the console has seen
        self.seen_max = 0  # full consoles: highest item seq seen
        self.holes: set[int] = set()  # full consoles: seqs below seen_max not (yet) seen
        # Seqs skipped by the frame ranges; one delivered late (a lagging console's
        # coalesced gauges item comes spliced into a later frame) is credited back.
        self.missing: set[int] = set()


def _gap(stats: Stats, console: int, st: ConsoleState, expected: int, got: int) -> None:
    missing = got - expected
    if len(st.missing) + missing <= MAX_TRACKED_MISSING:
        st.missing.update(range(expected, got))
    stats.total_gaps += missing
    if stats.window is not None:
        stats.window.gaps += missing
    if len(stats.gap_events) < 20:
        stats.gap_events.append(
            {"console": console, "expected": expected, "got": got, "t": time.time()}
        )


def _late(stats: Stats, st: ConsoleState, seq: int) -> bool:
    """A seq the frame ranges skipped arrives after all: not a gap after all."""
    if seq not in st.missing:
        return False
    st.missing.discard(seq)
    stats.total_gaps -= 1
    stats.late_items += 1
    if stats.window is not None:
        stats.window.gaps -= 1
    return True


def _dup(stats: Stats, n: int) -> None:
    stats.total_duplicates += n
    if stats.window is not None:
        stats.window.duplicates += n


def handle_ours(stats: Stats, cid: int, st: ConsoleState, msg: bytes, now: float) -> None:
    head = _BATCH_HEAD.match(msg)
    if head is None:
        frame = orjson.loads(msg)
        kind = frame.get("type")
        if kind == "hello":
            # The start, or the fresh snapshot after a resync: the sequence restarts here.
            st.last_to = int(frame["seq"])
            st.seen_max = max(st.seen_max, st.last_to)
            st.holes.clear()
            st.missing.clear()
        elif kind == "resync":
            stats.total_resyncs += 1
            if stats.window is not None:
                stats.window.resyncs += 1
        return
    seq_from, seq_to = int(head.group(1)), int(head.group(2))
    n = msg.count(_ITEM)
    stats.total_frames += 1
    stats.total_items += n
    w = stats.window
    if w is not None:
        w.frames += 1
        w.items += n
        w.bytes += len(msg)
    last = st.last_to
    if last is None:
        stats.errors.append(f"console {cid}: batch before hello")
        last = seq_from - 1
    if seq_from > last + 1:
        _gap(stats, cid, st, last + 1, seq_from)
    if st.full:
        _check_items(stats, st, msg, now)
    elif n and (seq_from <= last or _last_item_seq(msg) < seq_from):
        # Items at or below what this console has seen: a coalesced gauges item may come
        # late (spliced at the end of a frame, or alone); anything else is a duplicate.
        for item in orjson.loads(msg)["items"]:
            seq = item["seq"]
            late = (seq < seq_from or seq <= last) and _late(stats, st, seq)
            if not late and seq <= last and item.get("topic") != "gauges":
                _dup(stats, 1)
    if seq_to > last:
        st.last_to = seq_to
    if st.seen_q is not None and stats.triage_on and _QUESTION_UPDATED in msg:
        _record_triage(st.seen_q, msg, now)
    if w is not None and not st.full and n:
        at = msg.find(_AT)
        if at > 0:
            start = at + len(_AT)
            end = msg.index(b'"', start)
            w.first_item.add((now - parse_utc(msg[start:end].decode())) * 1000)


def _record_triage(seen: dict[str, float], msg: bytes, now: float) -> None:
    for item in orjson.loads(msg)["items"]:
        if item.get("type") == "question.updated":
            data = item.get("data") or {}
            seen.setdefault(f"{data.get('id')}:{data.get('version')}", now)


def _last_item_seq(msg: bytes) -> int:
    at = msg.rfind(_ITEM) + len(_ITEM)
    return int(msg[at : msg.index(b",", at)])


def _check_items(stats: Stats, st: ConsoleState, msg: bytes, now: float) -> None:
    w = stats.window
    items = orjson.loads(msg)["items"]
    first = True
    for item in items:
        seq = item["seq"]
        if seq > st.seen_max:
            if seq > st.seen_max + 1:
                st.holes.update(range(st.seen_max + 1, seq))
                if len(st.holes) > 200_000:  # bounded: forget the oldest holes
                    st.holes = {h for h in st.holes if h > seq - 100_000}
            st.seen_max = seq
        elif seq in st.holes:
            st.holes.discard(seq)  # late, not twice (a coalesced gauges item)
            _late(stats, st, seq)
        else:
            _dup(stats, 1)
        if w is not None:
            ms = (now - parse_utc(item["at"])) * 1000
            w.latency.add(ms)
            if first:
                w.first_item.add(ms)
                first = False
            if item.get("topic") == "chat":
                received = (item.get("data") or {}).get("received_at")
                if received:
                    w.e2e.add((now - parse_utc(received)) * 1000)


def handle_naive(stats: Stats, cid: int, st: ConsoleState, msg: bytes, now: float) -> None:
    m = _ITEM_SEQ.match(msg)
    if m is None:
        return
    seq = int(m.group(1))
    stats.total_frames += 1
    stats.total_items += 1
    w = stats.window
    if w is not None:
        w.frames += 1
        w.items += 1
        w.bytes += len(msg)
    if st.last_to is None:
        st.last_to = seq - 1  # the naive peer starts wherever the stream is
    if seq > st.last_to + 1:
        _gap(stats, cid, st, st.last_to + 1, seq)
    if seq <= st.last_to:
        if not _late(stats, st, seq):
            _dup(stats, 1)
    else:
        st.last_to = seq
    if w is None:
        return
    if st.full:
        item = orjson.loads(msg)
        ms = (now - parse_utc(item["at"])) * 1000
        w.latency.add(ms)
        w.first_item.add(ms)
        if item.get("topic") == "chat":
            received = (item.get("data") or {}).get("received_at")
            if received:
                w.e2e.add((now - parse_utc(received)) * 1000)
    else:
        at = msg.find(_AT)
        if at > 0:
            start = at + len(_AT)
            end = msg.index(b'"', start)
            w.first_item.add((now - parse_utc(msg[start:end].decode())) * 1000)


async def console(
    stats: Stats,
    cid: int,
    st: ConsoleState,
    url: str,
    token: str,
    mode: str,
    opened: asyncio.Queue[tuple[int, ClientConnection | None]],
    gate: asyncio.Semaphore,
) -> None:
    handle = handle_ours if mode == "ours" else handle_naive
    try:
        async with gate:
            ws = await connect(
                url,
                additional_headers={"Authorization": f"Bearer {token}"},
                max_size=None,
                compression=None,
                open_timeout=60,
                ping_interval=None,  # the server pings; keep the client's CPU for reading
                close_timeout=2,
            )
            if mode == "ours":
                await ws.send(
                    orjson.dumps(
                        {"type": "subscribe", "topics": ALL_TOPICS, "since": None}
                    ).decode()
                )
                first = await asyncio.wait_for(ws.recv(decode=False), 30)
                handle(stats, cid, st, first, time.time())
    except Exception as exc:
        stats.errors.append(f"console {cid}: connect failed: {exc!r}")
        await opened.put((cid, None))
        return
    await opened.put((cid, ws))
    try:
        # Frames stay bytes: the UTF-8 decode is the console's own work, and on a shared
        # 2-core machine every client cycle saved is left to the servers under test.
        while True:
            msg = await ws.recv(decode=False)
            handle(stats, cid, st, msg, time.time())
    except Exception as exc:
        if len(stats.errors) < 50:
            stats.errors.append(f"console {cid}: {exc!r}")
    stats.closed_early += 1


def report(
    stats: Stats, consoles_open: int, states: dict[str, list[ConsoleState]]
) -> dict[str, Any]:
    w = stats.window or Window()
    reached = {
        event: [st.last_to for st in sts if st.last_to is not None] for event, sts in states.items()
    }
    return {
        "type": "report",
        "t": time.time(),
        # per event: the furthest and the least far seq any console here has seen
        "seq_reached": {e: [max(v), min(v)] for e, v in reached.items() if v},
        "consoles_open": consoles_open,
        "frames": w.frames,
        "items": w.items,
        "bytes": w.bytes,
        "gaps": w.gaps,
        "duplicates": w.duplicates,
        "resyncs": w.resyncs,
        "latency": w.latency.to_json(),
        "e2e": w.e2e.to_json(),
        "first_item": w.first_item.to_json(),
        "total_frames": stats.total_frames,
        "total_items": stats.total_items,
        "total_gaps": stats.total_gaps,
        "total_duplicates": stats.total_duplicates,
        "total_resyncs": stats.total_resyncs,
        "gap_events": stats.gap_events,
        "late_items": stats.late_items,
        "closed_early": stats.closed_early,
        "errors": stats.errors[:20],
        "error_count": len(stats.errors),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True, help="ws://host:port")
    parser.add_argument("--mode", choices=["ours", "naive"], default="ours")
    parser.add_argument("--events", required=True, help="comma-separated event ids")
    parser.add_argument("--per-event", type=int, required=True, help="consoles per event here")
    parser.add_argument("--full-per-event", type=int, default=0, help="of which fully checked")
    parser.add_argument("--token", default="")
    parser.add_argument("--connect-concurrency", type=int, default=32)
    args = parser.parse_args()
    soft, hard = raise_nofile()

    stats = Stats()
    opened: asyncio.Queue[tuple[int, ClientConnection | None]] = asyncio.Queue()
    gate = asyncio.Semaphore(args.connect_concurrency)
    tasks: list[asyncio.Task[None]] = []
    event_ids = args.events.split(",")
    states: dict[str, list[ConsoleState]] = {e: [] for e in event_ids}
    cid = 0
    # Interleave events so every event's consoles connect at the same pace.
    for k in range(args.per_event):
        for event_id in event_ids:
            path = f"/ws/events/{event_id}" if args.mode == "ours" else f"/ws/{event_id}"
            st = ConsoleState(full=k < args.full_per_event, triage=event_id == event_ids[0])
            states[event_id].append(st)
            tasks.append(
                asyncio.create_task(
                    console(stats, cid, st, args.base + path, args.token, args.mode, opened, gate)
                )
            )
            cid += 1
    sockets: list[ClientConnection] = []
    t0 = time.monotonic()
    for _ in range(len(tasks)):
        _cid, ws = await opened.get()
        if ws is not None:
            sockets.append(ws)
    emit(
        {
            "type": "connected",
            "consoles": len(sockets),
            "failed": len(tasks) - len(sockets),
            "seconds": round(time.monotonic() - t0, 2),
            "nofile": [soft, hard],
            "errors": stats.errors[:5],
        }
    )

    commands = await stdin_lines()
    while True:
        line = (await commands.readline()).decode().strip()
        if line == "mark":
            stats.window = Window()
            stats.triage_on = True
            emit({"type": "marked", "t": time.time()})
        elif line == "report":
            emit(report(stats, len(sockets) - stats.closed_early, states))
            stats.window = None
        elif line.startswith("triage"):
            # "triage id:version,...": when each of the first event's consoles first saw
            # each of those question.updated versions (absent: never).
            stats.triage_on = False
            wanted = [k for k in line[len("triage") :].strip().split(",") if k]
            seen = [
                {k: st.seen_q[k] for k in wanted if k in st.seen_q}
                for st in states[event_ids[0]]
                if st.seen_q is not None
            ]
            emit({"type": "triage", "consoles": len(seen), "seen": seen})
        elif line in ("close", ""):
            break
    for ws in sockets:
        with contextlib.suppress(Exception):
            ws.transport.abort()  # no closing handshake: 500 of them would take a while
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    emit({"type": "closed"})


if __name__ == "__main__":
    asyncio.run(main())
