"""MemoryBus: the same contract in one process, for the embedded default and tests."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.bus.base import Bus, CommandEntry, DeadLetter, IngestEntry, LiveBatch, live_item


@dataclass
class _Group:
    """A consumer group over one stream: the read cursor and the pending entries."""

    cursor: int = 0  # index into the stream of the next never-delivered entry
    pending: dict[str, tuple[str, float]] = field(default_factory=dict)  # id -> (consumer, at)


@dataclass
class _Stream:
    entries: dict[str, bytes] = field(default_factory=dict)  # insertion-ordered
    order: list[str] = field(default_factory=list)
    group: _Group = field(default_factory=_Group)


class MemoryBus(Bus):
    def __init__(self, *, live_retention: int = 20_000) -> None:
        self.live_retention = live_retention
        self._ids = itertools.count(1)
        self._ingest: dict[str, _Stream] = defaultdict(_Stream)
        self._commands: dict[tuple[str, str], _Stream] = defaultdict(_Stream)
        self._live: dict[str, deque[LiveBatch]] = defaultdict(deque)
        self._seq: dict[str, int] = defaultdict(int)
        self._events: set[str] = set()
        self._dead: dict[str, deque[DeadLetter]] = defaultdict(lambda: deque(maxlen=10_000))
        self._dead_counts: dict[str, Counter[str]] = defaultdict(Counter)
        self._seen: dict[str, tuple[str, float]] = {}
        self._cursors: dict[str, str] = {}
        self._health: dict[str, dict[str, bytes]] = defaultdict(dict)
        # (event, minute) -> (messages, chatters, distinct text keys)
        self._activity: dict[tuple[str, int], tuple[int, set[str], set[str]]] = {}
        self._interactions: dict[tuple[str, int], int] = defaultdict(int)
        self._viewers: dict[str, dict[str, int]] = defaultdict(dict)
        self._dirty: dict[str, dict[str, int]] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._changed = asyncio.Condition()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _wait(self, block_ms: int) -> None:
        if block_ms <= 0:
            return
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
        # that races with the wake-up, leaving a cancelled reader looping forever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(block_ms / 1000), self._changed:
                await self._changed.wait()

    def _append(self, stream: _Stream, payload: bytes) -> str:
        entry_id = f"{int(time.time() * 1000)}-{next(self._ids)}"
        stream.entries[entry_id] = payload
        stream.order.append(entry_id)
        return entry_id

    @staticmethod
    def _take_new(stream: _Stream, consumer: str, count: int) -> list[tuple[str, bytes]]:
        group = stream.group
        taken = stream.order[group.cursor : group.cursor + count]
        group.cursor += len(taken)
        now = time.monotonic()
        for entry_id in taken:
            group.pending[entry_id] = (consumer, now)
        return [(i, stream.entries[i]) for i in taken]

    @staticmethod
    def _ack(stream: _Stream, entry_ids: Sequence[str]) -> None:
        for entry_id in entry_ids:
            if stream.group.pending.pop(entry_id, None) is not None:
                stream.entries.pop(entry_id, None)
        # Drop acknowledged ids from the front so memory stays bounded (in chunks,
        # since deleting from the front of a list is linear).
        group, done = stream.group, 0
        while done < group.cursor and stream.order[done] not in stream.entries:
            done += 1
        if done > 1024 or (done and done == len(stream.order)):
            del stream.order[:done]
            group.cursor -= done

    # -- ingest --
    async def add_ingest(self, event_id: str, payloads: Sequence[bytes]) -> list[str]:
        stream = self._ingest[event_id]
        ids = [self._append(stream, p) for p in payloads]
        await self._notify()
        return ids

    async def read_ingest(
        self, consumer: str, event_ids: Sequence[str], count: int, block_ms: int
    ) -> list[IngestEntry]:
        deadline = time.monotonic() + block_ms / 1000
        while True:
            out: list[IngestEntry] = []
            for event_id in event_ids:
                room = count - len(out)
                if room <= 0:
                    break
                for entry_id, payload in self._take_new(self._ingest[event_id], consumer, room):
                    out.append(IngestEntry(event_id, entry_id, payload))
            remaining = deadline - time.monotonic()
            if out or remaining <= 0:
                return out
            await self._wait(int(remaining * 1000))

    async def ack_ingest(self, event_id: str, entry_ids: Sequence[str]) -> None:
        self._ack(self._ingest[event_id], entry_ids)

    async def claim_stale_ingest(
        self, consumer: str, event_ids: Sequence[str], min_idle_ms: int, count: int
    ) -> list[IngestEntry]:
        now = time.monotonic()
        out: list[IngestEntry] = []
        for event_id in event_ids:
            stream = self._ingest[event_id]
            for entry_id, (_owner, at) in list(stream.group.pending.items()):
                if len(out) >= count:
                    return out
                if (now - at) * 1000 >= min_idle_ms:
                    stream.group.pending[entry_id] = (consumer, now)
                    out.append(IngestEntry(event_id, entry_id, stream.entries[entry_id], True))
        return out

    async def ingest_backlog(self, event_id: str) -> int:
        stream = self._ingest[event_id]
        return len(stream.group.pending) + len(stream.order) - stream.group.cursor

    async def add_dead_letter(
        self, event_id: str, payload: bytes, reason: str, source_id: str = ""
    ) -> None:
        self._dead[event_id].append(DeadLetter(reason, payload, source_id, datetime.now(UTC)))
        self._dead_counts[event_id][source_id] += 1

    async def dead_letters(self, event_id: str, count: int = 100) -> list[DeadLetter]:
        return list(reversed(self._dead[event_id]))[:count]

    async def dead_letter_counts(self, event_id: str) -> dict[str, int]:
        return dict(self._dead_counts[event_id])

    # -- live --
    async def publish_live(
        self, event_id: str, items: Sequence[tuple[str, bytes]], *, urgent: bool = False
    ) -> LiveBatch:
        first = self._seq[event_id] + 1
        last = self._seq[event_id] = first + len(items) - 1
        batch = LiveBatch(
            first,
            last,
            tuple(t for t, _ in items),
            tuple(live_item(first + i, item) for i, (_, item) in enumerate(items)),
            urgent,
        )
        retained = self._live[event_id]
        retained.append(batch)
        while retained and retained[0].seq_to <= last - self.live_retention:
            retained.popleft()
        await self._notify()
        return batch

    async def live_seq(self, event_id: str) -> int:
        return self._seq[event_id]

    async def read_live(
        self, event_id: str, after_seq: int, block_ms: int, count: int = 100
    ) -> list[LiveBatch]:
        deadline = time.monotonic() + block_ms / 1000
        while True:
            found = [b for b in self._live[event_id] if b.seq_to > after_seq][:count]
            remaining = deadline - time.monotonic()
            if found or remaining <= 0:
                return found
            await self._wait(int(remaining * 1000))

    async def live_since(self, event_id: str, since: int) -> list[LiveBatch] | None:
        current = self._seq[event_id]
        if since > current:
            return None
        if since == current:
            return []
        batches = [b for b in self._live[event_id] if b.seq_to > since]
        if not batches or batches[0].seq_from > since + 1:
            return None
        batches[0] = batches[0].after(since)
        return batches

    # -- per-source streams: commands (console -> connector), inbox (webhook -> connector) --
    async def _source_add(self, key: tuple[str, str], payload: bytes) -> str:
        entry_id = self._append(self._commands[key], payload)
        await self._notify()
        return entry_id

    async def _source_read(
        self, key: tuple[str, str], consumer: str, count: int, block_ms: int
    ) -> list[CommandEntry]:
        stream = self._commands[key]
        mine = [i for i, (owner, _) in stream.group.pending.items() if owner == consumer][:count]
        if mine:
            return [CommandEntry(i, stream.entries[i]) for i in mine]
        deadline = time.monotonic() + block_ms / 1000
        while True:
            taken = self._take_new(stream, consumer, count)
            remaining = deadline - time.monotonic()
            if taken or remaining <= 0:
                return [CommandEntry(i, p) for i, p in taken]
            await self._wait(int(remaining * 1000))

    async def add_command(self, event_id: str, source_id: str, payload: bytes) -> str:
        return await self._source_add((event_id, f"cmd:{source_id}"), payload)

    async def read_commands(
        self, event_id: str, source_id: str, consumer: str, count: int, block_ms: int
    ) -> list[CommandEntry]:
        return await self._source_read((event_id, f"cmd:{source_id}"), consumer, count, block_ms)

    async def ack_command(self, event_id: str, source_id: str, entry_ids: Sequence[str]) -> None:
        self._ack(self._commands[(event_id, f"cmd:{source_id}")], entry_ids)

    async def add_inbox(self, event_id: str, source_id: str, payload: bytes) -> str:
        return await self._source_add((event_id, f"inbox:{source_id}"), payload)

    async def read_inbox(
        self, event_id: str, source_id: str, count: int, block_ms: int
    ) -> list[CommandEntry]:
        key = (event_id, f"inbox:{source_id}")
        return await self._source_read(key, source_id, count, block_ms)

    async def ack_inbox(self, event_id: str, source_id: str, entry_ids: Sequence[str]) -> None:
        self._ack(self._commands[(event_id, f"inbox:{source_id}")], entry_ids)

    # -- connector state: dedupe marks, cursors, health --
    async def first_sighting(self, name: str, ttl_s: int, holder: str | None = None) -> bool:
        holder = holder or uuid.uuid4().hex
        now = time.monotonic()
        marked = self._seen.get(name)
        if marked is not None and marked[1] > now:
            return marked[0] == holder
        if len(self._seen) > 100_000:  # forget what has expired, now and then
            self._seen = {k: v for k, v in self._seen.items() if v[1] > now}
        self._seen[name] = (holder, now + ttl_s)
        return True

    async def save_cursor(self, name: str, value: str) -> None:
        self._cursors[name] = value

    async def load_cursor(self, name: str) -> str | None:
        return self._cursors.get(name)

    async def put_health(self, event_id: str, source_id: str, health: bytes) -> None:
        self._health[event_id][source_id] = health

    async def read_health(self, event_id: str) -> dict[str, bytes]:
        return dict(self._health[event_id])

    # -- active events --
    async def mark_event_active(self, event_id: str) -> None:
        self._events.add(event_id)

    async def active_events(self) -> list[str]:
        return sorted(self._events)

    # -- gauges --
    async def record_activity(
        self,
        event_id: str,
        minute: int,
        messages: int,
        author_ids: Iterable[str],
        texts: Iterable[str] = (),
        *,
        interactions: int = 0,
    ) -> None:
        count, authors, distinct = self._activity.get((event_id, minute), (0, set(), set()))
        authors.update(author_ids)
        distinct.update(texts)
        self._activity[(event_id, minute)] = (count + messages, authors, distinct)
        self._interactions[(event_id, minute)] += interactions
        # Keep three hours, as the Redis keys do.
        for key in [k for k in self._activity if k[0] == event_id and k[1] < minute - 180]:
            del self._activity[key]
        for key in [k for k in self._interactions if k[0] == event_id and k[1] < minute - 180]:
            del self._interactions[key]

    async def read_activity(self, event_id: str, minute: int) -> tuple[int, int]:
        count, authors, _ = self._activity.get((event_id, minute), (0, set(), set()))
        return count, len(authors)

    async def read_distinct_texts(self, event_id: str, minute: int) -> int:
        _, _, distinct = self._activity.get((event_id, minute), (0, set(), set()))
        return len(distinct)

    async def read_interactions(self, event_id: str, minute: int) -> int:
        return self._interactions.get((event_id, minute), 0)

    async def set_viewers(self, event_id: str, platform: str, count: int) -> None:
        self._viewers[event_id][platform] = count

    async def read_viewers(self, event_id: str) -> dict[str, int]:
        return dict(self._viewers[event_id])

    # -- dirty marks --
    async def mark_dirty(self, name: str, member: str) -> None:
        marks = self._dirty.setdefault(name, {})
        marks[member] = marks.get(member, 0) + 1

    async def dirty_marks(self, name: str) -> dict[str, int]:
        return dict(self._dirty.get(name, {}))

    async def clear_dirty(self, name: str, marks: dict[str, int]) -> None:
        held = self._dirty.get(name, {})
        for member, count in marks.items():
            if held.get(member) == count:
                del held[member]

    # -- leases --
    async def acquire_lease(self, name: str, owner: str, ttl_ms: int) -> bool:
        now = time.monotonic()
        holder = self._leases.get(name)
        if holder is None or holder[0] == owner or holder[1] <= now:
            self._leases[name] = (owner, now + ttl_ms / 1000)
            return True
        return False

    async def release_lease(self, name: str, owner: str) -> None:
        if self._leases.get(name, ("", 0.0))[0] == owner:
            del self._leases[name]

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None
