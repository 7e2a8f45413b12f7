"""Helpers for connector tests: a connector for the length of a block, and reading what it did."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from app.bus import Bus
from app.connectors.base import Connector
from app.envelope import Envelope

C = TypeVar("C", bound=Connector)


@contextlib.asynccontextmanager
async def started(connector: C, timeout: float = 5) -> AsyncIterator[C]:
    """Starts the connector (waiting up to `timeout` s for it to connect), yields it, stops it."""
    await connector.start(timeout=timeout)
    try:
        yield connector
    finally:
        await connector.stop()


async def ingest_until(
    bus: Bus,
    event_id: str,
    seen: list[Envelope],
    until: Callable[[list[Envelope]], bool],
    timeout: float = 5.0,
) -> list[Envelope]:
    """Reads the ingest stream into `seen` until `until(seen)` holds; returns `seen`."""
    deadline = time.monotonic() + timeout
    while not until(seen):
        assert time.monotonic() < deadline, f"timed out; got {[e.kind.value for e in seen]}"
        entries = await bus.read_ingest("test", [event_id], 500, block_ms=50)
        seen += [Envelope.from_json(e.payload) for e in entries]
    return seen


async def inbox_acknowledged(bus: Bus, event_id: str, source_id: str) -> None:
    """Waits until the connector acknowledged everything it took from its inbox."""
    for _ in range(100):
        # Read as the connector's own consumer: only its unacknowledged entries come back.
        if not await bus.read_inbox(event_id, source_id, 10, 10):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("deliveries left unacknowledged")
