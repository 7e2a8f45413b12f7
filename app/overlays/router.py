"""Overlay tokens (crew, authenticated) and the overlays' one public, read-only call."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from app.cues.service import CUE_ROLES
from app.deps import BusDep, EventAccess, EventMemberDep, SessionDep
from app.errors import Forbidden
from app.overlays import service
from app.overlays.schemas import OverlayTokenCreated, OverlayTokenOut, OverlayUrls

crew_router = APIRouter(prefix="/api/events/{event_id}/overlays", tags=["overlays"])
public_router = APIRouter(prefix="/api/overlay", tags=["overlays"])

# Who runs the show's graphics: the same people who run polls and the cue sheet.
OVERLAY_ROLES = CUE_ROLES
# The overlay answer changes every second: no proxy or browser may keep it.
_NO_STORE = {"Cache-Control": "no-store"}


def _require_role(access: EventAccess) -> None:
    if access.role not in OVERLAY_ROLES:
        raise Forbidden(f"this needs one of the roles: {', '.join(sorted(OVERLAY_ROLES))}")


@crew_router.get("")
async def list_overlay_tokens(access: EventMemberDep, bus: BusDep) -> list[OverlayTokenOut]:
    _require_role(access)
    return [OverlayTokenOut(**t) for t in await service.list_tokens(bus, access.event.id)]


@crew_router.post("", status_code=201)
async def create_overlay_token(
    access: EventMemberDep, session: SessionDep, bus: BusDep
) -> OverlayTokenCreated:
    # Not an idempotent write on purpose: a remembered answer would store the secret.
    _require_role(access)
    token, entry = service.create_token(session, access.event.id, access.user)
    await session.commit()
    await service.store_token(bus, access.event.id, entry)
    return OverlayTokenCreated(
        **service.public(entry), token=token, urls=OverlayUrls(**service.urls(token))
    )


@crew_router.delete("/{token_id}")
async def revoke_overlay_token(
    token_id: str, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> dict[str, str]:
    _require_role(access)
    await service.revoke_token(session, bus, access.event.id, token_id, access.user)
    await session.commit()
    return {"revoked": token_id}


@public_router.get("/state")
async def overlay_state(
    session: SessionDep, bus: BusDep, token: str | None = Query(None)
) -> JSONResponse:
    event_id = await service.event_for_token(bus, token)
    body = jsonable_encoder(await service.state(session, event_id))
    return JSONResponse(body, headers=_NO_STORE)


router = APIRouter()
router.include_router(crew_router)
router.include_router(public_router)
