"""What every audience page of an event sees, read once a moment per process.

Thousands of audience pages refresh every few seconds and vote within the same few
seconds of a poll. What they all see (the event, the poll, the approved questions) is
the same for all of them, so each process reads it at most once a moment per code,
one read at a time however many requests wait for it (the setting
audience_snapshot_s, 1 s by default: a newly approved question shows within it); a request costs the database
nothing more unless it writes (upvotes) or asks for its own ballot (`mine`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi.encoders import jsonable_encoder

from app.audience import service
from app.bus import Bus
from app.db import Database
from app.errors import NotFound
from app.polls.live import OpenPoll

# A vote for a poll the snapshot does not know (launched since?) re-reads a snapshot
# this old: short, yet a flood of votes for a bogus poll costs one read per FRESH_S.
FRESH_S = 0.05
MAX_CODES = 10_000  # remembered codes (unknown ones included), cleared beyond this


@dataclass(frozen=True)
class Snapshot:
    source_id: str
    event_id: str
    shared: dict[str, Any]  # the page as JSON types, without the reader's own bits
    open_poll: OpenPoll | None
    read_at: float
    # Encoded once: the page as every reader without a ballot or upvote sees it (a new
    # browser), and as a refresh without `mine` gets it.
    newcomer_body: bytes = field(default=b"", repr=False)
    shared_body: bytes = field(default=b"", repr=False)

    def with_own(self, choices: list[int] | None, voted: set[str]) -> dict[str, Any]:
        """The page with one reader's ballot and upvotes filled in."""
        poll = self.shared["poll"]
        return {
            **self.shared,
            "poll": None if poll is None else {**poll, "my_choices": choices},
            "questions": [{**q, "voted": q["id"] in voted} for q in self.shared["questions"]],
        }


class Snapshots:
    def __init__(self, db: Database, bus: Bus, max_age_s: float) -> None:
        self.db = db
        self.bus = bus
        self.max_age_s = max_age_s
        self._by_code: dict[str, Snapshot | None] = {}  # None: no such page
        self._read_at: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.reads = 0  # database reads made, for tests and the benchmark

    async def get(self, code: str, *, max_age_s: float | None = None) -> Snapshot:
        """The page's snapshot, read again if older than max_age_s; 404 for no such code."""
        max_age_s = self.max_age_s if max_age_s is None else min(max_age_s, self.max_age_s)
        if not self._fresh(code, max_age_s):
            lock = self._locks.setdefault(code, asyncio.Lock())
            async with lock:
                # Whoever waited on the lock finds the read the holder just made.
                if not self._fresh(code, max_age_s):
                    await self._read(code)
        found = self._by_code.get(code)
        if found is None:
            raise NotFound("no audience page with this code: check the link you were given")
        return found

    def forget(self, code: str) -> None:
        """After a write this process made (a new code, a launch): the next get reads."""
        self._read_at.pop(code, None)

    def _fresh(self, code: str, max_age_s: float) -> bool:
        read_at = self._read_at.get(code)
        return read_at is not None and time.monotonic() - read_at < max_age_s

    async def _read(self, code: str) -> None:
        if len(self._read_at) >= MAX_CODES:
            # Random codes from a scanner must not grow this without bound.
            self._by_code.clear()
            self._read_at.clear()
            self._locks = {c: lock for c, lock in self._locks.items() if lock.locked()}
        now = time.monotonic()
        self.reads += 1
        async with self.db.sessions() as session:
            try:
                source, event = await service.by_code(session, code)
            except NotFound:
                self._by_code[code] = None
            else:
                shared, open_poll = await service.shared_page(session, event)
                self._by_code[code] = _snapshot(source.id, event.id, shared, open_poll, now)
                # Questions and votes are handed to the pipeline on this event's ingest
                # stream: it reads streams of active events, and nothing unmarks one, so
                # marking here (once a read) stands for every write until the next read.
                await self.bus.mark_event_active(event.id)
        self._read_at[code] = now


def _snapshot(
    source_id: str,
    event_id: str,
    shared: dict[str, Any],
    open_poll: OpenPoll | None,
    now: float,
) -> Snapshot:
    shared = jsonable_encoder(shared)
    found = Snapshot(source_id, event_id, shared, open_poll, now)
    return Snapshot(
        source_id,
        event_id,
        shared,
        open_poll,
        now,
        newcomer_body=orjson.dumps(found.with_own(None, set())),
        shared_body=orjson.dumps(shared),
    )
