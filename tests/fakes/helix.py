"""A fake Twitch Helix API (and token endpoint) that enforces what the real one does.

Tokens carry a user and scopes; every call spends a point from the token's bucket and
answers with Ratelimit-* headers, 429 once the bucket is empty. Moderation checks
scopes, that moderator_id is the token's user, the timeout range and "already
banned". Polls check what Create Poll and End Poll document (scope, the broadcaster's
own token, title and choice lengths, 2..5 choices, 15..1800 s, one running poll, only an
active poll ends) and that the channel is an affiliate or partner. Served by uvicorn on
a free port; the state lives on the FakeTwitch object.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from tests.fakes.twitch_eventsub import FakeTwitch

MAX_TIMEOUT_S = 1_209_600
CHAT_SCOPE = "user:read:chat"
POLLS_SCOPE = "channel:manage:polls"
MAX_POLL_TITLE = 60
MAX_CHOICE_TITLE = 25
POLL_CHOICES = (2, 5)
POLL_DURATION_S = (15, 1800)
POLL_END_STATUSES = ("TERMINATED", "ARCHIVED")
# Twitch's own words (Create Poll / End Poll response codes in the API reference).
NOT_ACTIVE = "The poll must be active to terminate or archive it."
ALREADY_RUNNING = (
    "The broadcaster already has a poll that's running; you may not create another poll "
    "until the current poll completes."
)
# Not in the reference (it lists no 403 for polls); worded as Twitch words it elsewhere.
NOT_AFFILIATE = "The broadcaster must be a partner or affiliate to run polls."
SUBSCRIPTION_SCOPES = {
    "channel.chat.message": {CHAT_SCOPE},
    "channel.chat.message_delete": {CHAT_SCOPE},
    "channel.chat.clear_user_messages": {CHAT_SCOPE},
    "channel.poll.begin": {"channel:read:polls", "channel:manage:polls"},
    "channel.poll.progress": {"channel:read:polls", "channel:manage:polls"},
    "channel.poll.end": {"channel:read:polls", "channel:manage:polls"},
}
ALL_SCOPES = {
    CHAT_SCOPE,
    "channel:read:polls",
    POLLS_SCOPE,
    "moderator:manage:chat_messages",
    "moderator:manage:banned_users",
    "user:write:chat",
}


@dataclass
class Token:
    """An access token as Twitch knows it: whose it is and what it may do."""

    user_id: str
    client_id: str
    scopes: set[str] = field(default_factory=lambda: set(ALL_SCOPES))


@dataclass
class Bucket:
    """The token's rate-limit points (800 a minute on Twitch)."""

    limit: int
    remaining: int
    reset_at: float


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    names = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
    names |= {409: "Conflict", 429: "Too Many Requests"}
    body = {"error": names.get(status, "Error"), "status": status, "message": message}
    return JSONResponse(body, status_code=status, headers=headers)


class HelixApp:
    """The routes; each one authenticates, spends a point, then applies Twitch's rules."""

    def __init__(self, twitch: FakeTwitch) -> None:
        self.twitch = twitch
        self.app = Starlette(
            routes=[
                Route("/helix/eventsub/subscriptions", self.subscribe, methods=["POST"]),
                Route("/helix/streams", self.streams, methods=["GET"]),
                Route("/helix/moderation/chat", self.delete_chat, methods=["DELETE"]),
                Route("/helix/moderation/bans", self.ban, methods=["POST"]),
                Route("/helix/chat/messages", self.send_chat, methods=["POST"]),
                Route("/helix/polls", self.polls, methods=["POST", "PATCH"]),
                Route("/oauth2/token", self.token, methods=["POST"]),
            ]
        )

    # -- door --
    def _authenticate(self, request: Request) -> tuple[Token, dict[str, str]] | Response:
        t = self.twitch
        t.requests.append((request.method, request.url.path))
        auth = request.headers.get("authorization", "")
        token = t.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if token is None:
            return error(401, "Invalid OAuth token")
        if request.headers.get("client-id") != token.client_id:
            return error(401, "Client ID and OAuth token do not match")
        key = auth.removeprefix("Bearer ")
        now = t.clock.now().timestamp()
        bucket = t.buckets.get(key)
        if bucket is None or now >= bucket.reset_at:
            bucket = Bucket(t.points_per_minute, t.points_per_minute, math.ceil(now + 60))
            t.buckets[key] = bucket
        headers = {
            "Ratelimit-Limit": str(bucket.limit),
            "Ratelimit-Remaining": str(bucket.remaining),
            "Ratelimit-Reset": str(int(bucket.reset_at)),
        }
        if bucket.remaining <= 0:
            t.rate_limited += 1
            return error(429, "Too Many Requests", headers)
        bucket.remaining -= 1
        headers["Ratelimit-Remaining"] = str(bucket.remaining)
        return token, headers

    @staticmethod
    async def _json(request: Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _moderator(self, request: Request, scope: str) -> tuple[Token, dict[str, str]] | Response:
        """A moderation call's token and headers, or its refusal: the token, the scope, a
        broadcaster_id, and a moderator_id that is the token's own user."""
        door = self._authenticate(request)
        if isinstance(door, Response):
            return door
        token, headers = door
        if scope not in token.scopes:
            return error(401, f"Missing scope: {scope}", headers)
        if not request.query_params.get("broadcaster_id"):
            return error(400, 'Missing required parameter "broadcaster_id"', headers)
        if request.query_params.get("moderator_id") != token.user_id:
            return error(
                403,
                "The ID in moderator_id must match the user ID found in the request's OAuth token.",
                headers,
            )
        return token, headers

    # -- routes --
    async def subscribe(self, request: Request) -> Response:
        door = self._authenticate(request)
        if isinstance(door, Response):
            return door
        token, headers = door
        body = await self._json(request)
        if body is None:
            return error(400, "malformed body", headers)
        sub_type, version = body.get("type"), body.get("version")
        condition = body.get("condition") or {}
        transport = body.get("transport") or {}
        if sub_type not in SUBSCRIPTION_SCOPES or version != "1":
            return error(400, f"unknown subscription type {sub_type} v{version}", headers)
        if transport.get("method") != "websocket" or not transport.get("session_id"):
            return error(400, "transport must be websocket with a session_id", headers)
        if not SUBSCRIPTION_SCOPES[sub_type] & token.scopes:
            return error(403, "subscription missing proper authorization", headers)
        # Chat is read as a user (condition.user_id), polls only by the broadcaster.
        reader = condition.get("user_id") if sub_type.startswith("channel.chat") else None
        if (reader or condition.get("broadcaster_user_id")) != token.user_id:
            return error(403, "subscription missing proper authorization", headers)
        session = self.twitch.sessions.get(str(transport["session_id"]))
        if session is None or session.status != "connected":
            return error(
                400,
                "websocket transport session does not exist or has already disconnected",
                headers,
            )
        for existing in session.subscriptions.values():
            if existing["type"] == sub_type and existing["condition"] == condition:
                return error(409, "subscription already exists", headers)
        subscription = self.twitch.add_subscription(session, sub_type, version, condition)
        self.twitch.subscription_posts.append((session.id, sub_type))
        total = sum(len(s.subscriptions) for s in self.twitch.sessions.values())
        return JSONResponse(
            {"data": [subscription], "total": total, "total_cost": 0, "max_total_cost": 10},
            status_code=202,
            headers=headers,
        )

    async def streams(self, request: Request) -> Response:
        door = self._authenticate(request)
        if isinstance(door, Response):
            return door
        _token, headers = door
        login = request.query_params.get("user_login", "")
        stream = self.twitch.streams.get(login)
        data = [stream] if stream else []
        return JSONResponse({"data": data, "pagination": {}}, headers=headers)

    async def delete_chat(self, request: Request) -> Response:
        door = self._moderator(request, "moderator:manage:chat_messages")
        if isinstance(door, Response):
            return door
        _token, headers = door
        message_id = request.query_params.get("message_id")
        if message_id and message_id not in self.twitch.chat_ids:
            return error(404, "message not found or too old to delete", headers)
        self.twitch.deleted.append(message_id or "*")
        return Response(status_code=204, headers=headers)

    async def ban(self, request: Request) -> Response:
        door = self._moderator(request, "moderator:manage:banned_users")
        if isinstance(door, Response):
            return door
        token, headers = door
        body = await self._json(request)
        data = body.get("data") if body else None
        if not isinstance(data, dict) or not data.get("user_id"):
            return error(400, 'Missing required field "user_id"', headers)
        duration = data.get("duration")
        if duration is not None and (
            not isinstance(duration, int) or not 1 <= duration <= MAX_TIMEOUT_S
        ):
            return error(400, "The value in the duration field is not valid.", headers)
        if len(str(data.get("reason") or "")) > 500:
            return error(400, "The text in the reason field is too long.", headers)
        key = (request.query_params["broadcaster_id"], str(data["user_id"]))
        if key in self.twitch.bans and self.twitch.bans[key] is None:
            return error(400, "The user specified in the user_id field is already banned.", headers)
        self.twitch.bans[key] = duration
        end = None
        if duration is not None:
            end = (self.twitch.clock.now().timestamp() + duration).__str__()
        row = {
            "broadcaster_id": key[0],
            "moderator_id": token.user_id,
            "user_id": key[1],
            "created_at": self.twitch.clock.now().isoformat(),
            "end_time": end,
        }
        return JSONResponse({"data": [row]}, headers=headers)

    async def send_chat(self, request: Request) -> Response:
        door = self._authenticate(request)
        if isinstance(door, Response):
            return door
        token, headers = door
        if "user:write:chat" not in token.scopes:
            return error(401, "Missing scope: user:write:chat", headers)
        body = await self._json(request) or {}
        if body.get("sender_id") != token.user_id:
            return error(403, "The sender must be the user in the OAuth token.", headers)
        message = str(body.get("message") or "")
        if not message or not body.get("broadcaster_id"):
            return error(400, "broadcaster_id and message are required", headers)
        if any(word in message.lower() for word in self.twitch.automod_words):
            sent = {
                "message_id": "",
                "is_sent": False,
                "drop_reason": {
                    "code": "msg_rejected",
                    "message": "Your message is being checked by mods and has not been sent.",
                },
            }
        else:
            sent = {"message_id": str(uuid.uuid4()), "is_sent": True, "drop_reason": None}
            self.twitch.sent.append(message)
        return JSONResponse({"data": [sent]}, headers=headers)

    async def polls(self, request: Request) -> Response:
        """POST creates a poll (Create Poll), PATCH ends one (End Poll)."""
        door = self._authenticate(request)
        if isinstance(door, Response):
            return door
        token, headers = door
        if request.method == "POST":
            return await self._create_poll(request, token, headers)
        return await self._end_poll(request, token, headers)

    async def _create_poll(
        self, request: Request, token: Token, headers: dict[str, str]
    ) -> Response:
        t = self.twitch
        if POLLS_SCOPE not in token.scopes:
            return error(401, f"The user access token is missing the {POLLS_SCOPE} scope.", headers)
        body = await self._json(request)
        if body is None:
            return error(400, "The request body is not valid JSON.", headers)
        broadcaster = body.get("broadcaster_id")
        if not broadcaster:
            return error(400, "The broadcaster_id field is required.", headers)
        if broadcaster != token.user_id:
            return error(
                401, "The ID in broadcaster_id must match the user ID in the access token.", headers
            )
        channel = t.broadcasters.get(str(broadcaster), {})
        if channel.get("broadcaster_type") not in ("affiliate", "partner"):
            return error(403, NOT_AFFILIATE, headers)
        title, choices, duration = body.get("title"), body.get("choices"), body.get("duration")
        if not isinstance(title, str) or not title:
            return error(400, "The title field is required.", headers)
        if len(title) > MAX_POLL_TITLE:
            return error(400, "The poll's title is too long.", headers)
        if not isinstance(choices, list) or not choices:
            return error(400, "The choices field is required.", headers)
        if not POLL_CHOICES[0] <= len(choices) <= POLL_CHOICES[1]:
            return error(
                400,
                "The number of choices in the poll may not be less than 2 or greater that 5.",
                headers,
            )
        titles = [c.get("title") if isinstance(c, dict) else None for c in choices]
        if not all(isinstance(c, str) and c for c in titles):
            return error(400, "Each choice must have a title.", headers)
        if any(len(str(c)) > MAX_CHOICE_TITLE for c in titles):
            return error(400, "The choice's title is too long.", headers)
        if duration is None:
            return error(400, "The duration field is required.", headers)
        if (
            not isinstance(duration, int)
            or isinstance(duration, bool)
            or not POLL_DURATION_S[0] <= duration <= POLL_DURATION_S[1]
        ):
            return error(
                400, "The value in duration is outside the allowed range of values.", headers
            )
        if t.active_poll(str(broadcaster)) is not None:
            return error(400, ALREADY_RUNNING, headers)
        poll = await t.start_poll(str(broadcaster), title, [str(c) for c in titles], duration)
        return JSONResponse({"data": [t.helix_poll(poll)]}, headers=headers)

    async def _end_poll(self, request: Request, token: Token, headers: dict[str, str]) -> Response:
        t = self.twitch
        if POLLS_SCOPE not in token.scopes:
            return error(
                401, f"The user access token must include the {POLLS_SCOPE} scope.", headers
            )
        body = await self._json(request)
        if body is None:
            return error(400, "The request body is not valid JSON.", headers)
        for name in ("broadcaster_id", "id", "status"):
            if not body.get(name):
                return error(400, f"The {name} field is required.", headers)
        if body["broadcaster_id"] != token.user_id:
            return error(
                401,
                "The ID in broadcaster_id must match the user ID in the user access token.",
                headers,
            )
        if body["status"] not in POLL_END_STATUSES:
            return error(400, "The value in the status field is not valid.", headers)
        poll = t.polls.get(str(body["id"]))
        if poll is None or poll["broadcaster_id"] != body["broadcaster_id"]:
            return error(400, NOT_ACTIVE, headers)
        if poll["status"] != "ACTIVE":
            return error(400, NOT_ACTIVE, headers)
        await t.end_poll(poll["id"], str(body["status"]))
        return JSONResponse({"data": [t.helix_poll(poll)]}, headers=headers)

    async def token(self, request: Request) -> Response:
        t = self.twitch
        form = dict(parse_qsl((await request.body()).decode()))  # no python-multipart here
        t.refreshes += 1
        old = t.refresh_tokens.get(str(form.get("refresh_token")))
        if (
            form.get("grant_type") != "refresh_token"
            or old is None
            or form.get("client_secret") != t.client_secret
        ):
            return JSONResponse({"status": 400, "message": "Invalid refresh token"}, 400)
        access, refresh = f"at-{uuid.uuid4().hex}", f"rt-{uuid.uuid4().hex}"
        t.issued.append(access)
        if t.refresh_gives_valid_tokens:
            t.tokens[access] = Token(old.user_id, old.client_id, set(old.scopes))
        t.refresh_tokens[refresh] = old
        return JSONResponse(
            {
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": 14_400,
                "scope": sorted(old.scopes),
                "token_type": "bearer",
            }
        )
