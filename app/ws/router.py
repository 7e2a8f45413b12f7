"""`/ws/events/{event_id}`: authenticate, check the Origin, then hand over to the hub.

Served by a small ASGI middleware rather than a FastAPI route: a console keeps its
socket open for hours, and FastAPI's per-request machinery (dependency exit stacks,
exception-handler frames) would live exactly as long, about 6 KiB per console. Here a
connection holds only uvicorn's protocol, this coroutine and the hub's Console.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth import service as auth
from app.config import Settings
from app.deps import credentials
from app.ws import protocol
from app.ws.hub import Hub

SOCKET_PATH = re.compile(r"/ws/events/([A-Za-z0-9_-]{1,64})")
SUBSCRIBE_TIMEOUT_S = 10.0
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


def origin_allowed(scope: Scope, settings: Settings) -> bool:
    """Browsers always send Origin; a foreign one is a cross-site hijack attempt.

    Tools (no Origin header) authenticate with a bearer token instead of the cookie.
    """
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    origin = headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/")
    if origin in settings.allowed_origins:
        return True
    return urlsplit(origin).netloc == headers.get("host", "")


class ConsoleSocket:
    """What the hub needs of a console's socket: sending a frame's bytes."""

    __slots__ = ("_send",)

    def __init__(self, send: Send) -> None:
        self._send = send

    async def send_frame(self, frame: bytes) -> None:
        await self._send({"type": "websocket.send", "bytes": frame})


async def _refusal(scope: Scope, event_id: str) -> tuple[int, str] | None:
    """Why this connection may not watch the event (close code, reason), or None."""
    state = scope["app"].state
    async with state.db.sessions() as session:
        found = await auth.caller_on_event(session, *credentials(HTTPConnection(scope)), event_id)
    if found is None:
        return CLOSE_UNAUTHENTICATED, "log in first"
    _user, event, role = found
    if event is None:
        return CLOSE_NOT_FOUND, "no such event"
    if role is None:
        return CLOSE_FORBIDDEN, "not a member of this event"
    return None


async def _next_text(receive: Receive) -> str | None:
    """The next text (or UTF-8 bytes) message; None once the client is gone."""
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return None
        if message["type"] == "websocket.receive":
            text = message.get("text")
            if text is None and message.get("bytes") is not None:
                text = message["bytes"].decode("utf-8", "replace")
            return text or ""


async def console_socket(scope: Scope, receive: Receive, send: Send, event_id: str) -> None:
    state = scope["app"].state
    if (await receive())["type"] != "websocket.connect":
        return
    if not origin_allowed(scope, state.settings):
        await send({"type": "websocket.close", "code": CLOSE_FORBIDDEN})  # upgrade refused: 403
        return
    refusal = await _refusal(scope, event_id)
    await send({"type": "websocket.accept"})
    if refusal is not None:
        await send({"type": "websocket.close", "code": refusal[0], "reason": refusal[1]})
        return

    try:
        first = await asyncio.wait_for(_next_text(receive), SUBSCRIBE_TIMEOUT_S)
        if first is None:
            return
        topics, since = protocol.parse_subscribe(first)
    except (TimeoutError, protocol.SubscribeError) as exc:
        reason = str(exc) or "send a subscribe message within 10 s"
        await send({"type": "websocket.close", "code": CLOSE_BAD_REQUEST, "reason": reason[:120]})
        return

    hub: Hub = state.hub
    console = await hub.attach(ConsoleSocket(send), event_id, topics, since)
    try:
        while (message := await _next_text(receive)) is not None:
            with contextlib.suppress(protocol.SubscribeError):
                # A later subscribe only changes topics; resume needs a new socket.
                console.topics, _ = protocol.parse_subscribe(message)
    finally:
        await hub.detach(console, event_id)


class ConsoleSocketMiddleware:
    """Routes console WebSockets straight to console_socket; everything else on."""

    def __init__(self, app: ASGIApp, fastapi_app: Any) -> None:
        self.app = app
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            match = SOCKET_PATH.fullmatch(scope["path"])
            if match:
                scope["app"] = self.fastapi_app
                await console_socket(scope, receive, send, match.group(1))
                return
        await self.app(scope, receive, send)
