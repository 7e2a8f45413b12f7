"""A local YouTube Data API for live chat that enforces YouTube's rules on a compressible clock.

Enforced: backlog first, then pageToken (an unknown one is 400); polls before
pollingIntervalMillis are 403 rateLimitExceeded; a daily quota ledger (403
quotaExceeded, reset at midnight Pacific on the fake clock); Google error bodies;
chat end (chatEndedEvent + offlineAt, then 403 liveChatEnded); moderation that
injects messageDeletedEvent / userBannedEvent; 401 for a bad token; an OAuth token endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.connectors.clock import SYSTEM_CLOCK, Clock
from tests.conftest import RunningServer, run_server

PACIFIC = ZoneInfo("America/Los_Angeles")
COSTS = {
    "videos.list": 1,
    "liveChatMessages.list": 5,
    "liveChatMessages.insert": 20,
    "liveChatMessages.transition": 20,
    "liveChatMessages.delete": 50,
    "liveChatBans.insert": 50,
}
OWNER = {"channelId": "UCowner00000000000000000", "displayName": "The Channel"}


def google_error(status: int, reason: str, message: str | None = None) -> JSONResponse:
    """Google's error body: {"error":{"code","message","errors":[{"domain","reason"}]}}."""
    message = message or reason
    return JSONResponse(
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"domain": "youtube.liveChat", "reason": reason, "message": message}],
            }
        },
        status_code=status,
    )


@dataclass
class ListCall:
    at: float  # fake clock monotonic seconds
    token: str | None
    status: int
    reason: str | None = None
    items: int = 0


class FakeYouTube:
    """One broadcast with one live chat; knobs are plain attributes."""

    def __init__(
        self,
        *,
        clock: Clock = SYSTEM_CLOCK,
        video_id: str = "vid-1",
        live_chat_id: str = "chat-1",
        polling_interval_ms: int = 100,
        daily_quota: int = 10_000,
        concurrent_viewers: int | None = 1234,
        backlog_limit: int = 200,
        access_token: str = "good-access-token",
        readonly_token: str = "readonly-access-token",
        refresh_token: str = "refresh-secret-token",
        client_id: str = "client-id-1",
        client_secret: str = "client-secret-value",
    ) -> None:
        self.clock = clock
        self.video_id = video_id
        self.live_chat_id = live_chat_id
        self.polling_interval_ms = polling_interval_ms
        self.daily_quota = daily_quota
        self.concurrent_viewers = concurrent_viewers
        self.backlog_limit = backlog_limit
        self.refresh_token = refresh_token
        self.client_id = client_id
        self.client_secret = client_secret
        self.write_tokens = {access_token}
        self.read_tokens = {access_token, readonly_token}
        self.issue_valid_tokens = True  # False: refreshed tokens are refused too (revoked app)
        self.rate_limit_next = 0  # refuse the next N polls with rateLimitExceeded
        self.messages: list[dict[str, Any]] = []
        self.page_tokens: dict[str, int] = {}
        self.last_served_at: float | None = None
        self.early_polls = 0
        self.forced_rate_limits = 0
        self.list_calls: list[ListCall] = []
        self.served: Counter[str] = Counter()
        self.spent = 0
        self.quota_day: date = self._pacific_day()
        self.quota_rejections = 0
        self.offline_at: str | None = None
        self.end_delivered = False
        self.token_refreshes = 0
        self.bans: list[dict[str, Any]] = []
        self.moderators: set[str] = {OWNER["channelId"]}
        base = "/youtube/v3"
        self.app = Starlette(
            routes=[
                Route(f"{base}/videos", self._videos, methods=["GET"]),
                Route(f"{base}/liveChat/messages", self._list, methods=["GET"]),
                Route(f"{base}/liveChat/messages", self._delete, methods=["DELETE"]),
                Route(f"{base}/liveChat/bans", self._ban, methods=["POST"]),
                Route("/token", self._token, methods=["POST"]),
            ]
        )
        self.app.state.settings = SimpleNamespace(ws_compression=False)  # for run_server

    # -- chat content --
    def _stamp(self) -> str:
        return (
            self.clock.now()
            .astimezone(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )

    def push(self, item: dict[str, Any]) -> dict[str, Any]:
        """Appends any item, well-formed or not."""
        self.messages.append(item)
        return item

    def _item(self, kind: str, author: dict[str, Any], **snippet: Any) -> dict[str, Any]:
        return {
            "kind": "youtube#liveChatMessage",
            "etag": secrets.token_hex(4),
            "id": f"LCC.{secrets.token_urlsafe(18)}",
            "snippet": {
                "type": kind,
                "liveChatId": self.live_chat_id,
                "authorChannelId": author["channelId"],
                "publishedAt": self._stamp(),
                "hasDisplayContent": True,
                **snippet,
            },
            "authorDetails": {
                "channelId": author["channelId"],
                "displayName": author.get("displayName", "viewer"),
                "isChatModerator": bool(author.get("isChatModerator")),
                "isChatOwner": bool(author.get("isChatOwner")),
                "isChatSponsor": bool(author.get("isChatSponsor")),
                "isVerified": False,
            },
        }

    def text(
        self,
        text: str,
        *,
        channel_id: str = "UCviewer0000000000000001",
        name: str = "Bob",
        moderator: bool = False,
        member: bool = False,
    ) -> dict[str, Any]:
        author = {
            "channelId": channel_id,
            "displayName": name,
            "isChatModerator": moderator,
            "isChatSponsor": member,
        }
        if moderator:
            self.moderators.add(channel_id)
        return self.push(
            self._item(
                "textMessageEvent",
                author,
                displayMessage=text,
                textMessageDetails={"messageText": text},
            )
        )

    def super_chat(
        self, comment: str | None, *, amount_micros: int = 5_000_000, name: str = "Rich"
    ) -> dict[str, Any]:
        details: dict[str, Any] = {
            "amountMicros": str(amount_micros),
            "currency": "USD",
            "amountDisplayString": f"${amount_micros / 1e6:.2f}",
            "tier": 2,
        }
        if comment is not None:
            details["userComment"] = comment
        author = {"channelId": "UCrich000000000000000001", "displayName": name}
        return self.push(
            self._item(
                "superChatEvent",
                author,
                displayMessage=comment or "",
                superChatDetails=details,
            )
        )

    def end_chat(self) -> None:
        """The broadcast ends: chatEndedEvent, offlineAt, then 403 liveChatEnded."""
        self.push(self._item("chatEndedEvent", {**OWNER, "isChatOwner": True}))
        self.offline_at = self._stamp()

    async def chat_steadily(self, per_second: float, stop: asyncio.Event) -> list[str]:
        """Pushes numbered messages at a steady rate until `stop`; returns their ids."""
        sent: list[str] = []
        while not stop.is_set():
            n = len(sent)
            item = self.text(f"steady message {n}", channel_id=f"UCsteady{n % 50:016d}")
            sent.append(item["id"])
            await self.clock.sleep(1 / per_second)
        return sent

    # -- rules --
    def _pacific_day(self) -> date:
        return self.clock.now().astimezone(PACIFIC).date()

    def _token_of(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        return header.removeprefix("Bearer ") if header.startswith("Bearer ") else None

    def _check(self, request: Request, method: str, *, write: bool = False) -> Response | None:
        """Auth, then quota; returns the refusal, or None after charging the call."""
        token = self._token_of(request)
        if token is None or token not in self.read_tokens:
            return google_error(401, "authError", "Request had invalid authentication credentials.")
        day = self._pacific_day()
        if day != self.quota_day:
            self.quota_day, self.spent = day, 0
        cost = COSTS[method]
        if self.spent + cost > self.daily_quota:
            self.quota_rejections += 1
            return google_error(
                403,
                "quotaExceeded",
                "The request cannot be completed because you have exceeded your quota.",
            )
        # Every request that reaches the API costs, even one refused below.
        self.spent += cost
        if write and token not in self.write_tokens:
            return google_error(403, "forbidden", "The caller is not a moderator of this chat.")
        return None

    # -- endpoints --
    async def _videos(self, request: Request) -> Response:
        if refused := self._check(request, "videos.list"):
            return refused
        if request.query_params.get("id") != self.video_id:
            return JSONResponse({"kind": "youtube#videoListResponse", "items": []})
        details: dict[str, Any] = {"actualStartTime": "2025-05-01T17:00:00Z"}
        if self.offline_at is None:
            details["activeLiveChatId"] = self.live_chat_id
            if self.concurrent_viewers is not None:
                details["concurrentViewers"] = str(self.concurrent_viewers)  # uint64 as a string
        else:
            details["actualEndTime"] = self.offline_at
        return JSONResponse(
            {
                "kind": "youtube#videoListResponse",
                "items": [
                    {"kind": "youtube#video", "id": self.video_id, "liveStreamingDetails": details}
                ],
            }
        )

    async def _list(self, request: Request) -> Response:
        params = request.query_params
        token = params.get("pageToken")
        now = self.clock.monotonic()

        def refuse(response: Response, reason: str) -> Response:
            self.list_calls.append(ListCall(now, token, response.status_code, reason))
            return response

        if refused := self._check(request, "liveChatMessages.list"):
            return refuse(refused, "auth or quota")
        if params.get("liveChatId") != self.live_chat_id:
            return refuse(google_error(404, "liveChatNotFound"), "liveChatNotFound")
        if self.end_delivered:
            return refuse(
                google_error(403, "liveChatEnded", "The live chat is no longer live."),
                "liveChatEnded",
            )
        if not set(params.get("part", "").split(",")) >= {"snippet"}:
            return refuse(google_error(400, "invalidPart"), "invalidPart")
        max_results = int(params.get("maxResults", "500"))
        if not 200 <= max_results <= 2000:
            return refuse(
                google_error(400, "invalidValue", "maxResults must be 200-2000"), "maxResults"
            )
        interval_s = self.polling_interval_ms / 1000
        if self.last_served_at is not None and now - self.last_served_at < interval_s:
            self.early_polls += 1
            return refuse(google_error(403, "rateLimitExceeded", "Polled too early."), "early")
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            self.forced_rate_limits += 1
            return refuse(google_error(403, "rateLimitExceeded", "Polled too often."), "forced")
        if token is None:
            start = max(0, len(self.messages) - self.backlog_limit)  # the recent backlog
        elif token in self.page_tokens:
            start = self.page_tokens[token]
        else:
            return refuse(google_error(400, "pageTokenInvalid", "Unknown page token."), "token")
        items = self.messages[start : start + max_results]
        position = start + len(items)
        next_token = secrets.token_urlsafe(12)
        self.page_tokens[next_token] = position
        self.served.update(i["id"] for i in items if isinstance(i, dict) and "id" in i)
        if self.offline_at is not None and position >= len(self.messages):
            self.end_delivered = True
        self.last_served_at = now
        self.list_calls.append(ListCall(now, token, 200, None, len(items)))
        return JSONResponse(
            {
                "kind": "youtube#liveChatMessageListResponse",
                "etag": secrets.token_hex(4),
                "nextPageToken": next_token,
                "pollingIntervalMillis": self.polling_interval_ms,
                "offlineAt": self.offline_at,
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
                "items": items,
            }
        )

    async def _delete(self, request: Request) -> Response:
        if refused := self._check(request, "liveChatMessages.delete", write=True):
            return refused
        message_id = request.query_params.get("id")
        if not any(isinstance(m, dict) and m.get("id") == message_id for m in self.messages):
            return google_error(404, "liveChatMessageNotFound")
        self.push(
            self._item(
                "messageDeletedEvent",
                {**OWNER, "isChatOwner": True},
                messageDeletedDetails={"deletedMessageId": message_id},
            )
        )
        return Response(status_code=204)

    async def _ban(self, request: Request) -> Response:
        if refused := self._check(request, "liveChatBans.insert", write=True):
            return refused
        if request.query_params.get("part") != "snippet":
            return google_error(400, "invalidPart")
        try:
            body = await request.json()
            snippet = body["snippet"]
            ban_type = snippet["type"]
            channel_id = snippet["bannedUserDetails"]["channelId"]
        except (ValueError, KeyError, TypeError):
            return google_error(
                400, "invalidValue", "snippet.type and bannedUserDetails are required"
            )
        if snippet.get("liveChatId") != self.live_chat_id:
            return google_error(400, "invalidLiveChatId")
        if ban_type not in ("permanent", "temporary"):
            return google_error(400, "invalidValue", "snippet.type")
        if channel_id in self.moderators:
            return google_error(403, "liveChatBanInsertionNotAllowed", "Cannot ban a moderator.")
        duration = (
            int(snippet.get("banDurationSeconds") or 300) if ban_type == "temporary" else None
        )
        ban = {
            "kind": "youtube#liveChatBan",
            "etag": secrets.token_hex(4),
            "id": f"ban-{secrets.token_hex(6)}",
            "snippet": {
                "liveChatId": self.live_chat_id,
                "type": ban_type,
                "bannedUserDetails": {"channelId": channel_id, "displayName": "banned"},
                **({"banDurationSeconds": str(duration)} if duration else {}),
            },
        }
        self.bans.append(ban)
        details: dict[str, Any] = {
            "bannedUserDetails": {"channelId": channel_id, "displayName": "banned"},
            "banType": ban_type,
        }
        if duration:
            details["banDurationSeconds"] = str(duration)
        self.push(
            self._item("userBannedEvent", {**OWNER, "isChatOwner": True}, userBannedDetails=details)
        )
        return JSONResponse(ban)

    async def _token(self, request: Request) -> Response:
        # Parsed by hand: Starlette's form parser needs python-multipart.
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") != self.refresh_token
            or form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return JSONResponse({"error": "invalid_grant", "error_description": "Bad Request"}, 400)
        self.token_refreshes += 1
        token = f"refreshed-{secrets.token_hex(8)}"
        if self.issue_valid_tokens:
            self.write_tokens.add(token)
            self.read_tokens.add(token)
        return JSONResponse({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})


@contextlib.asynccontextmanager
async def serve(fake: FakeYouTube) -> AsyncIterator[RunningServer]:
    """Serves the fake on a free 127.0.0.1 port; api_base is f"{base_url}/youtube/v3"."""
    async with run_server(fake.app) as server:
        yield server
