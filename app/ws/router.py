"""`/ws/events/{event_id}`: authenticate, check the Origin, then hand over to the hub."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from app.auth import service as auth
from app.config import Settings
from app.deps import user_from_connection
from app.events.models import Event
from app.ws import protocol
from app.ws.hub import Hub

router = APIRouter()

SUBSCRIBE_TIMEOUT_S = 10.0
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


def origin_allowed(ws: WebSocket, settings: Settings) -> bool:
    """Browsers always send Origin; a foreign one is a cross-site hijack attempt.

    Tools (no Origin header) authenticate with a bearer token instead of the cookie.
    """
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/")
    if origin in settings.allowed_origins:
        return True
    return urlsplit(origin).netloc == ws.headers.get("host", "")


@router.websocket("/ws/events/{event_id}")
async def console_socket(ws: WebSocket, event_id: str) -> None:
    state = ws.app.state
    if not origin_allowed(ws, state.settings):
        await ws.close(code=CLOSE_FORBIDDEN)  # before accept: the upgrade is refused (403)
        return
    async with state.db.sessions() as session:
        user = await user_from_connection(ws, session)
        event = await session.get(Event, event_id)
        role = await auth.event_role(session, user, event_id) if user and event else None
    await ws.accept()
    if user is None:
        await ws.close(CLOSE_UNAUTHENTICATED, "log in first")
        return
    if event is None:
        await ws.close(CLOSE_NOT_FOUND, "no such event")
        return
    if role is None:
        await ws.close(CLOSE_FORBIDDEN, "not a member of this event")
        return

    try:
        first = await asyncio.wait_for(ws.receive_text(), SUBSCRIBE_TIMEOUT_S)
        topics, since = protocol.parse_subscribe(first)
    except (TimeoutError, protocol.SubscribeError) as exc:
        reason = str(exc) or "send a subscribe message within 10 s"
        await ws.close(CLOSE_BAD_REQUEST, reason[:120])
        return
    except WebSocketDisconnect:
        return

    hub: Hub = state.hub
    console = await hub.attach(ws, event_id, topics, since)
    try:
        while True:
            message = await ws.receive_text()
            with contextlib.suppress(protocol.SubscribeError):
                # A later subscribe only changes topics; resume needs a new socket.
                console.topics, _ = protocol.parse_subscribe(message)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await hub.detach(console, event_id)
