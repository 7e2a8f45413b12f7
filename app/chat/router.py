"""Chat moderation over REST: hide/unhide, the hold queue, platform actions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.auth.models import Role
from app.chat import service
from app.chat.models import ChatMessage
from app.chat.schemas import PlatformActionIn
from app.deps import BusDep, EventMemberDep, SessionDep
from app.writes import idempotent_write

router = APIRouter(prefix="/api/events/{event_id}/chat", tags=["chat"])
MODERATION_ROLES = frozenset(r.value for r in (Role.admin, Role.ops_lead, Role.moderator))


@router.get("/held")
async def held_messages(access: EventMemberDep, session: SessionDep) -> list[dict[str, Any]]:
    return [service.data(m) for m in await service.held(session, access.event.id)]


async def _visibility(
    message_id: str, request: Request, access: Any, session: Any, bus: Any, how: str
) -> JSONResponse:
    async def work() -> tuple[Any, Any]:
        message: ChatMessage = await service.get(session, access.event.id, message_id)
        if how == "hide":
            await service.set_visibility(
                session, message, hidden=True, held=message.held, actor=access.user, action="hide"
            )
        elif how == "unhide":
            await service.set_visibility(
                session,
                message,
                hidden=False,
                held=message.held,
                actor=access.user,
                action="unhide",
            )
        elif how == "release":
            await service.release(session, message, access.user)
        else:
            await service.reject(session, message, access.user)
        return service.data(message), lambda: service.publish_messages(
            bus, access.event.id, [message]
        )

    return await idempotent_write(request, session, access, MODERATION_ROLES, work)


@router.post("/{message_id}/hide")
async def hide(
    message_id: str, request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> JSONResponse:
    return await _visibility(message_id, request, access, session, bus, "hide")


@router.post("/{message_id}/unhide")
async def unhide(
    message_id: str, request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> JSONResponse:
    return await _visibility(message_id, request, access, session, bus, "unhide")


@router.post("/{message_id}/release")
async def release(
    message_id: str, request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> JSONResponse:
    return await _visibility(message_id, request, access, session, bus, "release")


@router.post("/{message_id}/reject")
async def reject(
    message_id: str, request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> JSONResponse:
    return await _visibility(message_id, request, access, session, bus, "reject")


@router.post("/{message_id}/actions")
async def platform_action(
    message_id: str,
    body: PlatformActionIn,
    request: Request,
    access: EventMemberDep,
    session: SessionDep,
    bus: BusDep,
) -> JSONResponse:
    """Deletes, times out or bans on the platform; the answer arrives as moderation.result."""

    async def work() -> tuple[Any, Any]:
        message = await service.get(session, access.event.id, message_id)
        params: dict[str, Any] = {}
        if body.type == "timeout":
            params["duration_s"] = body.duration_s or 300
        if body.reason:
            params["reason"] = body.reason
        action = await service.request_action(session, message, body.type, params, access.user)
        return service.action_data(action), lambda: service.dispatch(bus, action)

    return await idempotent_write(request, session, access, MODERATION_ROLES, work)
