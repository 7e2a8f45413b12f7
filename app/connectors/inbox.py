"""Webhook platforms: verify at the door, queue the raw delivery, process it from the bus.

The HTTP route (app/connectors/hooks.py) answers fast: it checks the signature on the
raw bytes, stores the delivery in the source's inbox stream and returns 2xx. The
connector, running once under its lease in a worker, reads the inbox, drops
redeliveries (same delivery id), parses, hands envelopes to the ingest stream, and only
then acknowledges. A worker that dies mid-way leaves its deliveries pending; the next
holder of the lease picks them up, and the pipeline's (source, message id) dedupe covers
anything handed on twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import orjson

from app.connectors.base import Connector
from app.connectors.credentials import Credentials
from app.connectors.errors import Malformed
from app.envelope import Envelope

# Zoom retries over about 85 minutes; keep delivery ids well beyond that.
DEDUPE_TTL_S = 3 * 3600


@dataclass(frozen=True)
class Reply:
    """What the route answers: a status, an optional JSON body, and whether to queue it."""

    status: int = 204
    body: Mapping[str, Any] | None = None
    store: bool = True


@dataclass(frozen=True)
class Delivery:
    """A verified delivery as it sits in the inbox: selected headers and the raw body."""

    headers: Mapping[str, str]
    body: bytes
    received_at: datetime
    entry_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        head = orjson.dumps({"h": dict(self.headers), "at": self.received_at.isoformat()})
        return head + b"\n" + self.body

    @classmethod
    def from_bytes(cls, payload: bytes, entry_id: str = "") -> Delivery:
        head, _, body = payload.partition(b"\n")
        meta = orjson.loads(head)
        return cls(meta["h"], body, datetime.fromisoformat(meta["at"]), entry_id)

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            raise Malformed(f"body is not JSON: {exc}") from exc


class WebhookConnectorBase(Connector):
    """A connector fed by its inbox. Subclasses verify (at the door) and parse (here)."""

    # Headers kept with a delivery (lower case); the rest are not needed to parse it.
    kept_headers: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def verify(
        cls,
        config: Mapping[str, Any],
        credentials: Credentials,
        headers: Mapping[str, str],
        body: bytes,
        now: datetime,
    ) -> Reply:
        """Checks a delivery at the door; raises SignatureError (401) when it is not genuine."""
        raise NotImplementedError

    def delivery_id(self, delivery: Delivery) -> str | None:
        """The sender's id for this delivery (repeated on its retries), if it has one."""
        return None

    def parse(self, delivery: Delivery) -> Sequence[Envelope]:
        """The envelopes a delivery carries; raises Malformed when it carries nonsense."""
        raise NotImplementedError

    async def after_parse(self, delivery: Delivery, envelopes: Sequence[Envelope]) -> None:
        """Hook for side effects of a delivery (headcounts, report imports)."""

    async def after_batch(self) -> None:
        """Hook run after a batch is handled and before it is acknowledged (save state:
        a crash before the ack replays the batch, so state saved here stays consistent)."""

    async def produce(self) -> None:
        self.connected()
        while True:
            entries = await self.bus.read_inbox(
                self.event_id, self.source_id, count=100, block_ms=1000
            )
            for entry in entries:
                await self._handle(entry.entry_id, entry.payload)
            if entries:
                await self.after_batch()
            await self.bus.ack_inbox(self.event_id, self.source_id, [e.entry_id for e in entries])
            if not entries:
                await asyncio.sleep(0)

    async def _handle(self, entry_id: str, payload: bytes) -> None:
        try:
            delivery = Delivery.from_bytes(payload, entry_id)
        except (ValueError, KeyError) as exc:
            await self.dead_letter(payload, f"unreadable inbox entry: {exc}")
            return
        delivery_id = self.delivery_id(delivery)
        if delivery_id and not await self.bus.first_sighting(
            f"delivery:{self.source_id}:{delivery_id}", DEDUPE_TTL_S, holder=entry_id
        ):
            return  # the sender's retry of a delivery we already have
        try:
            envelopes = self.parse(delivery)
        except (Malformed, ValueError, KeyError, TypeError) as exc:
            await self.dead_letter(delivery.body, f"{type(exc).__name__}: {exc}")
            return
        await self.emit(envelopes)
        await self.after_parse(delivery, envelopes)
