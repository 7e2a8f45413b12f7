"""Sources over REST: list with health, add, edit, pause/resume; the dead letters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from app.deps import BusDep, EventMemberDep, SessionDep
from app.events.models import Source
from app.sources import repository, service
from app.sources.schemas import SourceEditIn, SourceIn, VersionIn
from app.writes import idempotent_write

router = APIRouter(prefix="/api/events/{event_id}", tags=["sources"])


@router.get("/sources")
async def list_sources(
    access: EventMemberDep, session: SessionDep, bus: BusDep
) -> list[dict[str, Any]]:
    """Every source of the event with its last reported health; credentials by name only."""
    sources = await repository.of_event(session, access.event.id)
    return await service.views(bus, access.event.id, sources)


@router.post("/sources", status_code=201)
async def create_source(
    body: SourceIn, request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> JSONResponse:
    async def work() -> tuple[Any, Any]:
        source = await service.create(session, access.event, body, access.user)
        return await service.view(bus, source), lambda: service.publish(bus, source)

    response = await idempotent_write(request, session, access, service.SOURCE_EDIT_ROLES, work)
    if response.status_code == 200:
        response.status_code = 201
    return response


Act = Callable[[Source], Awaitable[Source]]


async def _on_source(
    request: Request,
    session: SessionDep,
    bus: BusDep,
    access: EventMemberDep,
    source_id: str,
    act: Act,
) -> JSONResponse:
    """A write on one source: load it (404 if not in this event), act, answer and publish."""

    async def work() -> tuple[Any, Any]:
        source = await repository.get(session, access.event.id, source_id)
        await act(source)
        return await service.view(bus, source), lambda: service.publish(bus, source)

    return await idempotent_write(request, session, access, service.SOURCE_EDIT_ROLES, work)


@router.patch("/sources/{source_id}")
async def edit_source(
    source_id: str,
    body: SourceEditIn,
    request: Request,
    access: EventMemberDep,
    session: SessionDep,
    bus: BusDep,
) -> JSONResponse:
    """Renames or reconfigures; config and credentials are merged (null removes a key)."""
    return await _on_source(
        request,
        session,
        bus,
        access,
        source_id,
        lambda s: service.edit(session, bus, s, body, access.user),
    )


@router.post("/sources/{source_id}/pause")
async def pause_source(
    source_id: str,
    body: VersionIn,
    request: Request,
    access: EventMemberDep,
    session: SessionDep,
    bus: BusDep,
) -> JSONResponse:
    """Stops the connector (webhook deliveries are still kept, and read on resume)."""
    return await _on_source(
        request,
        session,
        bus,
        access,
        source_id,
        lambda s: service.set_enabled(session, bus, s, body.version, False, access.user),
    )


@router.post("/sources/{source_id}/resume")
async def resume_source(
    source_id: str,
    body: VersionIn,
    request: Request,
    access: EventMemberDep,
    session: SessionDep,
    bus: BusDep,
) -> JSONResponse:
    return await _on_source(
        request,
        session,
        bus,
        access,
        source_id,
        lambda s: service.set_enabled(session, bus, s, body.version, True, access.user),
    )


@router.get("/dead-letters")
async def dead_letters(
    access: EventMemberDep,
    bus: BusDep,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    source_id: str | None = None,
) -> list[dict[str, Any]]:
    """Input set aside, newest first; X-Total-Count says how many (of that source) there are.

    Payloads are text (bad bytes replaced), cut to 4 KB with `truncated`; they are the
    audience's and the platforms' bytes, so consoles show them as text only.
    """
    letters, total = await service.dead_letters(bus, access.event.id, limit, source_id)
    response.headers["X-Total-Count"] = str(total)
    return letters
