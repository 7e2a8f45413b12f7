"""A local Zoom: signs and delivers webhooks with Zoom's retry rules, and serves the REST
calls a connector makes (Server-to-Server OAuth, webinar reports, live chat delete).

What it enforces (CONNECTORS.md section 7, "Zoom fake"):
- `x-zm-signature` v0 over the exact bytes sent, with a fresh timestamp per attempt;
- `endpoint.url_validation` at registration and on demand, checking our encryptedToken;
- a 3 s acknowledgement deadline; an event not acknowledged in time is re-sent, the
  same bytes, after 5 min, +20 min and +60 min of its (compressible) clock, then dropped;
- Q&A and poll reports answer 404 (code 3001) until the webinar has ended (and its
  report is ready); Heavy-category calls (reports) beyond `heavy_per_s` a second answer 429 (no
  Retry-After: Zoom documents none);
- OAuth with the account's client id/secret and account id (401 `invalid_client`, 400
  `invalid_request`); every API call needs a token it issued that has not expired
  (`token_ttl_s` of its clock; Zoom's last an hour); chat delete only for a live
  webinar's existing, undeleted message.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import secrets as token_source
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.connectors.clock import ScaledClock
from tests.conftest import free_port

RETRY_SCHEDULE_S = (300.0, 1200.0, 3600.0)  # after the first attempt: +5, +20, +60 min
NOT_FOUND = {"code": 3001, "message": "Webinar does not exist."}


def zm_sign(secret: str, timestamp: str, body: bytes) -> str:
    """Zoom's x-zm-signature, computed here independently of the connector."""
    mac = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return "v0=" + mac.hexdigest()


@dataclass
class Attempt:
    """One POST of a webhook: when it was sent (fake seconds), the answer, acknowledged?"""

    event: str
    body: bytes
    at_s: float
    status: int | None
    acknowledged: bool


@dataclass
class Webinar:
    id: str
    kind: str = "webinar"  # or "meeting"
    live: bool = False
    ended_at: float | None = None  # fake monotonic time
    messages: dict[str, bool] = field(default_factory=dict)  # message id -> deleted
    questions: list[dict[str, Any]] = field(default_factory=list)
    poll_answers: list[dict[str, Any]] = field(default_factory=list)


class ZoomFake:
    """One Zoom account with its webhook subscription and REST API (base_url + /v2)."""

    def __init__(
        self,
        *,
        secret: str,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        account_id: str = "fake-account",
        speed: float = 3600.0,
        ack_deadline_s: float = 3.0,
        heavy_per_s: int = 10,
        heavy_window_s: float = 1.0,
        report_delay_s: float = 0.0,
        token_ttl_s: float = 3600.0,
    ) -> None:
        self.secret = secret
        self.client_id, self.client_secret, self.account_id = client_id, client_secret, account_id
        self.clock = ScaledClock(speed)
        self.ack_deadline_s = ack_deadline_s  # real seconds: our route must answer in time
        # Zoom counts Heavy calls per real second; a test may shrink the window.
        self.heavy_per_s, self.heavy_window_s = heavy_per_s, heavy_window_s
        self.report_delay_s = report_delay_s  # fake seconds after the end until reports exist
        self.late_acks = 0  # the next N acknowledgements arrive too late (a slow network)
        self.webhook_url: str | None = None
        self.attempts: list[Attempt] = []
        self.calls: list[tuple[str, str, int]] = []  # REST calls: method, path, status
        self.webinars: dict[str, Webinar] = {}
        self.token_ttl_s = token_ttl_s
        self.tokens: dict[str, float] = {}  # access token -> expiry (fake monotonic)
        self._heavy: deque[float] = deque()
        self._pending: set[asyncio.Task[None]] = set()
        self._ts = itertools.count(int(time.time() * 1000))
        self._client = httpx.AsyncClient(timeout=ack_deadline_s)
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle --
    async def __aenter__(self) -> ZoomFake:
        port = free_port()
        app = Starlette(
            routes=[
                Route("/oauth/token", self._oauth, methods=["POST"]),
                Route("/v2/report/webinars/{id}/qa", self._report_qa, methods=["GET"]),
                Route("/v2/report/webinars/{id}/polls", self._report_polls, methods=["GET"]),
                Route("/v2/{live}/{id}/chat/messages/{mid}", self._delete_chat, methods=["DELETE"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._pending:
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        await self._client.aclose()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 5)

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/v2"

    # -- webhooks --
    def signed_headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "content-type": "application/json",
            "x-zm-request-timestamp": stamp,
            "x-zm-signature": zm_sign(self.secret, stamp, body),
        }

    async def register(self, url: str) -> None:
        """Subscribes `url`, as Zoom does: only once it answers the validation challenge."""
        self.webhook_url = url
        if not await self.validate():
            self.webhook_url = None
            raise AssertionError(f"{url} failed Zoom's URL validation")

    async def validate(self) -> bool:
        """Zoom's URL validation challenge (sent at registration and every 72 h)."""
        assert self.webhook_url, "register a webhook URL first"
        plain = token_source.token_urlsafe(16)
        body = orjson.dumps(
            {
                "payload": {"plainToken": plain},
                "event_ts": next(self._ts),
                "event": "endpoint.url_validation",
            }
        )
        response = await self._client.post(
            self.webhook_url, content=body, headers=self.signed_headers(body)
        )
        if response.status_code != 200:
            return False
        answer = response.json()
        expected = hmac.new(self.secret.encode(), plain.encode(), hashlib.sha256).hexdigest()
        return answer == {"plainToken": plain, "encryptedToken": expected}

    async def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """One raw POST to the subscription (for forged, stale or altered deliveries)."""
        assert self.webhook_url, "register a webhook URL first"
        return await self._client.post(self.webhook_url, content=body, headers=headers)

    def deliver(self, message: dict[str, Any]) -> bytes:
        """Sends an event with Zoom's retry schedule (in the background); returns its bytes."""
        assert self.webhook_url, "register a webhook URL first"
        body = orjson.dumps(message)
        task = asyncio.create_task(self._deliver(str(message.get("event")), body))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return body

    async def settle(self) -> None:
        """Waits until every event was acknowledged or ran out of retries."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def _deliver(self, event: str, body: bytes) -> None:
        for delay in (0.0, *RETRY_SCHEDULE_S):
            await self.clock.sleep(delay)
            if await self._attempt(event, body):
                return

    async def _attempt(self, event: str, body: bytes) -> bool:
        assert self.webhook_url
        at_s, started = self.clock.monotonic(), time.monotonic()
        status: int | None = None
        with contextlib.suppress(httpx.HTTPError):
            response = await self._client.post(
                self.webhook_url, content=body, headers=self.signed_headers(body)
            )
            status = response.status_code
        in_time = time.monotonic() - started <= self.ack_deadline_s
        if status is not None and in_time and self.late_acks > 0:
            self.late_acks -= 1
            in_time = False
        acknowledged = status in (200, 204) and in_time
        self.attempts.append(Attempt(event, body, at_s, status, acknowledged))
        # Zoom does not retry a delivery refused with 4xx (a bad signature stays bad).
        return acknowledged or (status is not None and 400 <= status < 500)

    # -- events (each updates the platform state and is delivered) --
    def _event(self, event: str, webinar_id: str, obj: dict[str, Any], ts: int | None) -> bytes:
        webinar = self.webinars.setdefault(webinar_id, Webinar(webinar_id))
        webinar.kind = event.split(".", 1)[0]
        return self.deliver(
            {
                "event": event,
                "event_ts": next(self._ts) if ts is None else ts,
                "payload": {
                    "account_id": self.account_id,
                    "object": {"id": webinar_id, "uuid": f"{webinar_id}==", **obj},
                },
            }
        )

    def start(self, webinar_id: str, kind: str = "webinar") -> bytes:
        self.webinars.setdefault(webinar_id, Webinar(webinar_id)).live = True
        return self._event(f"{kind}.started", webinar_id, {"topic": "Launch", "type": 5}, None)

    def end(self, webinar_id: str, kind: str = "webinar") -> bytes:
        webinar = self.webinars.setdefault(webinar_id, Webinar(webinar_id))
        webinar.live, webinar.ended_at = False, self.clock.monotonic()
        return self._event(f"{kind}.ended", webinar_id, {"topic": "Launch", "type": 5}, None)

    def participant(
        self,
        webinar_id: str,
        action: str,
        participant_uuid: str,
        name: str,
        *,
        ts: int | None = None,
        kind: str = "webinar",
    ) -> bytes:
        """`action` is "joined" or "left"; `ts` lets a test deliver events out of order."""
        who = {
            "user_id": str(abs(hash(participant_uuid)) % 10**8),
            "user_name": name,
            "id": participant_uuid[:8],
            "participant_uuid": participant_uuid,
            "join_time": "2024-05-29T17:00:03Z",
            "email": f"{name.lower()}@example.com",
        }
        event = f"{kind}.participant_{action}"
        return self._event(event, webinar_id, {"participant": who}, ts)

    def chat(
        self, webinar_id: str, message_id: str, text: str, sender: str, kind: str = "webinar"
    ) -> bytes:
        self.webinars.setdefault(webinar_id, Webinar(webinar_id)).messages[message_id] = False
        chat = {
            "date_time": "2024-05-29T17:05:00Z",
            "sender_session_id": f"session-{sender.lower()}",
            "sender_name": sender,
            "sender_type": "guest",
            "recipient_type": "everyone",
            "message_id": message_id,
            "message_content": text,
        }
        return self._event(f"{kind}.chat_message_sent", webinar_id, {"chat_message": chat}, None)

    def ask(self, webinar_id: str, name: str, question: str, answer: str | None = None) -> None:
        """A Q&A question (Zoom sends no webhook for it; only the report has it)."""
        self.webinars.setdefault(webinar_id, Webinar(webinar_id)).questions.append(
            {"name": name, "email": f"{name.lower()}@example.com", "question": question,
             "answer": answer, "question_id": base64.b32encode(token_source.token_bytes(5)).decode()}
        )  # fmt: skip

    def vote_poll(
        self, webinar_id: str, name: str, polling_id: str, question: str, answer: str
    ) -> None:
        self.webinars.setdefault(webinar_id, Webinar(webinar_id)).poll_answers.append(
            {"name": name, "email": f"{name.lower()}@example.com", "polling_id": polling_id,
             "question": question, "answer": answer}
        )  # fmt: skip

    def expire_tokens(self) -> None:
        """Every token issued so far expires now (as an hour-old one does)."""
        now = self.clock.monotonic()
        self.tokens = {token: min(at, now) for token, at in self.tokens.items()}

    # -- REST --
    def _record(self, request: Request, response: Response) -> Response:
        self.calls.append((request.method, request.url.path, response.status_code))
        return response

    async def _oauth(self, request: Request) -> Response:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if not hmac.compare_digest(request.headers.get("authorization", ""), f"Basic {expected}"):
            body = {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
            return self._record(request, JSONResponse(body, 401))
        grant = request.query_params.get("grant_type")
        if grant != "account_credentials":
            body = {"reason": f"Unsupported grant type: {grant}", "error": "unsupported_grant_type"}
            return self._record(request, JSONResponse(body, 400))
        if request.query_params.get("account_id") != self.account_id:
            body = {"reason": "Invalid request : account_id is wrong", "error": "invalid_request"}
            return self._record(request, JSONResponse(body, 400))
        token = token_source.token_urlsafe(24)
        self.tokens[token] = self.clock.monotonic() + self.token_ttl_s
        granted = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": int(self.token_ttl_s),
            "scope": "x",
        }
        return self._record(request, JSONResponse(granted))

    def _refuse(self, request: Request, *, heavy: bool) -> Response | None:
        auth = request.headers.get("authorization", "")
        expires_at = (
            self.tokens.get(auth.removeprefix("Bearer ")) if auth[:7] == "Bearer " else None
        )
        if expires_at is None:
            body = {"code": 124, "message": "Invalid access token."}
            return self._record(request, JSONResponse(body, 401))
        if self.clock.monotonic() >= expires_at:
            body = {"code": 124, "message": "Access token is expired."}
            return self._record(request, JSONResponse(body, 401))
        if heavy:
            now = time.monotonic()
            while self._heavy and self._heavy[0] <= now - self.heavy_window_s:
                self._heavy.popleft()
            if len(self._heavy) >= self.heavy_per_s:
                body = {
                    "code": 429,
                    "message": "You have reached the maximum per-second rate limit for this API.",
                }
                return self._record(request, JSONResponse(body, 429))
            self._heavy.append(now)
        return None

    def _report_ready(self, webinar_id: str) -> Webinar | None:
        webinar = self.webinars.get(webinar_id)
        if webinar is None or webinar.ended_at is None:
            return None
        if self.clock.monotonic() < webinar.ended_at + self.report_delay_s:
            return None
        return webinar

    async def _report_qa(self, request: Request) -> Response:
        if (refused := self._refuse(request, heavy=True)) is not None:
            return refused
        webinar = self._report_ready(request.path_params["id"])
        if webinar is None:
            return self._record(request, JSONResponse(NOT_FOUND, 404))
        questions = [
            {
                "name": q["name"],
                "email": q["email"],
                "question_details": [
                    {
                        "question_id": q["question_id"],
                        "create_time": "2024-05-29T17:10:00Z",
                        "question": q["question"],
                        "answer": q["answer"] or "",
                        "question_status": "answered" if q["answer"] else "open",
                    }
                ],
            }
            for q in webinar.questions
        ]
        body = {"id": webinar.id, "start_time": "2024-05-29T17:00:00Z", "questions": questions}
        return self._record(request, JSONResponse(body))

    async def _report_polls(self, request: Request) -> Response:
        if (refused := self._refuse(request, heavy=True)) is not None:
            return refused
        webinar = self._report_ready(request.path_params["id"])
        if webinar is None:
            return self._record(request, JSONResponse(NOT_FOUND, 404))
        by_person: dict[str, dict[str, Any]] = {}
        for a in webinar.poll_answers:
            person = by_person.setdefault(
                a["email"], {"name": a["name"], "email": a["email"], "question_details": []}
            )
            person["question_details"].append(
                {
                    "polling_id": a["polling_id"],
                    "question": a["question"],
                    "answer": a["answer"],
                    "date_time": "2024-05-29T17:20:00Z",
                }
            )
        body = {"id": webinar.id, "questions": list(by_person.values())}
        return self._record(request, JSONResponse(body))

    async def _delete_chat(self, request: Request) -> Response:
        if (refused := self._refuse(request, heavy=False)) is not None:
            return refused
        live, webinar_id, message_id = (request.path_params[k] for k in ("live", "id", "mid"))
        webinar = self.webinars.get(webinar_id)
        kind = {"live_webinars": "webinar", "live_meetings": "meeting"}.get(live)
        if kind is None or webinar is None or webinar.kind != kind:
            return self._record(request, JSONResponse(NOT_FOUND, 404))
        if not webinar.live:
            body = {"code": 3000, "message": f"The {kind} is not in progress."}
            return self._record(request, JSONResponse(body, 400))
        if webinar.messages.get(message_id) is not False:
            body = {"code": 3001, "message": "Chat message does not exist or was deleted."}
            return self._record(request, JSONResponse(body, 404))
        webinar.messages[message_id] = True
        return self._record(request, Response(status_code=204))
