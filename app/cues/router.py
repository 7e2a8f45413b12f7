"""The run-of-show over REST: edit and reorder the sheet, GO, import and export."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.bus import Bus
from app.cues import repository, service, sheet
from app.cues.schemas import CueEdit, CueIn, GoIn
from app.deps import BusDep, EventAccess, EventMemberDep, SessionDep, get_clock
from app.errors import AppError
from app.writes import idempotent_write
from app.yaml_lines import YAML_MEDIA_TYPES, text_upload

router = APIRouter(prefix="/api/events/{event_id}/cues", tags=["cues"])

MAX_SHEET_BYTES = 1_000_000


class UnsupportedSheet(AppError):
    status_code = 415
    code = "unsupported_media_type"


Work = Callable[[datetime], Awaitable[service.Outcome]]


def _write(
    request: Request,
    session: AsyncSession,
    bus: Bus,
    access: EventAccess,
    work: Work,
    answer: Callable[[service.Outcome, datetime], Any] | None = None,
) -> Awaitable[JSONResponse]:
    """A sheet write: hosts, ops leads and admins; deltas leave after the commit."""
    now = get_clock(request).now()

    async def run() -> tuple[Any, Any]:
        outcome = await work(now)
        body = (
            answer(outcome, now)
            if answer
            else await service.sheet_view(session, access.event.id, now)
        )
        return body, lambda: service.publish(bus, access.event.id, outcome, now)

    return idempotent_write(request, session, access, service.CUE_ROLES, run)


@router.get("")
async def list_cues(access: EventMemberDep, session: SessionDep, request: Request) -> Any:
    return await service.sheet_view(session, access.event.id, get_clock(request).now())


@router.post("")
async def create_cue(
    body: CueIn, request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> JSONResponse:
    """Adds a cue at the end of the sheet, or at `position`; answers with the sheet."""
    return await _write(
        request,
        session,
        bus,
        access,
        lambda now: service.create(session, access.event.id, body, access.user, now),
    )


@router.patch("/{cue_id}")
async def edit_cue(
    cue_id: str,
    body: CueEdit,
    request: Request,
    access: EventMemberDep,
    session: SessionDep,
    bus: BusDep,
) -> JSONResponse:
    """Edits a cue; a new `position` moves it and shifts the others."""
    return await _write(
        request,
        session,
        bus,
        access,
        lambda now: service.edit(session, access.event.id, cue_id, body, access.user, now),
    )


@router.delete("/{cue_id}")
async def delete_cue(
    cue_id: str,
    request: Request,
    access: EventMemberDep,
    session: SessionDep,
    bus: BusDep,
    version: int | None = Query(None, description="the version you saw; 409 if it moved on"),
) -> JSONResponse:
    return await _write(
        request,
        session,
        bus,
        access,
        lambda now: service.delete(session, access.event.id, cue_id, version, access.user, now),
    )


@router.post("/go")
async def go(
    body: GoIn, request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> JSONResponse:
    """Ends the live cue, starts the next and fires its actions."""
    return await _write(
        request,
        session,
        bus,
        access,
        lambda now: service.go(session, access.event.id, body.expected_live, access.user, now),
        lambda outcome, _now: service.go_body(outcome),
    )


@router.get("/export")
async def export(
    access: EventMemberDep,
    session: SessionDep,
    format: str = Query("yaml", pattern="^(yaml|csv)$"),
) -> Response:
    cues = await repository.sheet_cues(session, access.event.id)
    name = f"{access.event.slug}-run-of-show.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "csv":
        return Response(sheet.to_csv(cues), media_type="text/csv", headers=headers)
    return Response(sheet.to_yaml(cues), media_type="application/yaml", headers=headers)


@router.post("/import")
async def import_sheet(
    request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> JSONResponse:
    """Replaces the pending cues with a YAML (or JSON) or CSV sheet, by Content-Type."""
    kind, text = await text_upload(request, MAX_SHEET_BYTES, "sheet", "split it")
    if kind == "text/csv":
        specs = sheet.from_csv(text)
    elif kind in YAML_MEDIA_TYPES or kind == "application/json":
        specs = sheet.from_yaml(text)
    else:
        raise UnsupportedSheet(
            "send Content-Type: application/yaml, text/csv or application/json "
            "(see GET .../cues/export for the format)"
        )
    return await _write(
        request,
        session,
        bus,
        access,
        lambda now: service.import_sheet(session, access.event.id, specs, access.user, now),
    )
