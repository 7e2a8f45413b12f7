"""Polls over REST: drafts, launch, close; every write idempotent, versioned, audited, published."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from app.auth.models import Role
from app.deps import BusDep, EventMemberDep, SessionDep
from app.errors import AppError
from app.pipeline.deltas import delta
from app.polls import repository, service
from app.polls.schemas import PollEditIn, PollIn, PollVersionIn
from app.writes import AfterCommit, idempotent_write

router = APIRouter(prefix="/api/events/{event_id}/polls", tags=["polls"])

# Polls are the show: hosts run them on cue and ops leads stand in for them; moderators
# work the audience's words (chat, questions) and do not put polls on air.
POLL_ROLES = frozenset(r.value for r in (Role.admin, Role.ops_lead, Role.host))

Work = Callable[[], Awaitable[tuple[Any, AfterCommit | None]]]


@router.get("")
async def list_polls(access: EventMemberDep, session: SessionDep) -> list[dict[str, Any]]:
    return [
        await service.data(session, p) for p in await repository.for_event(session, access.event.id)
    ]


@router.get("/{poll_id}")
async def get_poll(poll_id: str, access: EventMemberDep, session: SessionDep) -> dict[str, Any]:
    return await service.data(session, await service.get(session, access.event.id, poll_id))


@router.post("")
async def create_poll(
    body: PollIn, request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> JSONResponse:
    async def work() -> tuple[Any, AfterCommit | None]:
        poll = await service.create(
            session,
            access.event.id,
            title=body.title,
            kind=body.kind,
            options=body.options,
            duration_s=body.duration_s,
            cue_id=body.cue_id,
            actor=access.user,
        )
        change = service.PollChange(poll.event_id, await service.data(session, poll))
        return change.data, lambda: change.publish(bus)

    return await idempotent_write(request, session, access, POLL_ROLES, work)


@router.patch("/{poll_id}")
async def edit_poll(
    poll_id: str,
    body: PollEditIn,
    request: Request,
    access: EventMemberDep,
    session: SessionDep,
    bus: BusDep,
) -> JSONResponse:
    fields = body.model_dump(exclude_unset=True, exclude={"version"})
    if not fields:
        raise AppError("nothing to change: send title, kind, options, duration_s or cue_id")

    async def work() -> tuple[Any, AfterCommit | None]:
        poll = await service.get(session, access.event.id, poll_id)
        await service.edit(session, poll, body.version, fields, access.user)
        change = service.PollChange(poll.event_id, await service.data(session, poll))
        return change.data, lambda: change.publish(bus)

    return await idempotent_write(request, session, access, POLL_ROLES, work)


@router.delete("/{poll_id}")
async def delete_poll(
    poll_id: str,
    request: Request,
    access: EventMemberDep,
    session: SessionDep,
    bus: BusDep,
    version: int | None = Query(None, description="the version you saw; 409 if it moved on"),
) -> JSONResponse:
    """Deletes a draft (not one a cue still to come opens or closes)."""

    async def work() -> tuple[Any, AfterCommit | None]:
        poll = await service.get(session, access.event.id, poll_id)
        deleted = await service.delete(session, poll, version, access.user)
        body = {"id": deleted, "deleted": True}

        async def publish() -> None:
            await bus.publish_live(
                access.event.id, [delta("polls", "poll.deleted", {"id": deleted})], urgent=True
            )

        return body, publish

    return await idempotent_write(request, session, access, POLL_ROLES, work)


@router.post("/{poll_id}/launch")
async def launch_poll(
    poll_id: str,
    body: PollVersionIn,
    request: Request,
    access: EventMemberDep,
    session: SessionDep,
    bus: BusDep,
) -> JSONResponse:
    async def work() -> tuple[Any, AfterCommit | None]:
        poll = await service.get(session, access.event.id, poll_id)
        change = await service.launch(session, poll, access.user, version=body.version)
        return change.data, lambda: change.publish(bus)

    return await idempotent_write(request, session, access, POLL_ROLES, work)


@router.post("/{poll_id}/close")
async def close_poll(
    poll_id: str,
    body: PollVersionIn,
    request: Request,
    access: EventMemberDep,
    session: SessionDep,
    bus: BusDep,
) -> JSONResponse:
    async def work() -> tuple[Any, AfterCommit | None]:
        poll = await service.get(session, access.event.id, poll_id)
        change = await service.close(session, poll, access.user, version=body.version)
        return change.data, lambda: change.publish(bus)

    return await idempotent_write(request, session, access, POLL_ROLES, work)
