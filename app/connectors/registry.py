"""Which connector serves which sources, and running each exactly once across workers."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from app.bus import Bus
from app.connectors.base import Connector
from app.db import Database
from app.events.models import Source
from app.runtime import cancel_and_wait, pause, stop_gracefully

log = logging.getLogger(__name__)

LEASE_TTL_MS = 6_000
SUPERVISE_INTERVAL_S = 2.0


@dataclass(frozen=True)
class Unit:
    """What runs as one connector: a key for its lease and the sources it serves.

    `revision` changes when a source is edited, so the running connector is replaced
    by one built from the new settings.
    """

    key: str
    platform: str
    event_id: str
    source_ids: tuple[str, ...]
    revision: tuple[int, ...] = ()


def _build_simulator(bus: Bus, event_id: str, sources: Sequence[Source]) -> Connector:
    from app.connectors.simulator import Simulator

    config = sources[0].config or {}
    return Simulator(
        bus=bus,
        event_id=event_id,
        sources={str(s.config.get("plays", s.name)): s.id for s in sources},
        scenario=str(config.get("scenario", "demo")),
        seed=config.get("seed"),
        speed=float(config.get("speed", 1.0)),
        rate_scale=float(config.get("rate_scale", 1.0)),
        loop=bool(config.get("loop", True)),
    )


# platform -> "module:Class"; imported when first needed, so a worker loads only what it runs.
CONNECTOR_CLASSES: dict[str, str] = {
    "simulator": "app.connectors.simulator:Simulator",
    "twitch": "app.connectors.twitch:TwitchConnector",
    "youtube": "app.connectors.youtube:YouTubeConnector",
    "zoom": "app.connectors.zoom:ZoomConnector",
    "owncast": "app.connectors.owncast:OwncastConnector",
    "webhook": "app.connectors.webhook:WebhookConnector",
}


def connector_class(platform: str) -> type[Connector] | None:
    path = CONNECTOR_CLASSES.get(platform)
    if path is None:
        return None
    module, name = path.split(":")
    try:
        cls: type[Connector] = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        log.exception("connector for %s is not available", platform)
        return None
    return cls


def build(bus: Bus, unit: Unit, sources: Sequence[Source]) -> Connector:
    if unit.platform == "simulator":
        return _build_simulator(bus, unit.event_id, sources)
    cls = connector_class(unit.platform)
    if cls is None:
        raise LookupError(f"no connector for platform {unit.platform!r}")
    return cls.for_source(bus, sources[0])


def capabilities_for(platform: str) -> frozenset[str]:
    """What a source of this platform can do on the platform (delete, timeout, ban, ...)."""
    cls = connector_class(platform)
    return frozenset(c.value for c in cls.capabilities) if cls else frozenset()


def units_for(sources: Sequence[Source]) -> list[Unit]:
    """Simulated platforms of one event play as one simulator (a drill's as another, so
    it plays its own scenario beside the show's); other sources run alone."""
    grouped: dict[tuple[str, str], list[Source]] = defaultdict(list)
    units: list[Unit] = []
    for source in sources:
        if source.platform == "simulator":
            drill = ":drill" if source.is_drill else ""
            grouped[(source.event_id, drill)].append(source)
        else:
            units.append(
                Unit(source.id, source.platform, source.event_id, (source.id,), (source.version,))
            )
    for (event_id, drill), group in grouped.items():
        group.sort(key=lambda s: s.id)
        ids = tuple(s.id for s in group)
        revision = tuple(s.version for s in group)
        units.append(Unit(f"simulator:{event_id}{drill}", "simulator", event_id, ids, revision))
    return units


class ConnectorSupervisor:
    """Starts the connectors whose lease this worker wins; stops them if it loses it."""

    def __init__(self, bus: Bus, db: Database, *, owner: str) -> None:
        self.bus = bus
        self.db = db
        self.owner = owner
        self.running: dict[Unit, asyncio.Task[None]] = {}
        self.connectors: dict[Unit, Connector] = {}

    async def _enabled_sources(self) -> list[Source]:
        async with self.db.sessions() as session:
            rows = await session.scalars(select(Source).where(Source.enabled.is_(True)))
            return list(rows.all())

    async def supervise_once(self) -> None:
        sources = await self._enabled_sources()
        wanted = {u for u in units_for(sources) if u.platform in CONNECTOR_CLASSES}
        by_id = {s.id: s for s in sources}
        for unit in list(self.running):
            task = self.running[unit]
            held = unit in wanted and await self.bus.acquire_lease(
                f"connector:{unit.key}", self.owner, LEASE_TTL_MS
            )
            if not held or task.done():
                await self._stop(unit)
        for unit in wanted - set(self.running):
            if not await self.bus.acquire_lease(f"connector:{unit.key}", self.owner, LEASE_TTL_MS):
                continue
            try:
                connector = build(self.bus, unit, [by_id[i] for i in unit.source_ids])
            except Exception:
                log.exception("cannot build connector %s", unit.key)
                await self.bus.release_lease(f"connector:{unit.key}", self.owner)
                continue
            self.connectors[unit] = connector
            self.running[unit] = asyncio.create_task(connector.run(), name=f"connector-{unit.key}")
            log.info("connector %s started on %s", unit.key, self.owner)

    async def _stop(self, unit: Unit) -> None:
        task = self.running.pop(unit)
        self.connectors.pop(unit, None)
        # The connector drains what it read (up to 5 s) before it lets go.
        await cancel_and_wait([task], wait_s=10.0)
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("connector %s ended with an error", unit.key, exc_info=task.exception())
        await self.bus.release_lease(f"connector:{unit.key}", self.owner)

    async def run(self) -> None:
        """Supervises until cancelled; then a pass under way may finish (its query is not
        cut half-way, see app/runtime.stop_gracefully) and every connector is stopped."""
        stop = asyncio.Event()
        loop = asyncio.create_task(self._loop(stop), name="connector-supervision")
        try:
            await asyncio.wait([loop])  # unlike awaiting it, a cancel here leaves it be
            loop.result()
        finally:
            await stop_gracefully([loop], stop)
            for unit in list(self.running):
                await self._stop(unit)

    async def _loop(self, stop: asyncio.Event) -> None:
        while True:
            try:
                await self.supervise_once()
            except Exception:
                log.exception("connector supervision failed")
            if await pause(stop, SUPERVISE_INTERVAL_S):
                return
