"""Preflight and drills over REST (ops leads and admins start them; everyone reads)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.audit import service as audit
from app.auth.models import Role
from app.deps import BusDep, ClockDep, EventMemberDep, SessionDep
from app.drills import preflight, service
from app.writes import idempotent_write

router = APIRouter(prefix="/api/events/{event_id}", tags=["drills"])

OPS_ROLES = frozenset(r.value for r in (Role.admin, Role.ops_lead))


class DrillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: str = Field(description="stream_drop or spam_raid")
    speed: float = Field(1.0, description="1 is real time; more plays it faster")


class PreflightIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    send_test_messages: bool = Field(
        False, description="post one line in each chat that allows it, and wait for the answer"
    )


@router.get("/drills")
async def current_drill(
    access: EventMemberDep, bus: BusDep, clock: ClockDep
) -> dict[str, Any] | None:
    return await service.current(bus, access.event.id, clock.now())


@router.post("/drills")
async def start_drill(
    body: DrillIn,
    request: Request,
    access: EventMemberDep,
    session: SessionDep,
    bus: BusDep,
    clock: ClockDep,
) -> JSONResponse:
    async def work() -> tuple[Any, Any]:
        drill = await service.start(
            session, bus, access.event, body.scenario, access.user, clock.now(), speed=body.speed
        )
        return drill, lambda: service.announce(bus, access.event.id, drill)

    return await idempotent_write(request, session, access, OPS_ROLES, work)


@router.delete("/drills")
async def stop_drill(
    request: Request,
    access: EventMemberDep,
    session: SessionDep,
    bus: BusDep,
    clock: ClockDep,
) -> JSONResponse:
    async def work() -> tuple[Any, Any]:
        stopped = await service.stop(session, bus, access.event, access.user, clock.now())
        return {"stopped": stopped}, lambda: service.finish(bus, access.event.id)

    return await idempotent_write(request, session, access, OPS_ROLES, work)


@router.post("/preflight")
async def run_preflight(
    body: PreflightIn,
    request: Request,
    access: EventMemberDep,
    session: SessionDep,
    bus: BusDep,
    clock: ClockDep,
) -> JSONResponse:
    """The checklist; audited, since it may post in the platforms' chats."""

    async def work() -> tuple[Any, Any]:
        found = await preflight.run(
            session, bus, access.event.id, clock.now(), send_test_messages=body.send_test_messages
        )
        audit.record(
            session,
            event_id=access.event.id,
            actor=access.user,
            action="preflight",
            target_type="event",
            target_id=access.event.id,
            after={"passed": found["passed"], "sent_test_messages": body.send_test_messages},
        )
        return found, None

    return await idempotent_write(request, session, access, OPS_ROLES, work)
