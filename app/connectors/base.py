"""The connector contract: lifecycle, handing envelopes to the bus, reconnects, health, actions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from app.bus import Bus
from app.connectors.backoff import Backoff
from app.connectors.clock import SYSTEM_CLOCK, Clock
from app.connectors.credentials import Credentials
from app.connectors.errors import (
    AuthFailed,
    ConnectorError,
    NotConfigured,
    RateLimited,
    ReconnectNow,
)
from app.connectors.handoff import HandOff
from app.envelope import Author, Envelope, Kind, make_envelope
from app.pipeline.deltas import delta
from app.runtime import cancel_and_wait

log = logging.getLogger(__name__)


class Capability(StrEnum):
    delete = "delete"
    timeout = "timeout"
    ban = "ban"
    native_polls = "native_polls"
    viewer_counts = "viewer_counts"
    send_message = "send_message"


class ConnectorState(StrEnum):
    starting = "starting"
    connected = "connected"
    reconnecting = "reconnecting"
    paused = "paused"
    failed = "failed"
    stopped = "stopped"


@dataclass
class Health:
    """How a source is doing, as ops see it in the sources panel."""

    state: ConnectorState = ConnectorState.starting
    last_event_at: datetime | None = None
    last_keepalive_at: datetime | None = None
    connected_at: datetime | None = None
    reconnects: int = 0
    lag_s: float = 0.0
    quota_left: int | None = None
    quota_note: str | None = None
    malformed: int = 0
    dropped: int = 0
    last_error: str | None = None
    errors: deque[tuple[datetime, str]] = field(default_factory=lambda: deque(maxlen=5))

    def as_dict(self) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return at.isoformat() if at else None

        return {
            "state": self.state.value,
            "last_event_at": iso(self.last_event_at),
            "last_keepalive_at": iso(self.last_keepalive_at),
            "connected_at": iso(self.connected_at),
            "reconnects": self.reconnects,
            "lag_s": round(self.lag_s, 3),
            "quota_left": self.quota_left,
            "quota_note": self.quota_note,
            "malformed": self.malformed,
            "dropped": self.dropped,
            "last_error": self.last_error,
            "errors": [{"at": iso(at), "message": message} for at, message in self.errors],
        }


@dataclass(frozen=True)
class Action:
    """A console action for the platform: delete, timeout, ban, send_message."""

    id: str
    type: str
    source_id: str
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, payload: bytes) -> Action:
        data = orjson.loads(payload)
        return cls(data["id"], data["type"], data["source_id"], data.get("params") or {})

    def to_json(self) -> bytes:
        return orjson.dumps(
            {"id": self.id, "type": self.type, "source_id": self.source_id, "params": self.params}
        )


@dataclass(frozen=True)
class ActionResult:
    status: str  # done | failed | not_supported
    reason: str | None = None


HEALTH_INTERVAL_S = 2.0


class Connector(ABC):
    """One platform link feeding one event.

    Subclasses implement produce() (read the platform until cancelled) and, for the
    moderation they support, perform(). Socket readers hand envelopes over with
    offer(), which never waits; pollers use emit(), which returns once the bus holds
    them (waiting is harmless there: the page token keeps their place).
    """

    platform: str = "unknown"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(
        self,
        *,
        bus: Bus,
        event_id: str,
        source_id: str,
        config: Mapping[str, Any] | None = None,
        credentials: Credentials | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        self.bus = bus
        self.event_id = event_id
        self.source_id = source_id
        self.config = dict(config or {})
        self.credentials = credentials or Credentials()
        self.clock = clock
        self.rng = rng or random.Random()
        self.health = Health()
        self.backoff = Backoff(clock=clock, rng=self.rng)
        self.handoff = HandOff(self._write, on_written=self._written)
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._reported_state: ConnectorState | None = None

    @classmethod
    def for_source(cls, bus: Bus, source: Any, **kwargs: Any) -> Connector:
        """Builds the connector of one source row (its config and credentials)."""
        return cls(
            bus=bus,
            event_id=source.event_id,
            source_id=source.id,
            config=source.config or {},
            credentials=Credentials(source.credentials or {}),
            **kwargs,
        )

    # -- envelopes --
    def envelope(
        self,
        kind: Kind,
        platform_message_id: str,
        *,
        platform_at: datetime | None = None,
        author: Author | None = None,
        text: str | None = None,
        data: dict[str, Any] | None = None,
        raw: Any = None,
        platform: str | None = None,
        source_id: str | None = None,
    ) -> Envelope:
        now = self.clock.now()
        return make_envelope(
            event_id=self.event_id,
            source_id=source_id or self.source_id,
            platform=platform or self.platform,
            kind=kind,
            platform_message_id=platform_message_id,
            platform_at=platform_at or now,
            author=author,
            text=text,
            data=data,
            raw=raw,
            ingest_at=now,
        )

    def offer(self, envelope: Envelope) -> None:
        """Hands an envelope to the bus writer without waiting (socket readers)."""
        self.handoff.offer(envelope)

    async def emit(self, envelopes: Sequence[Envelope]) -> None:
        """Writes envelopes to the bus; returns once it holds them (pollers, webhooks)."""
        if envelopes:
            await self._write(envelopes)
            self._written(envelopes)

    async def _write(self, envelopes: Sequence[Envelope]) -> None:
        await self.bus.add_ingest(self.event_id, [e.to_json() for e in envelopes])

    def _written(self, envelopes: Sequence[Envelope]) -> None:
        now = self.clock.now()
        self.health.last_event_at = now
        self.health.lag_s = max(0.0, (now - envelopes[-1].platform_at).total_seconds())
        self.health.dropped = self.handoff.dropped

    async def dead_letter(self, raw: bytes | str | Any, reason: str) -> None:
        """Sets malformed input aside with the reason; counted, never fatal."""
        self.health.malformed += 1
        if isinstance(raw, str):
            payload = raw.encode()
        elif isinstance(raw, bytes):
            payload = raw
        else:
            payload = orjson.dumps(raw, default=str)
        log.warning("%s source %s: dead-lettered input: %s", self.platform, self.source_id, reason)
        await self.bus.add_dead_letter(
            self.event_id, payload, f"{self.platform}: {reason}", source_id=self.source_id
        )

    # -- state --
    def connected(self) -> None:
        """The platform link is up and subscribed: start() may return."""
        self.health.connected_at = self.clock.now()
        self.backoff.connected()
        self.set_state(ConnectorState.connected)
        self._ready.set()

    def keepalive(self) -> None:
        self.health.last_keepalive_at = self.clock.now()

    def set_state(self, state: ConnectorState, error: str | None = None) -> None:
        self.health.state = state
        if error:
            error = self.credentials.scrub(error)[:500]
            self.health.last_error = error
            self.health.errors.append((self.clock.now(), error))

    async def refresh_credentials(self) -> bool:
        """Gets new credentials after an auth failure; True if there is something to retry."""
        return False

    async def keep_connected(self, session: Callable[[], Awaitable[None]]) -> None:
        """Runs `session` again and again: backoff after a drop, at once when told to move.

        A session returns (or raises) when its connection ends. Auth failures get one
        credential refresh, then the source is FAILED until someone edits it.
        """
        refreshed = False
        while True:
            try:
                await session()
                delay, reason = self.backoff.next_delay(), "connection closed"
            except ReconnectNow as exc:
                delay, reason = 0.0, str(exc)
            except AuthFailed as exc:
                if not refreshed and await self.refresh_credentials():
                    refreshed = True
                    delay, reason = 0.0, f"credentials refreshed after: {exc}"
                else:
                    self.set_state(ConnectorState.failed, f"authentication failed: {exc}")
                    return
            except NotConfigured as exc:
                self.set_state(ConnectorState.failed, str(exc))
                return
            except RateLimited as exc:
                delay, reason = exc.retry_after_s, f"rate limited: {exc}"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any other break is a reconnect, never a crash
                if not isinstance(exc, ConnectorError | OSError):
                    log.exception("%s source %s: session error", self.platform, self.source_id)
                delay, reason = self.backoff.next_delay(), f"{type(exc).__name__}: {exc}"
            self.health.reconnects += 1
            self.set_state(ConnectorState.reconnecting, reason)
            await self.report_health()
            await self.clock.sleep(delay)

    # -- health --
    def health_dict(self) -> dict[str, Any]:
        return {
            **self.health.as_dict(),
            "platform": self.platform,
            "capabilities": sorted(c.value for c in self.capabilities),
            "queued": len(self.handoff),
            "reported_at": self.clock.now().isoformat(),
        }

    async def report_health(self) -> None:
        """Stores health for the API; a change of state also goes to consoles as a delta."""
        body = self.health_dict()
        payload = orjson.dumps(body)
        for source_id in self.source_ids():
            await self.bus.put_health(self.event_id, source_id, payload)
        if self.health.state != self._reported_state:
            self._reported_state = self.health.state
            await self.bus.publish_live(
                self.event_id,
                [
                    delta("sources", "source.health", {**body, "source_id": sid})
                    for sid in self.source_ids()
                ],
                urgent=True,
            )

    async def _report_health_forever(self) -> None:
        while True:
            try:
                await self.report_health()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("health report failed for %s", self.source_id)
            await asyncio.sleep(HEALTH_INTERVAL_S)

    # -- platform --
    @abstractmethod
    async def produce(self) -> None:
        """Reads the platform until cancelled, handing envelopes over."""

    async def perform(self, action: Action) -> ActionResult:
        return ActionResult("not_supported", f"{self.platform} cannot {action.type}")

    async def close(self) -> None:
        """Releases clients (HTTP, sockets) after produce has stopped."""
        return None

    def source_ids(self) -> list[str]:
        """Sources whose command streams this connector serves."""
        return [self.source_id]

    async def serve_commands(self, source_id: str) -> None:
        """Performs console actions for one source and reports each result as an envelope."""
        while True:
            entries = await self.bus.read_commands(
                self.event_id, source_id, consumer=source_id, count=10, block_ms=1000
            )
            for entry in entries:
                try:
                    action = Action.from_json(entry.payload)
                except (ValueError, KeyError) as exc:
                    log.warning("malformed command on %s: %s", source_id, exc)
                    await self.bus.ack_command(self.event_id, source_id, [entry.entry_id])
                    continue
                result = await self._perform_with_retries(action)
                await self.emit(
                    [
                        self.envelope(
                            Kind.moderation_result,
                            f"action:{action.id}",
                            source_id=source_id,
                            data={
                                "action_id": action.id,
                                "action": action.type,
                                "params": action.params,
                                "status": result.status,
                                "reason": result.reason,
                            },
                        )
                    ]
                )
                await self.bus.ack_command(self.event_id, source_id, [entry.entry_id])

    async def _perform_with_retries(self, action: Action, attempts: int = 3) -> ActionResult:
        """perform(), waiting out rate limits; a refusal is a failed action, not a crash."""
        for attempt in range(attempts):
            try:
                return await self.perform(action)
            except RateLimited as exc:
                if attempt == attempts - 1:
                    return ActionResult("failed", self.credentials.scrub(f"rate limited: {exc}"))
                await self.clock.sleep(exc.retry_after_s)
            except Exception as exc:
                if not isinstance(exc, ConnectorError):
                    log.exception("action %s failed", action.id)
                return ActionResult("failed", self.credentials.scrub(str(exc)))
        raise AssertionError("unreachable")

    # -- lifecycle --
    async def start(self, timeout: float | None = None) -> None:
        """Starts reading; returns once connected (or when produce ends, e.g. FAILED)."""
        await self.bus.mark_event_active(self.event_id)
        produce = asyncio.create_task(self._produce(), name=f"{self.platform}-produce")
        self._tasks = [
            produce,
            asyncio.create_task(self.handoff.run(), name=f"{self.platform}-handoff"),
            asyncio.create_task(self._report_health_forever(), name=f"{self.platform}-health"),
        ]
        self._tasks += [
            asyncio.create_task(self.serve_commands(sid), name=f"{self.platform}-commands")
            for sid in self.source_ids()
        ]
        ready = asyncio.create_task(self._ready.wait())
        try:
            await asyncio.wait({ready, produce}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            ready.cancel()

    async def _produce(self) -> None:
        try:
            await self.produce()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("%s source %s stopped", self.platform, self.source_id)
            self.set_state(ConnectorState.failed, f"{type(exc).__name__}: {exc}")
        await self.report_health()

    async def stop(self, *, drain_timeout: float = 5.0) -> None:
        """Stops reading, lets what was read reach the bus (up to drain_timeout), closes."""
        produce, others = (self._tasks[0], self._tasks[1:]) if self._tasks else (None, [])
        if produce is not None:
            await cancel_and_wait([produce])
        if not await self.handoff.drained(drain_timeout):
            log.warning("%s: %d envelopes not drained", self.source_id, len(self.handoff))
        await cancel_and_wait(others)
        self._tasks = []
        with contextlib.suppress(Exception):
            await self.close()
        self.set_state(ConnectorState.stopped)
        with contextlib.suppress(Exception):
            await self.report_health()

    async def run(self) -> None:
        """Runs until cancelled. A source that FAILED stays up, saying so, until edited."""
        await self.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await asyncio.shield(self.stop())
