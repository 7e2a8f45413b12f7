"""RedisBus: Redis Streams for what must not be lost, plain keys for shared gauges.

Every per-event key carries the event id in a hash tag (`cr:{event}:...`) so that a
Redis Cluster keeps one event's streams, counters and sequence on one slot, which the
publish script relies on (it touches the seq counter and the live stream atomically).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from app.bus.base import Bus, CommandEntry, DeadLetter, IngestEntry, LiveBatch, live_item

PIPELINE_GROUP = "pipeline"
COMMAND_GROUP = "connector"
ACTIVITY_TTL_S = 3 * 3600
CURSOR_TTL_S = 7 * 24 * 3600  # a paused source resumes where it stopped within a week

# INCRBY and XADD in one step: consecutive sequence numbers and stream order agree
# even when several workers publish to the same event at once.
_PUBLISH_LUA = """
local n = (#ARGV - 2) / 2
local last = redis.call('INCRBY', KEYS[1], n)
local first = last - n + 1
local topics = {}
local items = {}
for i = 1, n do
  topics[i] = ARGV[2 * i + 1]
  items[i] = '{"seq":' .. string.format('%d', first + i - 1) .. ',' .. string.sub(ARGV[2 * i + 2], 2)
end
local minid = last - tonumber(ARGV[1])
if minid < 0 then minid = 0 end
redis.call('XADD', KEYS[2], 'MINID', '~', string.format('%d', minid), string.format('%d', last) .. '-0',
  'f', first, 't', last, 'p', table.concat(topics, ','), 'd', table.concat(items, '\\n'),
  'u', ARGV[2])
return {first, last}
"""


# Many XADDs in one call: a pipeline pays redis-py's packing and parsing per command,
# which at chat rates costs the connector more CPU than parsing the platform's frames.
_ADD_INGEST_LUA = """
local ids = {}
for i = 1, #ARGV do
  ids[i] = redis.call('XADD', KEYS[1], '*', 'e', ARGV[i])
end
return ids
"""


# Unmark only what was not marked again since it was read (HGETALL, then this).
_CLEAR_DIRTY_LUA = """
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return 0
"""


def _honour_cancellation() -> None:
    """Raises CancelledError if the current task was asked to stop during a blocking read.

    redis-py waits out a blocking XREAD/XREADGROUP that is cancelled (so the connection
    stays usable) and can return normally afterwards: the cancel is lost and a reader
    loop goes on. Checked after every blocking read, a stop takes effect at once.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _batch_from_fields(fields: dict[bytes, bytes]) -> LiveBatch:
    topics = tuple(fields[b"p"].decode().split(","))
    items = tuple(fields[b"d"].split(b"\n"))
    urgent = fields.get(b"u") == b"1"
    return LiveBatch(int(fields[b"f"]), int(fields[b"t"]), topics, items, urgent)


def key(namespace: str, event_id: str, suffix: str) -> str:
    """One key of an event: the {event} hash tag keeps all of them on one cluster slot."""
    return f"{namespace}:{{{event_id}}}:{suffix}"


class RedisBus(Bus):
    def __init__(self, url: str, *, live_retention: int = 20_000, namespace: str = "cr") -> None:
        # Blocking reads wait at most a few seconds, well inside the socket timeout.
        # redis-py's response types are unions of every RESP shape; we read bytes.
        self.redis: Any = aioredis.from_url(
            url, decode_responses=False, max_connections=256, socket_timeout=15
        )
        self.live_retention = live_retention
        self.ns = namespace
        self._publish = self.redis.register_script(_PUBLISH_LUA)
        self._add_ingest = self.redis.register_script(_ADD_INGEST_LUA)
        self._clear_dirty = self.redis.register_script(_CLEAR_DIRTY_LUA)
        self._groups_ready: set[str] = set()

    def _k(self, event_id: str, suffix: str) -> str:
        return key(self.ns, event_id, suffix)

    async def _ensure_group(self, key: str, group: str) -> None:
        if key in self._groups_ready:
            return
        try:
            await self.redis.xgroup_create(key, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups_ready.add(key)

    # -- ingest --
    async def add_ingest(self, event_id: str, payloads: Sequence[bytes]) -> list[str]:
        if not payloads:
            return []
        ids = await self._add_ingest(keys=[self._k(event_id, "ingest")], args=list(payloads))
        return [i.decode() for i in ids]

    async def read_ingest(
        self, consumer: str, event_ids: Sequence[str], count: int, block_ms: int
    ) -> list[IngestEntry]:
        if not event_ids:
            await asyncio.sleep(block_ms / 1000)
            return []
        keys = {self._k(e, "ingest"): e for e in event_ids}
        for key in keys:
            await self._ensure_group(key, PIPELINE_GROUP)
        try:
            resp = await self.redis.xreadgroup(
                PIPELINE_GROUP,
                consumer,
                dict.fromkeys(keys, ">"),
                count=count,
                block=block_ms or None,
            )
            _honour_cancellation()
        except ResponseError as exc:
            # The stream (and its group) was deleted under us: recreate on the next read.
            if "NOGROUP" in str(exc) or "UNBLOCKED" in str(exc):
                self._groups_ready.difference_update(keys)
                return []
            raise
        out: list[IngestEntry] = []
        for key, entries in resp or []:
            event_id = keys[key.decode()]
            for entry_id, fields in entries:
                out.append(IngestEntry(event_id, entry_id.decode(), fields[b"e"]))
        return out

    async def ack_ingest(self, event_id: str, entry_ids: Sequence[str]) -> None:
        if entry_ids:
            await self.redis.xack(self._k(event_id, "ingest"), PIPELINE_GROUP, *entry_ids)

    async def claim_stale_ingest(
        self, consumer: str, event_ids: Sequence[str], min_idle_ms: int, count: int
    ) -> list[IngestEntry]:
        out: list[IngestEntry] = []
        for event_id in event_ids:
            key = self._k(event_id, "ingest")
            await self._ensure_group(key, PIPELINE_GROUP)
            _next, entries, *_ = await self.redis.xautoclaim(
                key, PIPELINE_GROUP, consumer, min_idle_ms, start_id="0-0", count=count
            )
            for entry_id, fields in entries:
                if fields:  # a trimmed entry comes back empty
                    out.append(IngestEntry(event_id, entry_id.decode(), fields[b"e"], True))
            if len(out) >= count:
                break
        return out

    async def ingest_backlog(self, event_id: str) -> int:
        key = self._k(event_id, "ingest")
        try:
            groups = await self.redis.xinfo_groups(key)
        except ResponseError:
            return 0
        for group in groups:
            if group["name"] == PIPELINE_GROUP.encode():
                lag = group.get("lag") or 0
                return int(group["pending"]) + int(lag)
        return int(await self.redis.xlen(key))

    async def add_dead_letter(
        self, event_id: str, payload: bytes, reason: str, source_id: str = ""
    ) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(
                self._k(event_id, "dead"),
                {b"r": reason, b"e": payload, b"s": source_id},
                maxlen=10_000,
                approximate=True,
            )
            # A running count per source: the stream is trimmed, the count is not.
            pipe.hincrby(self._k(event_id, "dead:count"), source_id, 1)
            await pipe.execute()

    async def dead_letters(self, event_id: str, count: int = 100) -> list[DeadLetter]:
        entries = await self.redis.xrevrange(self._k(event_id, "dead"), count=count)
        return [
            DeadLetter(
                f[b"r"].decode(),
                f[b"e"],
                f.get(b"s", b"").decode(),
                datetime.fromtimestamp(int(i.split(b"-")[0]) / 1000, UTC),
            )
            for i, f in entries
        ]

    async def dead_letter_counts(self, event_id: str) -> dict[str, int]:
        raw = await self.redis.hgetall(self._k(event_id, "dead:count"))
        return {k.decode(): int(v) for k, v in raw.items()}

    # -- live --
    async def publish_live(
        self, event_id: str, items: Sequence[tuple[str, bytes]], *, urgent: bool = False
    ) -> LiveBatch:
        args: list[bytes | str | int] = [self.live_retention, int(urgent)]
        for topic, item in items:
            args.append(topic)
            args.append(item)
        first, last = await self._publish(
            keys=[self._k(event_id, "seq"), self._k(event_id, "live")], args=args
        )
        first, last = int(first), int(last)
        return LiveBatch(
            first,
            last,
            tuple(t for t, _ in items),
            tuple(live_item(first + i, item) for i, (_, item) in enumerate(items)),
            urgent,
        )

    async def live_seq(self, event_id: str) -> int:
        value = await self.redis.get(self._k(event_id, "seq"))
        return int(value or 0)

    async def read_live(
        self, event_id: str, after_seq: int, block_ms: int, count: int = 100
    ) -> list[LiveBatch]:
        resp = await self.redis.xread(
            {self._k(event_id, "live"): f"{after_seq}-0"}, count=count, block=block_ms or None
        )
        _honour_cancellation()
        return [
            _batch_from_fields(fields) for _key, entries in resp or [] for _id, fields in entries
        ]

    async def live_since(self, event_id: str, since: int) -> list[LiveBatch] | None:
        current = await self.live_seq(event_id)
        if since > current:
            return None  # the console saw a future we do not have (a reset store)
        if since == current:
            return []
        entries = await self.redis.xrange(self._k(event_id, "live"), min=f"({since}-0", max="+")
        batches = [_batch_from_fields(fields) for _id, fields in entries]
        if not batches or batches[0].seq_from > since + 1:
            return None
        batches[0] = batches[0].after(since)
        return batches

    # -- per-source streams: commands (console -> connector), inbox (webhook -> connector) --
    async def _source_add(self, event_id: str, suffix: str, payload: bytes) -> str:
        key = self._k(event_id, suffix)
        entry_id = await self.redis.xadd(key, {b"c": payload}, maxlen=10_000, approximate=True)
        return str(entry_id.decode())

    async def _source_read(
        self, event_id: str, suffix: str, consumer: str, count: int, block_ms: int
    ) -> list[CommandEntry]:
        key = self._k(event_id, suffix)
        await self._ensure_group(key, COMMAND_GROUP)
        # Our own pending first: entries a previous run of this connector took but
        # never acknowledged (it crashed mid-action). The consumer is named for the
        # source, so the worker that takes a lease over inherits its predecessor's.
        resp = await self.redis.xreadgroup(COMMAND_GROUP, consumer, {key: "0"}, count=count)
        entries = [e for _k2, es in resp or [] for e in es if e[1]]
        if not entries:
            resp = await self.redis.xreadgroup(
                COMMAND_GROUP, consumer, {key: ">"}, count=count, block=block_ms or None
            )
            _honour_cancellation()
            entries = [e for _k2, es in resp or [] for e in es]
        return [CommandEntry(i.decode(), f[b"c"]) for i, f in entries]

    async def _source_ack(self, event_id: str, suffix: str, entry_ids: Sequence[str]) -> None:
        if entry_ids:
            await self.redis.xack(self._k(event_id, suffix), COMMAND_GROUP, *entry_ids)

    async def add_command(self, event_id: str, source_id: str, payload: bytes) -> str:
        return await self._source_add(event_id, f"cmd:{source_id}", payload)

    async def read_commands(
        self, event_id: str, source_id: str, consumer: str, count: int, block_ms: int
    ) -> list[CommandEntry]:
        return await self._source_read(event_id, f"cmd:{source_id}", consumer, count, block_ms)

    async def ack_command(self, event_id: str, source_id: str, entry_ids: Sequence[str]) -> None:
        await self._source_ack(event_id, f"cmd:{source_id}", entry_ids)

    async def add_inbox(self, event_id: str, source_id: str, payload: bytes) -> str:
        return await self._source_add(event_id, f"inbox:{source_id}", payload)

    async def read_inbox(
        self, event_id: str, source_id: str, count: int, block_ms: int
    ) -> list[CommandEntry]:
        return await self._source_read(event_id, f"inbox:{source_id}", source_id, count, block_ms)

    async def ack_inbox(self, event_id: str, source_id: str, entry_ids: Sequence[str]) -> None:
        await self._source_ack(event_id, f"inbox:{source_id}", entry_ids)

    # -- connector state: dedupe marks, cursors, health --
    async def first_sighting(self, name: str, ttl_s: int, holder: str | None = None) -> bool:
        holder = holder or uuid.uuid4().hex
        key = f"{self.ns}:seen:{name}"
        if await self.redis.set(key, holder.encode(), nx=True, ex=ttl_s):
            return True
        return bool(await self.redis.get(key) == holder.encode())

    async def save_cursor(self, name: str, value: str) -> None:
        await self.redis.set(f"{self.ns}:cursor:{name}", value.encode(), ex=CURSOR_TTL_S)

    async def load_cursor(self, name: str) -> str | None:
        value = await self.redis.get(f"{self.ns}:cursor:{name}")
        return value.decode() if value is not None else None

    async def put_health(self, event_id: str, source_id: str, health: bytes) -> None:
        await self.redis.hset(self._k(event_id, "health"), source_id, health)

    async def read_health(self, event_id: str) -> dict[str, bytes]:
        raw = await self.redis.hgetall(self._k(event_id, "health"))
        return {k.decode(): v for k, v in raw.items()}

    # -- active events --
    async def mark_event_active(self, event_id: str) -> None:
        await self.redis.sadd(f"{self.ns}:events", event_id)

    async def active_events(self) -> list[str]:
        return sorted(m.decode() for m in await self.redis.smembers(f"{self.ns}:events"))

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
        authors, keys = list(author_ids), list(texts)
        count_key, users_key, texts_key, interactions_key = (
            self._k(event_id, f"act:m:{minute}"),
            self._k(event_id, f"act:u:{minute}"),
            self._k(event_id, f"act:t:{minute}"),
            self._k(event_id, f"act:i:{minute}"),
        )
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incrby(count_key, messages)
            pipe.expire(count_key, ACTIVITY_TTL_S)
            if interactions:
                pipe.incrby(interactions_key, interactions)
                pipe.expire(interactions_key, ACTIVITY_TTL_S)
            if authors:
                pipe.pfadd(users_key, *authors)
                pipe.expire(users_key, ACTIVITY_TTL_S)
            if keys:
                pipe.pfadd(texts_key, *keys)
                pipe.expire(texts_key, ACTIVITY_TTL_S)
            await pipe.execute()

    async def read_activity(self, event_id: str, minute: int) -> tuple[int, int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self._k(event_id, f"act:m:{minute}"))
            pipe.pfcount(self._k(event_id, f"act:u:{minute}"))
            messages, uniques = await pipe.execute()
        return int(messages or 0), int(uniques or 0)

    async def read_distinct_texts(self, event_id: str, minute: int) -> int:
        return int(await self.redis.pfcount(self._k(event_id, f"act:t:{minute}")))

    async def read_interactions(self, event_id: str, minute: int) -> int:
        return int(await self.redis.get(self._k(event_id, f"act:i:{minute}")) or 0)

    async def set_viewers(self, event_id: str, platform: str, count: int) -> None:
        await self.redis.hset(self._k(event_id, "viewers"), platform, count)

    async def read_viewers(self, event_id: str) -> dict[str, int]:
        raw = await self.redis.hgetall(self._k(event_id, "viewers"))
        return {k.decode(): int(v) for k, v in raw.items()}

    # -- dirty marks --
    async def mark_dirty(self, name: str, member: str) -> None:
        await self.redis.hincrby(f"{self.ns}:dirty:{name}", member, 1)

    async def dirty_marks(self, name: str) -> dict[str, int]:
        raw = await self.redis.hgetall(f"{self.ns}:dirty:{name}")
        return {k.decode(): int(v) for k, v in raw.items()}

    async def clear_dirty(self, name: str, marks: dict[str, int]) -> None:
        if marks:
            args = [x for member, count in marks.items() for x in (member, str(count))]
            await self._clear_dirty(keys=[f"{self.ns}:dirty:{name}"], args=args)

    # -- leases --
    async def acquire_lease(self, name: str, owner: str, ttl_ms: int) -> bool:
        key = f"{self.ns}:lease:{name}"
        if await self.redis.set(key, owner, nx=True, px=ttl_ms):
            return True
        # Renew only if we still hold it (compare-and-set in one script).
        renewed = await self.redis.eval(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then "
            "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end",
            1,
            key,
            owner,
            ttl_ms,
        )
        return bool(renewed)

    async def release_lease(self, name: str, owner: str) -> None:
        await self.redis.eval(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then "
            "return redis.call('DEL', KEYS[1]) else return 0 end",
            1,
            f"{self.ns}:lease:{name}",
            owner,
        )

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self.redis.aclose()
