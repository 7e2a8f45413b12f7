"""Between a platform reader and the bus: a bounded queue the reader never waits on.

A socket reader must keep answering keepalives even while Redis is slow, or the
platform closes the link (Twitch 4002/4005, unanswered IRC PINGs). So the reader only
offers envelopes here, and one task moves them to the bus in batches. When the queue
is full the policy is per kind: viewer counts and a native poll's running tallies are
coalesced (the latest wins), chat drops its oldest lines and counts them, and
everything else (moderation, a poll's final tally, stream state) is always kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence

from app.envelope import Envelope, Kind

log = logging.getLogger(__name__)

COALESCED = frozenset({Kind.viewers, Kind.shares})  # running counts: the newest says it all
DROPPABLE = frozenset({Kind.chat, Kind.question})


def _tally_key(envelope: Envelope) -> tuple[str, ...]:
    return (envelope.source_id, envelope.kind, str(envelope.data.get("platform_poll")))


def coalesce_key(envelope: Envelope) -> tuple[str, ...] | None:
    """Where an envelope of which only the latest matters is held; None to keep each one."""
    if envelope.kind in COALESCED:
        return (envelope.source_id, envelope.kind)
    if envelope.kind is Kind.poll_tally and envelope.data.get("final") is not True:
        return _tally_key(envelope)  # counts are cumulative: the newest says it all
    return None


class HandOff:
    """Offer envelopes from a reader; `run()` writes them to the bus, never losing one it held."""

    def __init__(
        self,
        write: Callable[[Sequence[Envelope]], object],
        *,
        limit: int = 20_000,
        batch: int = 500,
        on_written: Callable[[Sequence[Envelope]], None] | None = None,
        retry_s: float = 0.5,
    ) -> None:
        self._write = write
        self.limit = limit
        self.batch = batch
        self.retry_s = retry_s
        self._on_written = on_written
        self._queue: deque[Envelope] = deque()
        self._latest: dict[tuple[str, ...], Envelope] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.dropped = 0
        self._in_flight = 0

    def __len__(self) -> int:
        """Envelopes held and not yet on the bus, including the batch being written."""
        return len(self._queue) + len(self._latest) + self._in_flight

    def offer(self, envelope: Envelope) -> None:
        """Takes an envelope without waiting; applies the overflow policy when full."""
        key = coalesce_key(envelope)
        if key is not None:
            self._latest[key] = envelope
        else:
            if envelope.kind is Kind.poll_tally:
                # The final tally supersedes a running one still held, which would be
                # written after it (held ones go last) and look like the latest.
                self._latest.pop(_tally_key(envelope), None)
            self._queue.append(envelope)
            if len(self._queue) > self.limit:
                self._drop_oldest_chat()
        self._idle.clear()
        self._wake.set()

    def offer_many(self, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            self.offer(envelope)

    def _drop_oldest_chat(self) -> None:
        for index, queued in enumerate(self._queue):
            if queued.kind in DROPPABLE:
                del self._queue[index]
                self.dropped += 1
                return
        # Nothing droppable: everything held must be kept; the bound stretches.

    def _take(self) -> list[Envelope]:
        taken: list[Envelope] = []
        while self._queue and len(taken) < self.batch:
            taken.append(self._queue.popleft())
        if len(taken) < self.batch and self._latest:
            taken.extend(self._latest.values())
            self._latest.clear()
        return taken

    async def run(self) -> None:
        """Moves envelopes to the bus until cancelled; a failed write is retried, not lost."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while batch := self._take():
                self._in_flight = len(batch)
                while True:
                    try:
                        await self._write(batch)  # type: ignore[misc]
                        break
                    except asyncio.CancelledError:
                        self._in_flight = 0
                        self._requeue(batch)
                        raise
                    except Exception:
                        log.exception("bus write failed; retrying %d envelopes", len(batch))
                        await asyncio.sleep(self.retry_s)
                self._in_flight = 0
                if self._on_written is not None:
                    self._on_written(batch)
            self._idle.set()

    def _requeue(self, batch: list[Envelope]) -> None:
        self._queue.extendleft(reversed([e for e in batch if coalesce_key(e) is None]))

    async def drained(self, timeout: float) -> bool:
        """Waits until everything offered is on the bus; False if that took too long."""
        if not len(self):
            return True
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return not len(self)
