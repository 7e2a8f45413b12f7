"""A connector started for the length of a block, and stopped however the block ends."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

from app.connectors.base import Connector

C = TypeVar("C", bound=Connector)


@contextlib.asynccontextmanager
async def started(connector: C, timeout: float = 5) -> AsyncIterator[C]:
    """Starts the connector (waiting up to `timeout` s for it to connect), yields it, stops it."""
    await connector.start(timeout=timeout)
    try:
        yield connector
    finally:
        await connector.stop()
