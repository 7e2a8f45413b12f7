"""The worker process: the pipeline plus the connectors of every enabled source."""

from __future__ import annotations

import asyncio
import logging

from app.bus import Bus
from app.config import Settings
from app.connectors.registry import ConnectorSupervisor
from app.db import Database
from app.pipeline.worker import PipelineWorker

log = logging.getLogger(__name__)


async def run_worker(settings: Settings, db: Database, bus: Bus) -> None:
    pipeline = PipelineWorker(bus, db, batch_size=settings.worker_batch)
    supervisor = ConnectorSupervisor(bus, db, owner=pipeline.consumer)
    log.info("worker %s started", pipeline.consumer)
    await asyncio.gather(pipeline.run(), supervisor.run())
