"""What every connector shares: handing envelopes to the bus, health, commands."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson

from app.bus import Bus
from app.envelope import Author, Envelope, Kind, make_envelope

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
    state: ConnectorState = ConnectorState.starting
    last_event_at: datetime | None = None
    last_keepalive_at: datetime | None = None
    reconnects: int = 0
    lag_s: float = 0.0
    quota_left: int | None = None
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "last_event_at": self.last_event_at.isoformat() if self.last_event_at else None,
            "last_keepalive_at": (
                self.last_keepalive_at.isoformat() if self.last_keepalive_at else None
            ),
            "reconnects": self.reconnects,
            "lag_s": self.lag_s,
            "quota_left": self.quota_left,
            "last_error": self.last_error,
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


class IngestWriter:
    """Hands envelopes to the bus; a call returns only once the bus holds them."""

    def __init__(self, bus: Bus, event_id: str) -> None:
        self.bus = bus
        self.event_id = event_id

    async def write(self, envelopes: Sequence[Envelope]) -> None:
        if envelopes:
            await self.bus.add_ingest(self.event_id, [e.to_json() for e in envelopes])


class Connector(ABC):
    """One platform link feeding one event. Subclasses implement produce() and perform()."""

    platform: str = "unknown"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, *, bus: Bus, event_id: str, source_id: str) -> None:
        self.bus = bus
        self.event_id = event_id
        self.source_id = source_id
        self.writer = IngestWriter(bus, event_id)
        self.health = Health()

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
        now = datetime.now(UTC)
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

    async def emit(self, envelopes: Sequence[Envelope]) -> None:
        await self.writer.write(envelopes)
        if envelopes:
            self.health.last_event_at = datetime.now(UTC)

    @abstractmethod
    async def produce(self) -> None:
        """Reads the platform until cancelled, emitting envelopes."""

    async def perform(self, action: Action) -> ActionResult:
        return ActionResult("not_supported", f"{self.platform} cannot {action.type}")

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
                try:
                    result = await self.perform(action)
                except Exception as exc:  # a platform error is a failed action, not a crash
                    log.exception("action %s failed", action.id)
                    result = ActionResult("failed", str(exc))
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

    async def run(self) -> None:
        """Runs the platform reader and the command loops until cancelled."""
        await self.bus.mark_event_active(self.event_id)
        tasks = [asyncio.create_task(self.produce(), name=f"{self.platform}-produce")]
        tasks += [
            asyncio.create_task(self.serve_commands(sid), name=f"{self.platform}-commands")
            for sid in self.source_ids()
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.health.state = ConnectorState.stopped
