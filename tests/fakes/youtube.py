"""A local YouTube Data API for live chat that enforces YouTube's rules on a compressible clock.

Enforced: backlog first, then pageToken (an unknown one is 400); polls before
pollingIntervalMillis are 403 rateLimitExceeded; a daily quota ledger (403
quotaExceeded, reset at midnight Pacific on the fake clock); Google error bodies;
chat end (chatEndedEvent + offlineAt, then 403 liveChatEnded); moderation that
injects messageDeletedEvent / userBannedEvent; 401 for a bad token; an OAuth token endpoint.

liveChatMessages.insert (20 units, a moderator's or the owner's token) posts a
textMessageEvent or opens a pollEvent, answering with the LiveChatMessage (kind, etag, id,
snippet) and adding it to the chat. Refused with the insert page's reasons: 404
liveChatNotFound, 403 liveChatEnded once the chat has ended, 403 liveChatDisabled,
400 liveChatIdRequired / typeRequired / messageTextRequired, 400 messageTextInvalid beyond
200 characters, and 400 preconditionCheckFailed while a poll is already active (the
page's "already an active pinned poll", read in a translation). A poll takes 2 to 4
options; what YouTube answers to a wrong count, an empty or an over-long label is not
documented, so the fake says 400 invalidValue, and its label limits (QUESTION_MAX,
OPTION_MAX) are guesses: tests must not depend on their exact values.
While a poll is active every list page and stream response carries it, with its current
tallies (uint64 strings), as activePollItem; votes are cast with vote().
liveChatMessages.transition (20 units) closes a poll: 400 idRequired / statusRequired,
400 invalidValue for a status other than "closed", 404 liveChatMessagesNotFound,
403 modificationNotAllowed unless it is an active poll, 403 forbidden unless the caller's
channel opened it; the answer is the closed poll with its final tallies (in the snippet
when part=snippet).

streamList stand-in (GET .../liveChat/messages/stream): 5 units per call (per connection,
not per message); recent history first, then one response whenever messages arrive, each
with a nextPageToken to resume from (an unknown one is 400); the body is one JSON array
written an element at a time, as Google's HTTP/JSON transcoding streams it. It can be told
to drop a connection after N responses, abruptly and possibly mid-object; after the chat
ends it sends the last response, closes the array, and answers 403 liveChatEnded.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import secrets
from collections import Counter, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.connectors.clock import SYSTEM_CLOCK, Clock
from tests.conftest import RunningServer, run_server

PACIFIC = ZoneInfo("America/Los_Angeles")
COSTS = {
    "videos.list": 1,
    "liveChatMessages.list": 5,
    "liveChatMessages.streamList": 5,
    "liveChatMessages.insert": 20,
    "liveChatMessages.transition": 20,
    "liveChatMessages.delete": 50,
    "liveChatBans.insert": 50,
}
OWNER = {"channelId": "UCowner00000000000000000", "displayName": "The Channel"}
MESSAGE_TEXT_MAX = 200  # the insert limit clients report (a longer text is a 400)
QUESTION_MAX = 100  # a guess: YouTube does not document poll text limits
OPTION_MAX = 35  # a guess, as above
POLL_OPTIONS = (2, 4)  # liveChatMessages.insert: "a minimum of 2 and a maximum of 4"


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


@dataclass
class StreamCall:
    at: float  # fake clock monotonic seconds
    token: str | None
    status: int = 200
    reason: str | None = None
    responses: int = 0  # whole responses sent on this connection
    dropped: bool = False  # cut abruptly by a drop_stream() order
    cut_bytes: int = 0  # bytes of a response sent before the cut


@dataclass(frozen=True)
class StreamDrop:
    after: int  # whole responses sent before the cut
    mid_object: bool  # cut inside the next response rather than between two


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
        # The channel each writing token acts as: the owner's unless a test adds another.
        self.token_channels: dict[str, str] = {}
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
        self.chat_disabled = False  # the owner turned the chat off: inserts are 403
        self.polls: dict[str, dict[str, Any]] = {}  # poll message id -> the live poll
        self.inserted: list[dict[str, Any]] = []  # messages and polls posted through the API
        self.transitions: list[dict[str, Any]] = []  # polls closed through the API
        self.stream_calls: list[StreamCall] = []
        self.stream_drops: deque[StreamDrop] = deque()
        self.stream_injections: list[bytes] = []
        self.closing = False  # set when the server stops: open streams end
        self.news = asyncio.Event()  # set (and replaced) whenever the chat changes
        base = "/youtube/v3"
        self.app = Starlette(
            routes=[
                Route(f"{base}/videos", self._videos, methods=["GET"]),
                Route(f"{base}/liveChat/messages/stream", self._stream, methods=["GET"]),
                Route(f"{base}/liveChat/messages/transition", self._transition, methods=["POST"]),
                Route(f"{base}/liveChat/messages", self._list, methods=["GET"]),
                Route(f"{base}/liveChat/messages", self._insert, methods=["POST"]),
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
        self._announce()
        return item

    def _announce(self) -> None:
        self.news.set()
        self.news = asyncio.Event()

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
        for poll in self.polls.values():
            poll["snippet"]["pollDetails"]["status"] = "closed"  # a poll ends with its chat
        self.push(self._item("chatEndedEvent", {**OWNER, "isChatOwner": True}))
        self.offline_at = self._stamp()

    def open_poll(
        self, question: str, options: list[str], *, author: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Opens a poll as `author` (the owner by default), as YouTube Studio would."""
        author = author or {**OWNER, "isChatOwner": True}
        poll = self._item(
            "pollEvent",
            author,
            displayMessage=question,
            pollDetails={
                "metadata": {
                    "questionText": question,
                    "options": [{"optionText": o, "tally": "0"} for o in options],
                },
                "status": "active",
            },
        )
        self.polls[poll["id"]] = poll
        # The chat carries the poll as it was posted; its later counts ride on
        # activePollItem.
        self.push(copy.deepcopy(poll))
        return poll

    def active_poll(self) -> dict[str, Any] | None:
        return next(
            (p for p in self.polls.values() if p["snippet"]["pollDetails"]["status"] == "active"),
            None,
        )

    def vote(self, poll_id: str, option: int, votes: int = 1) -> None:
        """`votes` viewers pick option `option` (0-based) of an active poll."""
        poll = self.polls[poll_id]
        details = poll["snippet"]["pollDetails"]
        if details["status"] != "active":
            raise ValueError(f"poll {poll_id} is {details['status']}: it takes no votes")
        entry = details["metadata"]["options"][option]
        entry["tally"] = str(int(entry["tally"]) + votes)  # uint64, sent as a string

    def close_poll(self, poll_id: str) -> None:
        """The owner closes a poll in YouTube Studio, outside the API."""
        self.polls[poll_id]["snippet"]["pollDetails"]["status"] = "closed"

    def tallies(self, poll_id: str) -> list[int]:
        options = self.polls[poll_id]["snippet"]["pollDetails"]["metadata"]["options"]
        return [int(o["tally"]) for o in options]

    def drop_stream(self, *, after: int, mid_object: bool = True) -> None:
        """The next stream connection is cut after `after` whole responses."""
        self.stream_drops.append(StreamDrop(after, mid_object))

    def inject_stream_element(self, raw: bytes) -> None:
        """Sends `raw` as a whole array element on the open stream (malformed on purpose)."""
        self.stream_injections.append(raw)
        self._announce()

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

    def _refusal(self, request: Request, method: str) -> tuple[Response, str] | None:
        """Why a liveChatMessages read (list or streamList) is refused, before any paging."""
        params = request.query_params
        if refused := self._check(request, method):
            return refused, "auth or quota"
        if params.get("liveChatId") != self.live_chat_id:
            return google_error(404, "liveChatNotFound"), "liveChatNotFound"
        if self.end_delivered:
            ended = google_error(403, "liveChatEnded", "The live chat is no longer live.")
            return ended, "liveChatEnded"
        if not set(params.get("part", "").split(",")) >= {"snippet"}:
            return google_error(400, "invalidPart"), "invalidPart"
        if not 200 <= int(params.get("maxResults", "500")) <= 2000:
            return google_error(400, "invalidValue", "maxResults must be 200-2000"), "maxResults"
        return None

    def _page_start(self, token: str | None) -> int | None:
        """Where a read starts: the recent backlog without a token, None for an unknown one."""
        if token is None:
            return max(0, len(self.messages) - self.backlog_limit)
        return self.page_tokens.get(token)

    async def _list(self, request: Request) -> Response:
        params = request.query_params
        token = params.get("pageToken")
        now = self.clock.monotonic()

        def refuse(response: Response, reason: str) -> Response:
            self.list_calls.append(ListCall(now, token, response.status_code, reason))
            return response

        if refusal := self._refusal(request, "liveChatMessages.list"):
            return refuse(*refusal)
        max_results = int(params.get("maxResults", "500"))
        interval_s = self.polling_interval_ms / 1000
        if self.last_served_at is not None and now - self.last_served_at < interval_s:
            self.early_polls += 1
            return refuse(google_error(403, "rateLimitExceeded", "Polled too early."), "early")
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            self.forced_rate_limits += 1
            return refuse(google_error(403, "rateLimitExceeded", "Polled too often."), "forced")
        start = self._page_start(token)
        if start is None:
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
                **self._active_poll_field(),
            }
        )

    def _active_poll_field(self) -> dict[str, Any]:
        """LiveChatMessageListResponse.activePollItem: "set when there is an active poll"."""
        poll = self.active_poll()
        return {"activePollItem": copy.deepcopy(poll)} if poll is not None else {}

    async def _stream(self, request: Request) -> Response:
        params = request.query_params
        token = params.get("pageToken")
        call = StreamCall(self.clock.monotonic(), token)
        self.stream_calls.append(call)

        def refuse(response: Response, reason: str) -> Response:
            call.status, call.reason = response.status_code, reason
            return response

        if refusal := self._refusal(request, "liveChatMessages.streamList"):
            return refuse(*refusal)
        max_results = int(params.get("maxResults", "500"))
        start = self._page_start(token)
        if start is None:
            return refuse(google_error(400, "pageTokenInvalid", "Unknown page token."), "token")
        drop = self.stream_drops.popleft() if self.stream_drops else None
        return _ChatStream(self, call, start, max_results, drop)

    def _stream_response(self, position: int, max_results: int) -> tuple[bytes, int, list[str]]:
        """One LiveChatMessageListResponse from `position`: (body, new position, item ids)."""
        items = self.messages[position : position + max_results]
        end = position + len(items)
        next_token = secrets.token_urlsafe(12)
        self.page_tokens[next_token] = end
        body = orjson.dumps(
            {
                "kind": "youtube#liveChatMessageListResponse",
                "etag": secrets.token_hex(4),
                "nextPageToken": next_token,
                "offlineAt": self.offline_at,
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
                "items": items,
                **self._active_poll_field(),
            }
        )
        ids = [i["id"] for i in items if isinstance(i, dict) and "id" in i]
        return body, end, ids

    def _channel_of(self, request: Request) -> str:
        token = self._token_of(request) or ""
        return self.token_channels.get(token, OWNER["channelId"])

    async def _insert(self, request: Request) -> Response:
        if refused := self._check(request, "liveChatMessages.insert", write=True):
            return refused
        if request.query_params.get("part") != "snippet":
            return google_error(400, "invalidPart")
        try:
            body = await request.json()
            snippet = body["snippet"]
            if not isinstance(snippet, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return google_error(400, "invalidValue", "the body must be a liveChatMessage")
        chat_id = snippet.get("liveChatId")
        kind = snippet.get("type")
        if not chat_id:
            return google_error(400, "liveChatIdRequired")
        if chat_id != self.live_chat_id:
            return google_error(404, "liveChatNotFound")
        if self.offline_at is not None:
            return google_error(403, "liveChatEnded", "The live chat is no longer live.")
        if self.chat_disabled:
            return google_error(403, "liveChatDisabled", "The live chat has been disabled.")
        if not kind:
            return google_error(400, "typeRequired")
        author = {**OWNER, "isChatOwner": True}
        if kind == "textMessageEvent":
            details = snippet.get("textMessageDetails")
            text = details.get("messageText") if isinstance(details, dict) else None
            if not isinstance(text, str) or not text.strip():
                return google_error(400, "messageTextRequired")
            if len(text) > MESSAGE_TEXT_MAX:
                return google_error(
                    400, "messageTextInvalid", f"messageText is over {MESSAGE_TEXT_MAX} characters"
                )
            item = self.push(
                self._item(
                    "textMessageEvent",
                    author,
                    displayMessage=text,
                    textMessageDetails={"messageText": text},
                )
            )
        elif kind == "pollEvent":
            if (invalid := self._invalid_poll(snippet)) is not None:
                return google_error(400, "invalidValue", invalid)
            if self.active_poll() is not None:
                return google_error(
                    400, "preconditionCheckFailed", "There is already an active pinned poll."
                )
            metadata = snippet["pollDetails"]["metadata"]
            item = self.open_poll(
                metadata["questionText"], [o["optionText"] for o in metadata["options"]]
            )
        else:
            return google_error(400, "invalidValue", "snippet.type: textMessageEvent or pollEvent")
        self.inserted.append(copy.deepcopy(item))
        return JSONResponse(_parts(item, "snippet"))

    @staticmethod
    def _invalid_poll(snippet: dict[str, Any]) -> str | None:
        """What is wrong with a poll's pollDetails, or None."""
        details = snippet.get("pollDetails")
        metadata = details.get("metadata") if isinstance(details, dict) else None
        if not isinstance(metadata, dict):
            return "pollDetails.metadata is required"
        question = metadata.get("questionText")
        options = metadata.get("options")
        if not isinstance(question, str) or not question.strip():
            return "pollDetails.metadata.questionText is required"
        if len(question) > QUESTION_MAX:
            return f"questionText is over {QUESTION_MAX} characters"
        low, high = POLL_OPTIONS
        if not isinstance(options, list) or not low <= len(options) <= high:
            return f"pollDetails.metadata.options must hold {low} to {high} items"
        for option in options:
            text = option.get("optionText") if isinstance(option, dict) else None
            if not isinstance(text, str) or not text.strip():
                return "each option needs an optionText"
            if len(text) > OPTION_MAX:
                return f"optionText is over {OPTION_MAX} characters"
        return None

    async def _transition(self, request: Request) -> Response:
        if refused := self._check(request, "liveChatMessages.transition", write=True):
            return refused
        params = request.query_params
        message_id, status = params.get("id"), params.get("status")
        if not message_id:
            return google_error(400, "idRequired")
        if not status:
            return google_error(400, "statusRequired")
        if status != "closed":
            return google_error(400, "invalidValue", "status: only closed is allowed")
        if not any(isinstance(m, dict) and m.get("id") == message_id for m in self.messages):
            return google_error(404, "liveChatMessagesNotFound")
        poll = self.polls.get(message_id)
        if poll is None or poll["snippet"]["pollDetails"]["status"] != "active":
            return google_error(403, "modificationNotAllowed", "This message cannot be closed.")
        if poll["snippet"]["authorChannelId"] != self._channel_of(request):
            return google_error(403, "forbidden", "Only the poll's creator can close it.")
        poll["snippet"]["pollDetails"]["status"] = "closed"
        self.transitions.append(copy.deepcopy(poll))
        self._announce()
        return JSONResponse(_parts(poll, params.get("part", "")))

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


def _parts(message: dict[str, Any], part: str) -> dict[str, Any]:
    """A LiveChatMessage with the parts a request asked for (kind, etag, id always)."""
    wanted = set(part.split(","))
    return {
        key: copy.deepcopy(value)
        for key, value in message.items()
        if key in ("kind", "etag", "id") or key in wanted
    }


class _ChatStream(Response):
    """A streamList body, written while the connection lasts."""

    def __init__(
        self,
        fake: FakeYouTube,
        call: StreamCall,
        position: int,
        max_results: int,
        drop: StreamDrop | None,
    ) -> None:
        self.fake = fake
        self.call = call
        self.position = position
        self.max_results = max_results
        self.drop = drop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json; charset=UTF-8")],
            }
        )
        watcher = asyncio.create_task(watch())
        try:
            await self._write(send, gone)
        finally:
            watcher.cancel()

    async def _write(self, send: Send, gone: asyncio.Event) -> None:
        fake, call, drop = self.fake, self.call, self.drop

        async def body(data: bytes, *, more: bool = True) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": more})

        def cut_here(mid_object: bool) -> bool:
            return (
                drop is not None and drop.mid_object is mid_object and call.responses == drop.after
            )

        # Returning without the end of the body makes uvicorn close the connection.
        if cut_here(False):
            call.dropped = True
            return
        opening = b"["
        first = True  # the recent history goes out at once, even when empty
        while True:
            if not first:
                await self._wait(gone)
                if gone.is_set():
                    return
                if fake.closing:
                    await body(b"]", more=False)
                    return
                for raw in fake.stream_injections:
                    await body(b"\n," + raw)
                fake.stream_injections.clear()
                if self.position >= len(fake.messages):
                    continue
            first = False
            element, position, ids = fake._stream_response(self.position, self.max_results)
            data = opening + element
            opening = b"\n,"
            if cut_here(True):
                call.dropped, call.cut_bytes = True, len(data) // 2
                await body(data[: call.cut_bytes])
                return
            await body(data)
            self.position = position
            call.responses += 1
            fake.served.update(ids)
            if fake.offline_at is not None and position >= len(fake.messages):
                fake.end_delivered = True
                await body(b"]", more=False)
                return
            if cut_here(False):
                call.dropped = True
                return

    async def _wait(self, gone: asyncio.Event) -> None:
        """Until there is something to send, the client left, or the server stops."""
        fake = self.fake
        while not (
            self.position < len(fake.messages)
            or fake.stream_injections
            or gone.is_set()
            or fake.closing
        ):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fake.news.wait(), 0.05)


@contextlib.asynccontextmanager
async def serve(fake: FakeYouTube) -> AsyncIterator[RunningServer]:
    """Serves the fake on a free 127.0.0.1 port; api_base is f"{base_url}/youtube/v3"."""
    async with run_server(fake.app) as server:
        try:
            yield server
        finally:
            fake.closing = True  # open streams end, so the server can stop
