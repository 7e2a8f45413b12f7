"""Stopping a worker: a loop's pass under way finishes, rather than being cut half-way.

A database query cancelled half-way leaves its connection to be torn down, and with
aiosqlite that teardown can wait for ever (app/runtime.stop_gracefully); these check that
a stopping pipeline worker and connector supervisor let their pass end first.
"""

from __future__ import annotations

import asyncio

from app.connectors.registry import ConnectorSupervisor
from app.pipeline.worker import PipelineWorker
from app.runtime import stop_gracefully
from tests.conftest import Stack


class Pass:
    """A pass that takes a while, and says whether it ran to its end."""

    def __init__(self, seconds: float = 0.3) -> None:
        self.seconds = seconds
        self.started = asyncio.Event()
        self.finished = 0
        self.cut = 0

    async def __call__(self, *args: object, **kwargs: object) -> None:
        self.started.set()
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.cut += 1
            raise
        self.finished += 1


async def test_a_loop_past_its_grace_is_cancelled() -> None:
    stop = asyncio.Event()
    slow = Pass(seconds=30)

    async def loop() -> None:
        while not stop.is_set():
            await slow()

    task = asyncio.create_task(loop())
    await slow.started.wait()
    await asyncio.wait_for(stop_gracefully([task], stop, grace_s=0.05), 5)
    assert task.cancelled() and slow.cut == 1 and stop.is_set()


async def test_a_stopping_supervisor_lets_its_pass_finish(stack: Stack) -> None:
    supervisor = ConnectorSupervisor(stack.bus, stack.db, owner="w1")
    work = Pass()
    supervisor.supervise_once = work  # type: ignore[method-assign]
    running = asyncio.create_task(supervisor.run())
    await work.started.wait()
    running.cancel()
    await asyncio.wait_for(asyncio.gather(running, return_exceptions=True), 5)
    assert (work.finished, work.cut) == (1, 0)


async def test_a_stopping_pipeline_worker_lets_its_tick_finish(stack: Stack) -> None:
    worker = PipelineWorker(stack.bus, stack.db, consumer="w1")
    tick = Pass()
    worker.tick_gauges = tick  # type: ignore[method-assign]
    await stack.bus.mark_event_active("e1")
    running = asyncio.create_task(worker.run())
    await tick.started.wait()
    running.cancel()
    await asyncio.wait_for(asyncio.gather(running, return_exceptions=True), 5)
    assert (tick.finished, tick.cut) == (1, 0)
