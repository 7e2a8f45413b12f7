"""Chat moderation over REST: hide/unhide, the hold queue, platform actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Role, User
from app.bus import Bus
from app.chat import service
from app.chat.models import ChatMessage
from app.chat.schemas import PlatformActionIn
from app.deps import BusDep, EventAccess, EventMemberDep, SessionDep
from app.writes import idempotent_write

router = APIRouter(prefix="/api/events/{event_id}/chat", tags=["chat"])
MODERATION_ROLES = frozenset(r.value for r in (Role.admin, Role.ops_lead, Role.moderator))


@router.get("/held")
async def held_messages(access: EventMemberDep, session: SessionDep) -> list[dict[str, Any]]:
    return [service.data(m) for m in await service.held(session, access.event.id)]


Review = Callable[[AsyncSession, ChatMessage, User], Awaitable[ChatMessage]]


async def _review(
    message_id: str,
    request: Request,
    access: EventAccess,
    session: AsyncSession,
    bus: Bus,
    act: Review,
) -> JSONResponse:
    """A console-side decision on one line (hide, unhide, release, reject), then published."""

    async def work() -> tuple[Any, Any]:
        message = await service.get(session, access.event.id, message_id)
        await act(session, message, access.user)
        return service.data(message), lambda: service.publish_messages(
            bus, access.event.id, [message]
        )

    return await idempotent_write(request, session, access, MODERATION_ROLES, work)


@router.post("/{message_id}/hide")
async def hide(
    message_id: str, request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> JSONResponse:
    return await _review(message_id, request, access, session, bus, service.hide)


@router.post("/{message_id}/unhide")
async def unhide(
    message_id: str, request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> JSONResponse:
    return await _review(message_id, request, access, session, bus, service.unhide)


@router.post("/{message_id}/release")
async def release(
    message_id: str, request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> JSONResponse:
    return await _review(message_id, request, access, session, bus, service.release)


@router.post("/{message_id}/reject")
async def reject(
    message_id: str, request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> JSONResponse:
    return await _review(message_id, request, access, session, bus, service.reject)


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
