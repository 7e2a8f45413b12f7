"""Chat moderation over REST: hide/unhide, the hold queue, platform actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import MODERATION_ROLES, User
from app.chat import service
from app.chat.models import ChatMessage
from app.chat.schemas import PlatformActionIn, ReviewIn
from app.deps import BusDep, EventMemberDep, SessionDep
from app.writes import idempotent_write

router = APIRouter(prefix="/api/events/{event_id}/chat", tags=["chat"])


@router.get("/held")
async def held_messages(
    access: EventMemberDep,
    session: SessionDep,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
) -> list[dict[str, Any]]:
    """The oldest held lines first; X-Total-Count says how many are held in all."""
    messages, total = await service.held(session, access.event.id, limit)
    response.headers["X-Total-Count"] = str(total)
    return [service.data(m) for m in messages]


Review = Callable[[AsyncSession, ChatMessage, int, User], Awaitable[ChatMessage]]


def _review_route(act: Review) -> Callable[..., Awaitable[JSONResponse]]:
    """A console-side decision on one line (hide, unhide, release, reject), then published."""

    async def endpoint(
        message_id: str,
        body: ReviewIn,
        request: Request,
        access: EventMemberDep,
        session: SessionDep,
        bus: BusDep,
    ) -> JSONResponse:
        async def work() -> tuple[Any, Any]:
            message = await service.get(session, access.event.id, message_id)
            await act(session, message, body.version, access.user)
            return service.data(message), lambda: service.publish_messages(
                bus, access.event.id, [message]
            )

        return await idempotent_write(request, session, access, MODERATION_ROLES, work)

    return endpoint


for _name, _act, _summary in (
    ("hide", service.hide, "Hide a line in every console (the platform keeps it)"),
    ("unhide", service.unhide, "Show a hidden line again"),
    ("release", service.release, "Show a line held for review"),
    ("reject", service.reject, "Keep a held line hidden"),
):
    router.add_api_route(
        f"/{{message_id}}/{_name}",
        _review_route(_act),
        methods=["POST"],
        name=f"chat_{_name}",
        summary=_summary,
        response_class=JSONResponse,
    )


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
