"""Drills: a rehearsal scenario played on the event's real pipeline.

A drill adds a simulator source to the event (platform "drill", its own simulator unit
beside the show's) that plays a drill scenario: the detectors see its viewers fall or
its chat flood like any platform's and open incidents the team works through the
playbook. While a drill runs, every incident the event opens is marked a drill, so the
response metrics and the report leave it out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.models import User
from app.bus import Bus
from app.connectors.scenario import load_scenario
from app.errors import AppError, Conflict
from app.events.models import Event, Source
from app.pipeline.deltas import delta

SCENARIOS = {"stream_drop": "drill-stream-drop", "spam_raid": "drill-spam-raid"}
AFTER_S = 120  # a drill stays "on" this long after its scenario ends: the team finishes


class InvalidDrill(AppError):
    status_code = 422
    code = "invalid_drill"


class DrillRunning(Conflict):
    code = "drill_running"


def _key(event_id: str) -> str:
    return f"drill:{event_id}"


async def current(bus: Bus, event_id: str, now: datetime) -> dict[str, Any] | None:
    """The drill running on this event, or None (none, or it is over)."""
    raw = await bus.load_cursor(_key(event_id))
    if not raw:
        return None
    drill: dict[str, Any] = orjson.loads(raw)
    if not drill.get("until") or datetime.fromisoformat(drill["until"]) <= now:
        return None
    return drill


async def start(
    session: AsyncSession,
    bus: Bus,
    event: Event,
    scenario: str,
    actor: User,
    now: datetime,
    *,
    speed: float = 1.0,
) -> dict[str, Any]:
    """Starts a drill; the caller commits, then calls `announce`."""
    if scenario not in SCENARIOS:
        raise InvalidDrill(f"no drill {scenario!r}: choose one of {', '.join(sorted(SCENARIOS))}")
    if not 0.1 <= speed <= 20:
        raise InvalidDrill("speed must be between 0.1 and 20 (1 is real time)")
    if (running := await current(bus, event.id, now)) is not None:
        raise DrillRunning(f"a {running['scenario']} drill is running", current=running)
    name = SCENARIOS[scenario]
    length_s = load_scenario(name).duration_s / speed
    source = Source(
        event_id=event.id,
        platform="simulator",
        name=f"Drill: {scenario.replace('_', ' ')}",
        config={"plays": "drill", "scenario": name, "loop": False, "speed": speed, "drill": True},
    )
    session.add(source)
    await session.flush()
    drill = {
        "scenario": scenario,
        "source_id": source.id,
        "started_at": now.isoformat(),
        "until": (now + timedelta(seconds=length_s + AFTER_S)).isoformat(),
        "speed": speed,
        "by": actor.username,
    }
    audit.record(
        session,
        event_id=event.id,
        actor=actor,
        action="drill_start",
        target_type="source",
        target_id=source.id,
        after=drill,
    )
    return drill


async def announce(bus: Bus, event_id: str, drill: dict[str, Any]) -> None:
    """After the commit: marks the event as drilling (incidents opened now are drills)."""
    await bus.mark_event_active(event_id)
    await bus.save_cursor(_key(event_id), orjson.dumps(drill).decode())
    await bus.publish_live(event_id, [delta("incidents", "drill.started", drill)], urgent=True)


async def stop(
    session: AsyncSession, bus: Bus, event: Event, actor: User, now: datetime
) -> dict[str, Any] | None:
    """Ends the drill: its source is disabled (kept, with what it produced)."""
    running = await current(bus, event.id, now)
    found = (
        await session.scalars(
            select(Source).where(Source.event_id == event.id, Source.enabled.is_(True))
        )
    ).all()
    for source in found:
        if source.is_drill:
            source.enabled = False
    audit.record(
        session,
        event_id=event.id,
        actor=actor,
        action="drill_stop",
        target_type="event",
        target_id=event.id,
        before=running,
    )
    return running


async def finish(bus: Bus, event_id: str) -> None:
    """After the commit of `stop`: the event is no longer drilling."""
    await bus.save_cursor(_key(event_id), orjson.dumps({"until": None}).decode())
    await bus.publish_live(event_id, [delta("incidents", "drill.stopped", {})], urgent=True)
