"""Incidents over REST: open, move, steps, roles, notes, severity, the playbook match,
metrics and the detectors' signals. Writes are idempotent, versioned, audited (the
timeline is the incident's own record), then published on topic "incidents"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Role, User
from app.bus import Bus
from app.connectors.clock import Clock
from app.deps import BusDep, ClockDep, EventAccess, EventMemberDep, SessionDep
from app.errors import NotFound
from app.events import repository as events_repo
from app.incidents import metrics, playbook_link, service
from app.incidents.models import DetectorSignal, Incident, IncidentState
from app.incidents.schemas import (
    IncidentEdit,
    IncidentIn,
    MatchIn,
    NoteIn,
    RoleIn,
    StepEdit,
    StepIn,
    TransitionIn,
)
from app.writes import idempotent_write

router = APIRouter(prefix="/api/events/{event_id}", tags=["incidents"])

# In a live show whoever sees it first acts: every team role may open, acknowledge and
# work an incident (the timeline says who did what). Viewers only watch.
INCIDENT_ROLES = frozenset(r.value for r in Role if r != Role.viewer)

Work = Callable[[datetime], Awaitable[service.Change]]


@dataclass
class Writing:
    """What every incident write needs; `run` does one (roles, idempotency, commit,
    then the deltas and commands)."""

    request: Request
    access: EventAccess
    session: AsyncSession
    bus: Bus
    clock: Clock

    async def run(self, work: Work) -> JSONResponse:
        async def act() -> tuple[Any, Any]:
            change = await work(self.clock.now())
            return change.incident, lambda: change.publish(self.bus)

        return await idempotent_write(self.request, self.session, self.access, INCIDENT_ROLES, act)

    async def incident(self, incident_id: str) -> Incident:
        return await service.get(self.session, self.access.event.id, incident_id)


async def _writing(
    request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep, clock: ClockDep
) -> Writing:
    return Writing(request, access, session, bus, clock)


WritingDep = Annotated[Writing, Depends(_writing)]


@router.get("/incidents")
async def list_incidents(
    access: EventMemberDep,
    session: SessionDep,
    state: str = Query("open", pattern="^(open|all)$", description="open ones, or all"),
) -> list[dict[str, Any]]:
    found = await service.incidents_of(session, access.event.id, open_only=state == "open")
    return [await service.data(session, i) for i in found]


@router.get("/incidents/metrics")
async def incident_metrics(access: EventMemberDep, session: SessionDep) -> dict[str, Any]:
    return await metrics.for_event(session, access.event.id)


@router.get("/signals")
async def detector_signals(
    access: EventMemberDep, session: SessionDep, limit: int = Query(50, ge=1, le=500)
) -> list[dict[str, Any]]:
    """What the detectors said that did not open an incident, newest first."""
    rows = (
        await session.scalars(
            select(DetectorSignal)
            .where(DetectorSignal.event_id == access.event.id)
            .order_by(DetectorSignal.at.desc(), DetectorSignal.id)
            .limit(limit)
        )
    ).all()
    return [service.signal_data(r) for r in rows]


@router.get("/incidents/{incident_id}")
async def get_incident(
    incident_id: str, access: EventMemberDep, session: SessionDep
) -> dict[str, Any]:
    incident = await service.get(session, access.event.id, incident_id)
    body = await service.data(session, incident)
    body["timeline"] = await service.timeline_of(session, incident.id)
    return body


@router.post("/incidents")
async def open_incident(
    body: IncidentIn,
    w: WritingDep,
) -> JSONResponse:
    async def work(now: datetime) -> service.Change:
        entry, version = None, None
        if body.entry_slug:
            entry, version = await playbook_link.entry(w.session, body.entry_slug)
        change = await service.open_incident(
            w.session,
            w.access.event.id,
            actor=w.access.user,
            now=now,
            entry=entry,
            playbook_version=version,
            title=body.title,
            category=body.category,
            severity=body.severity,
            drill=body.drill,
            impact_started_at=body.impact_started_at,
        )
        if body.note and change.incident is not None:
            incident = await service.get(w.session, w.access.event.id, change.incident["id"])
            noted = await service.add_note(w.session, incident, body.note, w.access.user, now)
            change.incident, change.timeline = noted.incident, change.timeline + noted.timeline
        return change

    return await w.run(work)


@router.post("/incidents/{incident_id}/transition")
async def transition(
    incident_id: str,
    body: TransitionIn,
    w: WritingDep,
) -> JSONResponse:
    async def work(now: datetime) -> service.Change:
        incident = await w.incident(incident_id)
        return await service.transition(
            w.session, incident, IncidentState(body.to), w.access.user, now,
            version=body.version, reason=body.reason,
        )  # fmt: skip

    return await w.run(work)


@router.patch("/incidents/{incident_id}")
async def edit_incident(
    incident_id: str,
    body: IncidentEdit,
    w: WritingDep,
) -> JSONResponse:
    async def work(now: datetime) -> service.Change:
        incident = await w.incident(incident_id)
        return await service.set_severity(
            w.session, incident, body.severity, w.access.user, now, version=body.version
        )

    return await w.run(work)


@router.post("/incidents/{incident_id}/match")
async def confirm_match(
    incident_id: str,
    body: MatchIn,
    w: WritingDep,
) -> JSONResponse:
    async def work(now: datetime) -> service.Change:
        incident = await w.incident(incident_id)
        entry, version = await playbook_link.entry(w.session, body.entry_slug)
        return await service.confirm_match(
            w.session, incident, entry, version, w.access.user, now, version=body.version
        )

    return await w.run(work)


@router.post("/incidents/{incident_id}/roles")
async def assign_role(
    incident_id: str,
    body: RoleIn,
    w: WritingDep,
) -> JSONResponse:
    async def work(now: datetime) -> service.Change:
        incident = await w.incident(incident_id)
        user = await w.session.get(User, body.user_id)
        members = {u.id for u, _ in await events_repo.members_of(w.session, w.access.event.id)}
        if user is None or (user.id not in members and user.role != Role.admin):
            raise NotFound(
                f"no user {body.user_id} on this event's team (GET /api/events/{{id}}/members)"
            )
        return await service.assign_role(w.session, incident, body.role, user, w.access.user, now)

    return await w.run(work)


@router.post("/incidents/{incident_id}/notes")
async def add_note(
    incident_id: str,
    body: NoteIn,
    w: WritingDep,
) -> JSONResponse:
    async def work(now: datetime) -> service.Change:
        incident = await w.incident(incident_id)
        return await service.add_note(w.session, incident, body.text, w.access.user, now)

    return await w.run(work)


@router.post("/incidents/{incident_id}/steps")
async def add_step(
    incident_id: str,
    body: StepIn,
    w: WritingDep,
) -> JSONResponse:
    async def work(now: datetime) -> service.Change:
        incident = await w.incident(incident_id)
        return await service.add_step(
            w.session, incident, body.text, body.owner_role, w.access.user, now
        )

    return await w.run(work)


@router.patch("/incidents/{incident_id}/steps/{step_id}")
async def update_step(
    incident_id: str,
    step_id: str,
    body: StepEdit,
    w: WritingDep,
) -> JSONResponse:
    async def work(now: datetime) -> service.Change:
        incident = await w.incident(incident_id)
        return await service.update_step(
            w.session, incident, step_id, body.state, w.access.user, now,
            version=body.version, reason=body.reason,
        )  # fmt: skip

    return await w.run(work)
