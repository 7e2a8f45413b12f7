"""The WebSocket hub: one live-stream reader per event, shared frames, bounded consoles.

Each app instance reads an event's live stream once, and every flush (at most one per
batch interval) builds one frame per distinct topic set; consoles with the same topics
get the same string. A console never blocks the feed: frames go into its own bounded
queue, drained by its own sender. A console that lags gets gauges coalesced (latest
wins) and, past the bound, its queue is dropped and it is sent a resync and a fresh
snapshot, so its memory stays bounded and nobody else waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson

from app.bus import Bus, LiveBatch
from app.ws import protocol

log = logging.getLogger(__name__)

SnapshotLoader = Callable[[str], Awaitable[dict[str, Any]]]


class FrameSink(Protocol):
    async def send_frame(self, frame: bytes) -> None: ...


Item = tuple[int, str, bytes]  # (seq, topic, serialised delta)

PING_INTERVAL_S = 15.0
FEED_IDLE_GRACE_S = 30.0
REPLAY_FRAME_ITEMS = 500


class Console:
    """One connected console: its topics, what it has been sent, its bounded queue."""

    __slots__ = (
        "gauges_slot",
        "max_bytes",
        "max_frames",
        "needs_resync",
        "queue",
        "queued_bytes",
        "resyncs",
        "sender",
        "sent_seq",
        "skip_until",
        "topics",
        "waiter",
        "ws",
    )

    def __init__(self, ws: FrameSink, topics: frozenset[str], max_frames: int, max_bytes: int):
        self.ws = ws
        self.topics = topics
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        # A list, not a deque: it is bounded by max_frames, and an empty deque costs
        # ~600 bytes, which at thousands of idle consoles is most of their memory.
        self.queue: list[bytes] = []
        self.queued_bytes = 0
        self.skip_until = 0  # deltas up to here came with the hello or the replay
        self.sent_seq = 0  # the last seq_to queued for it
        self.gauges_slot: bytes | None = None
        self.needs_resync = False
        self.resyncs = 0
        self.waiter: asyncio.Future[None] | None = None  # the sender, asleep
        self.sender: asyncio.Task[None] | None = None

    @property
    def lagging(self) -> bool:
        return len(self.queue) >= max(2, self.max_frames // 4)

    def offer(self, frame: bytes, seq_to: int) -> None:
        if self.needs_resync:
            return
        if len(self.queue) >= self.max_frames or self.queued_bytes + len(frame) > self.max_bytes:
            self.queue.clear()
            self.queued_bytes = 0
            self.gauges_slot = None
            self.needs_resync = True
            self.resyncs += 1
        else:
            self.queue.append(frame)
            self.queued_bytes += len(frame)
            self.sent_seq = max(self.sent_seq, seq_to)
        self.wake()

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    @property
    def has_work(self) -> bool:
        return bool(self.queue) or self.needs_resync or self.gauges_slot is not None

    async def sleep(self) -> None:
        """Waits until offer() gives the sender something to do."""
        if not self.has_work:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter


class EventFeed:
    """The live stream of one event as this instance fans it out."""

    def __init__(self, hub: Hub, event_id: str, start_seq: int) -> None:
        self.hub = hub
        self.event_id = event_id
        self.read_seq = start_seq
        self.consoles: set[Console] = set()
        self.pending: list[LiveBatch] = []
        self.last_gauges: bytes | None = None
        self.data_ready = asyncio.Event()
        self.urgent_ready = asyncio.Event()
        self.last_flush = 0.0
        self.tasks = [
            asyncio.create_task(self._read_loop(), name=f"feed-read-{event_id}"),
            asyncio.create_task(self._flush_loop(), name=f"feed-flush-{event_id}"),
            asyncio.create_task(self._ping_loop(), name=f"feed-ping-{event_id}"),
        ]
        self.idle_since: float | None = None

    async def _read_loop(self) -> None:
        while True:
            try:
                batches = await self.hub.bus.read_live(
                    self.event_id, self.read_seq, block_ms=2_000, count=500
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live read failed for %s; retrying", self.event_id)
                await asyncio.sleep(0.5)
                continue
            for batch in batches:
                if batch.seq_to <= self.read_seq:
                    continue
                self.pending.append(batch.after(self.read_seq))
                self.read_seq = batch.seq_to
            if batches:
                self.data_ready.set()
                if any(batch.urgent for batch in batches):
                    self.urgent_ready.set()

    async def _flush_loop(self) -> None:
        interval = self.hub.batch_interval_s
        while True:
            await self.data_ready.wait()
            # Flush at once when the last flush is old enough, else when it will be:
            # low latency when traffic is light, at most one frame per interval under load.
            # A person's action does not wait for the interval: those come at human rate.
            wait = self.last_flush + interval - time.monotonic()
            if wait > 0 and not self.urgent_ready.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self.urgent_ready.wait()
            self.data_ready.clear()
            self.urgent_ready.clear()
            self.last_flush = time.monotonic()
            batches, self.pending = self.pending, []
            if batches:
                self.flush(batches)

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(PING_INTERVAL_S)
            frame = protocol.ping_frame()
            for console in self.consoles:
                console.offer(frame, console.sent_seq)

    def flush(self, batches: list[LiveBatch]) -> None:
        seq_from, seq_to = batches[0].seq_from, batches[-1].seq_to
        items: list[Item] = []
        gauges: Item | None = None
        for batch in batches:
            for offset, (topic, item) in enumerate(zip(batch.topics, batch.items, strict=True)):
                entry = (batch.seq_from + offset, topic, item)
                if topic in protocol.COALESCED_TOPICS:
                    gauges = entry  # only the latest gauges of a flush matter
                else:
                    items.append(entry)
        if gauges is not None:
            items.append(gauges)
            self.last_gauges = gauges[2]

        shared: dict[frozenset[str], bytes | None] = {}
        for console in self.consoles:
            if console.skip_until >= seq_to:
                continue
            lagging = console.lagging
            topics = console.topics - protocol.COALESCED_TOPICS if lagging else console.topics
            if lagging and gauges is not None and "gauges" in console.topics:
                console.gauges_slot = gauges[2]
            if console.skip_until >= seq_from:
                # Joined mid-flush: only what its hello or replay did not hold.
                frame = _frame(seq_from, seq_to, items, topics, console.skip_until)
            else:
                if topics not in shared:
                    shared[topics] = _frame(seq_from, seq_to, items, topics, 0)
                frame = shared[topics]
            if frame is not None:
                console.offer(frame, seq_to)

    def add(self, console: Console) -> None:
        self.consoles.add(console)
        self.idle_since = None

    def remove(self, console: Console) -> None:
        self.consoles.discard(console)
        if not self.consoles:
            self.idle_since = time.monotonic()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _frame(
    seq_from: int, seq_to: int, items: list[Item], topics: frozenset[str], after: int
) -> bytes | None:
    chosen = [item for seq, topic, item in items if topic in topics and seq > after]
    if not chosen:
        return None
    return protocol.batch_frame(max(seq_from, after + 1), seq_to, chosen)


class Hub:
    """All event feeds of this app instance."""

    def __init__(
        self,
        bus: Bus,
        snapshot_loader: SnapshotLoader,
        *,
        batch_interval_ms: int,  # the settings hold the defaults, in one place
        console_queue_frames: int,
        console_queue_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self.bus = bus
        self.snapshot_loader = snapshot_loader
        self.batch_interval_s = batch_interval_ms / 1000
        self.console_queue_frames = console_queue_frames
        self.console_queue_bytes = console_queue_bytes
        self.feeds: dict[str, EventFeed] = {}
        self._reaper: asyncio.Task[None] | None = None

    async def _feed(self, event_id: str) -> EventFeed:
        feed = self.feeds.get(event_id)
        if feed is None:
            feed = EventFeed(self, event_id, await self.bus.live_seq(event_id))
            # Another attach may have created it while we awaited the seq.
            feed = self.feeds.setdefault(event_id, feed)
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_idle_feeds(), name="hub-reaper")
        return feed

    async def _reap_idle_feeds(self) -> None:
        while True:
            await asyncio.sleep(FEED_IDLE_GRACE_S / 3)
            now = time.monotonic()
            for event_id, feed in list(self.feeds.items()):
                if feed.idle_since is not None and now - feed.idle_since > FEED_IDLE_GRACE_S:
                    del self.feeds[event_id]
                    await feed.stop()

    async def attach(
        self, ws: FrameSink, event_id: str, topics: frozenset[str], since: int | None
    ) -> Console:
        """Greets the console (snapshot or replay), then joins it to the live feed."""
        feed = await self._feed(event_id)
        console = Console(ws, topics, self.console_queue_frames, self.console_queue_bytes)
        replay = await self.bus.live_since(event_id, since) if since is not None else None
        if since is not None and replay is None:
            await ws.send_frame(
                protocol.resync_frame(f"deltas after {since} are past retention: new snapshot")
            )
        if replay is not None:
            assert since is not None
            console.skip_until = console.sent_seq = replay[-1].seq_to if replay else since
            feed.add(console)
            frames = _replay_frames(replay, topics)
            replayed = sum(n for _, n in frames)
            await ws.send_frame(
                protocol.hello_frame(console.skip_until, None, resumed=True, replayed=replayed)
            )
            for frame, _ in frames:
                await ws.send_frame(frame)
        else:
            await self._greet(console, feed)
        console.sender = asyncio.create_task(self._send_loop(console, feed))
        return console

    async def _greet(self, console: Console, feed: EventFeed) -> None:
        seq = await self.bus.live_seq(feed.event_id)
        console.skip_until = console.sent_seq = seq
        feed.add(console)
        snapshot = await self.snapshot_loader(feed.event_id)
        snapshot["gauges"] = orjson.loads(feed.last_gauges)["data"] if feed.last_gauges else None
        await console.ws.send_frame(protocol.hello_frame(seq, snapshot, resumed=False, replayed=0))

    async def _send_loop(self, console: Console, feed: EventFeed) -> None:
        ws = console.ws
        try:
            while True:
                await console.sleep()
                if console.needs_resync:
                    console.needs_resync = False
                    await ws.send_frame(protocol.resync_frame("console fell too far behind"))
                    await self._greet(console, feed)
                    continue
                while console.queue and not console.needs_resync:
                    frame = console.queue.pop(0)
                    console.queued_bytes -= len(frame)
                    if console.gauges_slot is not None and not console.lagging:
                        frame = protocol.splice_item(frame, console.gauges_slot)
                        console.gauges_slot = None
                    await ws.send_frame(frame)
                if console.gauges_slot is not None and not console.queue:
                    gauges, console.gauges_slot = console.gauges_slot, None
                    seq = console.sent_seq
                    await ws.send_frame(protocol.batch_frame(seq, seq, [gauges]))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the socket went away: the receive side cleans up
            log.debug("console sender stopped: %s", exc)

    async def detach(self, console: Console, event_id: str) -> None:
        feed = self.feeds.get(event_id)
        if feed is not None:
            feed.remove(console)
        if console.sender is not None:
            console.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await console.sender

    def console_count(self) -> int:
        return sum(len(f.consoles) for f in self.feeds.values())

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        for feed in list(self.feeds.values()):
            await feed.stop()
        self.feeds.clear()


def _replay_frames(batches: list[LiveBatch], topics: frozenset[str]) -> list[tuple[bytes, int]]:
    """The replayed deltas as frames of bounded size, with how many items each holds."""
    frames: list[tuple[bytes, int]] = []
    chosen: list[bytes] = []
    start = batches[0].seq_from if batches else 0
    for batch in batches:
        for topic, item in zip(batch.topics, batch.items, strict=True):
            if topic in topics:
                chosen.append(item)
        if len(chosen) >= REPLAY_FRAME_ITEMS or batch is batches[-1]:
            frames.append((protocol.batch_frame(start, batch.seq_to, chosen), len(chosen)))
            chosen, start = [], batch.seq_to + 1
    return [(f, n) for f, n in frames if n]
