"""A fake Owncast server that enforces what a real one does, plus its webhook sender.

- Integrations API: `Authorization: Bearer` tokens with scopes; 401 without a known
  token, 403 with the wrong scope (real Owncast answers 401 to both).
- `messagevisibility` (or `updatemessagevisibility` when `legacy`) hides messages and
  then sends a VISIBILITY-UPDATE webhook.
- `/api/chat/users/setenabled` only with a moderator chat user's `?accessToken=`;
  `/api/admin/chat/users/setenabled` only with HTTP Basic admin auth.
- `/api/status` (public) reflects the current viewer count; it can fail (`status_error`,
  e.g. 503 behind a proxy) or the whole server can stop and come back on its port.
- `throttle(s)`: moderation and integration calls answer 429 with `Retry-After` until
  `s` seconds of its (compressible) clock have passed; a call made sooner is refused again.
- `legacy`: the old endpoint name, and joins sent as NAME_CHANGE (owncast#1302).
- Webhooks: one POST per event, signed (`owncast-signature`) or not, never retried,
  optionally dropped, tampered with after signing, or stamped with a stale time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import math
import random
import secrets
import string
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.connectors.clock import ScaledClock
from app.connectors.owncast import SIGNATURE_HEADER, owncast_signature
from tests.conftest import free_port

ADMIN_SCOPE = "HAS_ADMIN_ACCESS"
SEND_SCOPE = "CAN_SEND_MESSAGES"
SYSTEM_SCOPE = "CAN_SEND_SYSTEM_MESSAGES"


@dataclass
class ChatUser:
    id: str
    display_name: str
    moderator: bool = False
    enabled: bool = True
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayName": self.display_name,
            "previousNames": [self.display_name],
            "isBot": False,
            "authenticated": False,
            "scopes": ["MODERATOR"] if self.moderator else [],
            "disabledAt": None if self.enabled else datetime.now(UTC).isoformat(),
        }


@dataclass
class Sent:
    """One webhook POST as the fake made it (or would have, if dropped)."""

    type: str
    body: bytes
    headers: dict[str, str]
    status: int | None  # None: dropped, never sent


def _id(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits + "-_", k=9))


class FakeOwncast:
    """The server and its webhook sender; `async with FakeOwncast(...) as owncast:`."""

    def __init__(
        self,
        *,
        tokens: dict[str, set[str]] | None = None,
        webhook_url: str | None = None,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
        webhook_secret: str | None = None,
        legacy: bool = False,
        admin_password: str = "admin-pass",
        seed: int = 7,
        speed: float = 1.0,
    ) -> None:
        self.tokens = tokens or {}  # bearer access token -> scopes
        self.webhook_url = webhook_url
        self.webhook_transport = webhook_transport
        self.webhook_secret = webhook_secret  # None: an Owncast before 0.3.0, unsigned
        self.legacy = legacy
        self.admin_password = admin_password
        self.rng = random.Random(seed)
        self.online = True
        self.viewer_count = 0
        self.session_max = 0
        self.users: dict[str, ChatUser] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.sent: list[Sent] = []
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self.drop_rate = 0.0
        self.drop_next = 0
        self.tamper_next = False
        self.stale_next_s = 0
        self.clock_offset_s = 0.0
        self.clock = ScaledClock(speed)  # for rate-limit windows, at the connector's pace
        self.throttled_until: float | None = None
        self.status_error: int | None = None  # /api/status answers this instead
        self.port = 0
        self._client_ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.url = ""
        self.app = Starlette(
            routes=[
                Route("/api/status", self._status, methods=["GET"]),
                Route("/api/integrations/chat/{name}", self._visibility_or_send, methods=["POST"]),
                Route("/api/chat/users/setenabled", self._set_enabled_moderator, methods=["POST"]),
                Route(
                    "/api/admin/chat/users/setenabled", self._set_enabled_admin, methods=["POST"]
                ),
            ]
        )

    async def __aenter__(self) -> FakeOwncast:
        self.port = free_port()
        await self.start_server()
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.stop_server()

    async def start_server(self) -> None:
        """Serves on its port (again, after stop_server: a restarted Owncast)."""
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(500):
            if self._server.started:
                return
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        raise AssertionError("the fake Owncast did not start")

    async def stop_server(self) -> None:
        """Stops answering (connections refused) until start_server."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._task, 10)
        self._server = self._task = None

    # -- people and state --
    def user(self, display_name: str, *, moderator: bool = False) -> ChatUser:
        user = ChatUser(_id(self.rng), display_name, moderator=moderator)
        self.users[user.id] = user
        return user

    def status(self) -> dict[str, Any]:
        return {
            "online": self.online,
            "viewerCount": self.viewer_count,
            "sessionMaxViewerCount": self.session_max,
            "overallMaxViewerCount": self.session_max,
            "lastConnectTime": "2026-01-01T17:00:00Z",
            "lastDisconnectTime": None,
            "versionNumber": "0.1.0" if self.legacy else "0.2.0",
        }

    def set_viewers(self, count: int) -> None:
        self.viewer_count = count
        self.session_max = max(self.session_max, count)

    # -- HTTP API --
    def _bearer(self, request: Request, scope: str) -> Response | None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        if not token or token not in self.tokens:
            return Response("unauthorized", status_code=401)
        if scope not in self.tokens[token]:
            return JSONResponse({"message": f"token lacks the {scope} scope"}, status_code=403)
        return None

    def _log(self, request: Request, status: int) -> None:
        self.requests.append((request.method, request.url.path, status))

    def throttle(self, retry_after_s: float) -> None:
        """Calls that change things answer 429 for the next `retry_after_s` seconds."""
        self.throttled_until = self.clock.monotonic() + retry_after_s

    def _throttled(self, request: Request) -> Response | None:
        if self.throttled_until is None:
            return None
        left = self.throttled_until - self.clock.monotonic()
        if left <= 0:
            self.throttled_until = None
            return None
        self._log(request, 429)
        return JSONResponse(
            {"message": "too many requests"},
            status_code=429,
            headers={"Retry-After": str(math.ceil(left))},
        )

    async def _status(self, request: Request) -> Response:
        if self.status_error is not None:
            self._log(request, self.status_error)
            return Response("upstream unavailable", status_code=self.status_error)
        self._log(request, 200)
        return JSONResponse(self.status())

    async def _visibility_or_send(self, request: Request) -> Response:
        if (throttled := self._throttled(request)) is not None:
            return throttled
        name = request.path_params["name"]
        visibility = "updatemessagevisibility" if self.legacy else "messagevisibility"
        if name == "send":
            refused = self._bearer(request, SEND_SCOPE)
            if refused is not None:
                self._log(request, refused.status_code)
                return refused
            body = await self._json(request)
            text = body.get("body") if isinstance(body, dict) else None
            if not isinstance(text, str) or not text:
                self._log(request, 400)
                return JSONResponse({"message": "body is required"}, status_code=400)
            bot = ChatUser("bot-" + _id(self.rng), "control-room-bot")
            message = self.chat_event(bot, text)
            message["user"]["isBot"] = True
            self._log(request, 200)
            self._later(self.deliver("CHAT", message))
            return JSONResponse({"success": True, "message": "sent"})
        if name != visibility:
            self._log(request, 404)
            return Response("404 page not found", status_code=404)
        refused = self._bearer(request, ADMIN_SCOPE)
        if refused is not None:
            self._log(request, refused.status_code)
            return refused
        body = await self._json(request)
        ids = body.get("idArray") if isinstance(body, dict) else None
        visible = body.get("visible") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not isinstance(visible, bool):
            self._log(request, 400)
            return JSONResponse({"message": "idArray and visible are required"}, status_code=400)
        for message_id in ids:
            if message_id in self.messages:
                self.messages[message_id]["visible"] = visible
        self._log(request, 200)
        # Owncast tells webhooks (and chat clients) after it changed the messages.
        self._later(
            self.deliver(
                "VISIBILITY-UPDATE",
                {"ids": ids, "visible": visible, "user": None, **self._stamp()},
            )
        )
        return JSONResponse({"success": True, "message": "changed"})

    async def _set_enabled_moderator(self, request: Request) -> Response:
        if (throttled := self._throttled(request)) is not None:
            return throttled
        token = request.query_params.get("accessToken", "")
        moderator = next((u for u in self.users.values() if u.token == token), None)
        if not token or moderator is None or not moderator.enabled or not moderator.moderator:
            self._log(request, 401)
            return Response("unauthorized", status_code=401)
        return await self._set_enabled(request)

    async def _set_enabled_admin(self, request: Request) -> Response:
        if (throttled := self._throttled(request)) is not None:
            return throttled
        expected = base64.b64encode(f"admin:{self.admin_password}".encode()).decode()
        if request.headers.get("authorization", "") != f"Basic {expected}":
            self._log(request, 401)
            return Response("Unauthorized", status_code=401)
        return await self._set_enabled(request)

    async def _set_enabled(self, request: Request) -> Response:
        body = await self._json(request)
        user_id = body.get("userId") if isinstance(body, dict) else None
        enabled = body.get("enabled") if isinstance(body, dict) else None
        if not isinstance(user_id, str) or not isinstance(enabled, bool):
            self._log(request, 400)
            return JSONResponse({"message": "userId and enabled are required"}, status_code=400)
        user = self.users.get(user_id)
        if user is None:
            self._log(request, 400)
            return JSONResponse({"success": False, "message": "user not found"}, status_code=400)
        user.enabled = enabled
        self._log(request, 200)
        return JSONResponse({"success": True, "message": "changed"})

    @staticmethod
    async def _json(request: Request) -> Any:
        try:
            return orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None

    def _later(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- webhook payloads --
    def _stamp(self) -> dict[str, Any]:
        return {"id": _id(self.rng), "timestamp": datetime.now(UTC).isoformat()[:-6] + "123Z"}

    def chat_event(self, user: ChatUser, text: str) -> dict[str, Any]:
        """A CHAT eventData: rawBody as typed, body as Owncast's rendered HTML."""
        stamp = self._stamp()
        html = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        message = {
            **stamp,
            "clientId": next(self._client_ids),
            "visible": True,
            "rawBody": text,
            "body": f'<p>{html} <img class="emoji" src="/img/emoji/beerparrot.gif"></p>',
            "user": user.payload(),
        }
        self.messages[stamp["id"]] = message
        return message

    async def chat(self, user: ChatUser, text: str) -> tuple[str, Sent]:
        """A viewer chats; returns the message id and the delivery."""
        message = self.chat_event(user, text)
        return message["id"], await self.deliver("CHAT", message)

    async def joined(self, user: ChatUser) -> Sent:
        # owncast#1302: an old server sends the join as NAME_CHANGE (and no newName).
        kind = "NAME_CHANGE" if self.legacy else "USER_JOINED"
        return await self.deliver(kind, {**self._stamp(), "user": user.payload()})

    async def parted(self, user: ChatUser) -> Sent:
        return await self.deliver("USER_PARTED", {**self._stamp(), "user": user.payload()})

    async def rename(self, user: ChatUser, new_name: str) -> Sent:
        data = {**self._stamp(), "user": user.payload(), "newName": new_name}
        user.display_name = new_name
        return await self.deliver("NAME_CHANGE", data)

    async def stream(self, kind: str, title: str = "Launch day") -> Sent:
        data = {**self._stamp(), "name": "Fake Owncast", "streamTitle": title, "summary": "s"}
        return await self.deliver(kind, data)

    # -- the sender --
    async def deliver(self, kind: str, event_data: dict[str, Any]) -> Sent:
        """One webhook POST with the status and serverURL Owncast adds; never retried."""
        body = orjson.dumps(
            {
                "type": kind,
                "eventData": {**event_data, "status": self.status(), "serverURL": self.url},
            }
        )
        return await self.post_raw(kind, body)

    async def post_raw(self, kind: str, body: bytes) -> Sent:
        headers = {"content-type": "application/json", "user-agent": "Owncast/0.2.0"}
        if self.webhook_secret is not None:
            stamp = int(time.time() + self.clock_offset_s) - self.stale_next_s
            headers[SIGNATURE_HEADER] = owncast_signature(self.webhook_secret, stamp, body)
        self.stale_next_s = 0
        if self.tamper_next:  # changed after signing, as a man in the middle would
            body = body.replace(b'"visible":true', b'"visible":false', 1) + b" "
            self.tamper_next = False
        if self.drop_next > 0 or (self.drop_rate and self.rng.random() < self.drop_rate):
            self.drop_next = max(0, self.drop_next - 1)
            sent = Sent(kind, body, headers, None)
            self.sent.append(sent)
            return sent
        status = None
        if self.webhook_url:
            async with httpx.AsyncClient(transport=self.webhook_transport, timeout=10) as client:
                with contextlib.suppress(httpx.HTTPError):  # Owncast ignores the outcome
                    status = (
                        await client.post(self.webhook_url, content=body, headers=headers)
                    ).status_code
        sent = Sent(kind, body, headers, status)
        self.sent.append(sent)
        return sent
