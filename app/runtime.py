"""Process-wide settings of a long-running controlroom process."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)


def quiet_gc() -> None:
    """Keeps the garbage collector's full passes short once the process has started.

    Everything imported and built at startup (FastAPI, SQLAlchemy, pydantic: a few
    hundred thousand objects) lives as long as the process; a full collection would
    walk all of it again each time, stalling the event loop for 50-75 ms (measured in
    serve under the Live-10 load), long enough to miss a console's latency target.
    Freezing moves them out of the collector's sight; what is made later is collected
    as usual.
    """
    gc.collect()
    gc.freeze()


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[Any]], *, wait_s: float = 2.0, attempts: int = 3
) -> bool:
    """Cancels tasks and waits until they end; True if they all did.

    Python 3.11's asyncio.wait_for (which redis-py awaits while sending a command)
    drops a cancellation that races the completion of what it waits for; the task then
    runs on, and a plain cancel-and-gather would wait forever. Asking again ends it.
    Stopping a connector must not hang a worker, so each round waits at most `wait_s`.
    """
    pending = {t for t in tasks if not t.done()}
    for _ in range(attempts):
        if not pending:
            return True
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=wait_s)
    for task in pending:
        log.error("task %s did not stop after %d cancellations", task.get_name(), attempts)
    return not pending


STOP_GRACE_S = 2.0  # how long a stopping loop may take to finish its pass


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Sleeps between a loop's passes; True as soon as `stop` is set (the loop should end)."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def stop_gracefully(
    tasks: Iterable[asyncio.Task[Any]], stop: asyncio.Event, *, grace_s: float = STOP_GRACE_S
) -> None:
    """Sets `stop`, lets each loop finish its pass for up to `grace_s`, then cancels the rest.

    A database query cancelled half-way leaves its connection to be torn down, and
    aiosqlite's teardown then waits for ever on a worker thread that is already gone (seen
    as a test run hung in event-loop teardown). Loops that watch `stop` between passes
    end on their own instead.
    """
    stop.set()
    pending = [t for t in tasks if not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=grace_s)
    await cancel_and_wait(pending)
