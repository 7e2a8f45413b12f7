"""YouTube Live: reads chat by polling liveChatMessages.list or over the streamList server
stream, within the daily quota; moderates, posts to chat and runs native polls via the
Data API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import orjson
from pydantic import ValidationError

from app.connectors import native_polls
from app.connectors.base import (
    Action,
    ActionResult,
    Capability,
    Connector,
    ConnectorState,
)
from app.connectors.errors import (
    AuthFailed,
    ConnectorError,
    Malformed,
    NotConfigured,
    PlatformError,
    RateLimited,
)
from app.connectors.http import PlatformHTTP, error_reason
from app.connectors.quota import (
    DEFAULT_DAILY_QUOTA,
    DEFAULT_RESERVE,
    QuotaLedger,
    units_for,
)
from app.envelope import Author, Envelope, Kind

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://www.googleapis.com/youtube/v3"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
DEFAULT_POLLING_INTERVAL_S = 5.0  # until YouTube tells us its pollingIntervalMillis
DEFAULT_MAX_RESULTS = 2000  # a page costs 5 units whatever its size: take the largest
TIMEOUT_DEFAULT_S = 300  # YouTube's own default for a temporary ban
TOKEN_REFRESH_MARGIN_S = 60.0
# Waking a hair after pollingIntervalMillis rather than a hair before it.
POLL_MARGIN_S = 0.002
TRANSPORTS = ("poll", "stream")
LIST_METHOD = "liveChatMessages.list"
STREAM_METHOD = "liveChatMessages.streamList"
STREAM_PATH = "/liveChat/messages/stream"
MESSAGES_PATH = "/liveChat/messages"
INSERT_METHOD = "liveChatMessages.insert"
TRANSITION_METHOD = "liveChatMessages.transition"
# liveChatMessages.insert takes 2 to 4 poll options (its reference page; translations
# that say 5 are older). Label lengths are left to YouTube: its limits are not documented.
POLL_MIN_OPTIONS = 2
POLL_MAX_OPTIONS = 4
POLL_CLOSED = "closed"  # pollDetails.status is unknown | active | closed
# A stream silent this long is taken for a dead connection and reopened (5 units).
DEFAULT_STREAM_IDLE_S = 600.0
CONNECT_TIMEOUT_S = 10.0

ROLE_FLAGS = (
    ("isChatOwner", "owner"),
    ("isChatModerator", "moderator"),
    ("isChatSponsor", "member"),
    ("isVerified", "verified"),
)
MEMBERSHIP_TYPES = {
    "newSponsorEvent": ("new_member", "newSponsorDetails"),
    "memberMilestoneChatEvent": ("milestone", "memberMilestoneChatDetails"),
    "membershipGiftingEvent": ("gifting", "membershipGiftingDetails"),
    "giftMembershipReceivedEvent": ("gift_received", "giftMembershipReceivedDetails"),
}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _int(value: Any) -> int | None:
    """YouTube sends uint64 as strings ("1234"); anything else unreadable is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _dict(parent: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = parent.get(name)
    if not isinstance(value, dict):
        raise Malformed(f"{name} missing or not an object")
    return value


def _published_at(snippet: Mapping[str, Any]) -> datetime:
    raw = snippet.get("publishedAt")
    try:
        at = datetime.fromisoformat(str(raw))
    except ValueError:
        raise Malformed(f"snippet.publishedAt is not a timestamp: {raw!r}") from None
    if at.tzinfo is None:
        raise Malformed("snippet.publishedAt has no timezone")
    return at


def _author(item: Mapping[str, Any]) -> Author:
    details = _dict(item, "authorDetails")
    channel_id = _text(details.get("channelId"))
    if channel_id is None:
        raise Malformed("authorDetails.channelId missing")
    name = _text(details.get("displayName")) or channel_id
    roles = tuple(role for flag, role in ROLE_FLAGS if details.get(flag) is True)
    return Author(id=channel_id, name=name[:128], roles=roles)


def _optional_author(item: Mapping[str, Any]) -> Author | None:
    try:
        return _author(item)
    except Malformed:
        return None


class YouTubeConnector(Connector):
    """One YouTube broadcast's live chat, viewers and moderation."""

    platform = "youtube"
    capabilities = frozenset(
        {
            Capability.delete,
            Capability.timeout,
            Capability.ban,
            Capability.viewer_counts,
            Capability.send_message,
            Capability.native_polls,
        }
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = self.config
        self.api_base = str(config.get("api_base") or DEFAULT_API_BASE)
        self.token_url = str(config.get("token_url") or DEFAULT_TOKEN_URL)
        self.video_id: str | None = _text(config.get("video_id"))
        self.live_chat_id: str | None = _text(config.get("live_chat_id"))
        self.viewer_poll_s = float(config.get("viewer_poll_s", 60))
        self.max_results = int(config.get("max_results", DEFAULT_MAX_RESULTS))
        self.transport = str(config.get("transport") or "poll")
        self.stream_idle_s = float(config.get("stream_idle_s", DEFAULT_STREAM_IDLE_S))
        self.ledger = QuotaLedger(
            int(config.get("daily_quota", DEFAULT_DAILY_QUOTA)),
            reserve=int(config.get("quota_reserve", DEFAULT_RESERVE)),
            clock=self.clock,
        )
        self.http = PlatformHTTP(self.api_base, headers=self._auth_headers, clock=self.clock)
        self.refreshes = 0
        self._access_token = self.credentials.get("access_token")
        self._token_expires_at: float | None = None  # clock.monotonic() seconds
        self._interval_s = DEFAULT_POLLING_INTERVAL_S
        self._last_response_at: float | None = None
        self._saved_token: str | None = None
        self._ended = asyncio.Event()
        self._ended_note = "live chat ended"
        self._discovered = False
        self._next_viewers_at: float | None = None
        self._polls: dict[str, str] | None = None  # YouTube poll message id -> our poll id
        self._last_tally: dict[str, str] = {}  # YouTube poll message id -> last seq emitted
        self.health.quota_left = self.ledger.left

    @property
    def cursor_name(self) -> str:
        return f"youtube:{self.source_id}"

    @property
    def _ledger_name(self) -> str:
        return f"youtube-quota:{self.source_id}"

    # -- auth --
    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._access_token}"} if self._access_token else {}

    async def refresh_credentials(self) -> bool:
        """Trades the refresh token for a new access token (OAuth 2.0 refresh grant)."""
        form = self.credentials.refresh_grant()
        if form is None:
            return False
        self.refreshes += 1
        try:
            # An absolute URL: no Bearer header goes to the token endpoint.
            response = await self.http.client.post(
                self.token_url,
                data=form,
            )
        except httpx.HTTPError as exc:
            log.warning("youtube source %s: token refresh failed: %s", self.source_id, type(exc))
            return False
        if response.status_code != 200:
            reason = self.credentials.scrub(error_reason(response))
            log.warning(
                "youtube source %s: token refresh refused: %s %s",
                self.source_id,
                response.status_code,
                reason,
            )
            return False
        try:
            body = response.json()
        except ValueError:
            return False
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            return False
        self._access_token = token
        expires_in = _int(body.get("expires_in"))
        self._token_expires_at = (
            self.clock.monotonic() + expires_in if expires_in is not None else None
        )
        log.info("youtube source %s: access token refreshed", self.source_id)
        return True

    async def _fresh_token(self) -> None:
        """Refreshes shortly before expiry, so hourly tokens never reach the 401 path."""
        if (
            self._token_expires_at is not None
            and self.clock.monotonic() >= self._token_expires_at - TOKEN_REFRESH_MARGIN_S
        ):
            await self.refresh_credentials()

    # -- calls, counted against the quota --
    async def _call(
        self,
        method: str,
        verb: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        await self._ready_token()
        self.ledger.charge(method)
        try:
            return await self.http.request(verb, path, params=params, json=json)
        except PlatformError as exc:
            if exc.reason == "quotaExceeded":
                self.ledger.exhausted()
            raise
        finally:
            await self._note_spent()

    async def _ready_token(self) -> None:
        if self._access_token is None and not await self.refresh_credentials():
            raise NotConfigured("credential 'access_token' (or a refresh_token) is missing")
        await self._fresh_token()

    async def _note_spent(self) -> None:
        self.health.quota_left = self.ledger.left
        await self._save_ledger()

    async def _save_ledger(self) -> None:
        try:
            await self.bus.save_cursor(
                self._ledger_name, orjson.dumps(self.ledger.to_dict()).decode()
            )
        except Exception:  # a lost count only makes the next holder less careful
            log.warning("youtube source %s: could not save the quota ledger", self.source_id)

    async def _restore_ledger(self) -> None:
        saved = await self.bus.load_cursor(self._ledger_name)
        if saved:
            with contextlib.suppress(orjson.JSONDecodeError):
                self.ledger.restore(orjson.loads(saved))
        self.health.quota_left = self.ledger.left

    # -- reading --
    async def produce(self) -> None:
        await self._restore_ledger()
        runner = asyncio.create_task(self.keep_connected(self._session))
        ended = asyncio.create_task(self._ended.wait())
        try:
            await asyncio.wait({runner, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            runner.cancel()
            ended.cancel()
            await asyncio.gather(runner, ended, return_exceptions=True)
        if self._ended.is_set():
            # Not a failure: the broadcast is over and nothing more will come.
            self.set_state(ConnectorState.stopped, self._ended_note)

    async def _discover(self) -> None:
        """Finds the live chat id (unless configured) and reads the viewer count."""
        if self.video_id is None:
            if self.live_chat_id is None:
                raise NotConfigured("config 'video_id' (or 'live_chat_id') is missing")
            return
        details = await self._video_details()
        if self.live_chat_id is None:
            chat_id = _text(details.get("activeLiveChatId"))
            if chat_id is None:
                if details.get("actualEndTime"):
                    raise _ChatOver(f"live chat ended at {details['actualEndTime']}")
                raise ConnectorError(f"video {self.video_id} has no active live chat yet")
            self.live_chat_id = chat_id
        await self._emit_viewers(details)

    async def _video_details(self) -> dict[str, Any]:
        response = await self._call(
            "videos.list",
            "GET",
            "/videos",
            params={"part": "liveStreamingDetails", "id": self.video_id},
        )
        try:
            body = response.json()
            items = body["items"]
        except (ValueError, KeyError, TypeError):
            raise ConnectorError("videos.list answered without items") from None
        if not items:
            raise NotConfigured(f"video {self.video_id} not found (check config 'video_id')")
        details = items[0].get("liveStreamingDetails") if isinstance(items[0], dict) else None
        return details if isinstance(details, dict) else {}

    async def _emit_viewers(self, details: Mapping[str, Any]) -> None:
        raw = details.get("concurrentViewers")
        if raw is None:
            return  # hidden by the owner, or the broadcast ended: unknown, not 0
        count = _int(raw)
        if count is None:
            await self.dead_letter(dict(details), f"concurrentViewers is not a count: {raw!r}")
            return
        now = self.clock.now()
        key = f"viewers:{self.video_id}:{int(now.timestamp() * 1000)}"
        await self.emit([self.envelope(Kind.viewers, key, data={"count": count})])

    async def _read_viewers(self) -> None:
        if not self.ledger.can_afford("videos.list"):
            return
        try:
            await self._emit_viewers(await self._video_details())
        except PlatformError as exc:
            # A failed viewer read never stops the chat.
            log.info("youtube source %s: viewer read failed: %s", self.source_id, exc)

    def _viewer_units(self) -> int:
        """Units viewer reads will take until the reset (so polling leaves them)."""
        if self.video_id is None:
            return 0
        return units_for(
            self.viewer_poll_s, self.ledger.seconds_to_reset(), self.ledger.cost("videos.list")
        )

    def _exhausted_note(self) -> str:
        return f"quota exhausted until {self.ledger.reset_label()} (midnight Pacific)"

    async def _wait_for_reset(self, note: str) -> None:
        """Sleeps until midnight Pacific, saying so in health."""
        self.health.quota_note = note
        self.health.quota_left = self.ledger.left
        self.set_state(ConnectorState.paused, note)
        await self.report_health()
        await self.clock.sleep(self.ledger.seconds_to_reset() + 1.0)
        self.health.quota_note = None
        self.set_state(ConnectorState.connected)

    async def _discover_within_quota(self) -> bool:
        """Discovery, waiting out an exhausted quota; False once the broadcast has ended."""
        while True:
            try:
                if not self.ledger.can_afford("videos.list", from_reserve=True):
                    raise PlatformError(403, "quotaExceeded")
                await self._discover()
                self._discovered = True
                return True
            except _ChatOver as over:
                await self._chat_ended(None, str(over))
                return False
            except PlatformError as exc:
                if exc.reason != "quotaExceeded":
                    raise
                self.ledger.exhausted()
                await self._wait_for_reset(self._exhausted_note())

    async def _session(self) -> None:
        if self.transport not in TRANSPORTS:
            raise NotConfigured(
                f"config 'transport' must be 'poll' or 'stream', not {self.transport!r}"
            )
        # A reopened stream already knows its chat: no videos.list per reconnect.
        reopened = self.transport == "stream" and self._discovered
        if not reopened and not await self._discover_within_quota():
            return await _hold()
        token = await self.bus.load_cursor(self.cursor_name)
        self._saved_token = token
        if self.transport == "stream":
            return await self._stream_session(token)
        self.connected()
        next_viewers_at = self.clock.monotonic() + self.viewer_poll_s
        while True:
            plan = self.ledger.plan_poll(self._interval_s, planned=self._viewer_units())
            self.health.quota_left = self.ledger.left
            self.health.quota_note = plan.note
            if plan.exhausted:
                await self._wait_for_reset(plan.note or "quota exhausted")
                continue
            if self._last_response_at is not None:
                wait = self._last_response_at + plan.wait_s - self.clock.monotonic()
                await self.clock.sleep(max(0.0, wait) + POLL_MARGIN_S)
            if self.video_id and self.clock.monotonic() >= next_viewers_at:
                next_viewers_at = self.clock.monotonic() + self.viewer_poll_s
                await self._read_viewers()
            try:
                response = await self._call(
                    LIST_METHOD,
                    "GET",
                    "/liveChat/messages",
                    params=self._chat_params(token),
                )
            except PlatformError as exc:
                if exc.status == 400 and token is not None:
                    # A token YouTube no longer knows: read the backlog again at once (the
                    # last page served is an interval behind); the pipeline drops what
                    # was already stored (same item ids).
                    log.info("youtube source %s: page token refused, re-reading", self.source_id)
                    token = None
                    continue
                self._last_response_at = self.clock.monotonic()
                if exc.reason == "rateLimitExceeded":
                    self.set_state(ConnectorState.connected, "polled too early: rateLimitExceeded")
                    continue
                if await self._read_again(exc):
                    continue
                return await _hold()
            self._last_response_at = self.clock.monotonic()
            self.keepalive()
            token, ended = await self._handle_page(response, token)
            if ended is not None:
                await self._chat_ended(*ended)
                return await _hold()

    async def _read_again(self, exc: PlatformError) -> bool:
        """After a refused chat read: True once the quota is back, False when the chat has
        ended (recorded); any other refusal is raised again."""
        if exc.reason == "quotaExceeded":
            await self._wait_for_reset(self._exhausted_note())
            return True
        if exc.reason == "liveChatEnded":
            await self._chat_ended(None, "live chat ended")
            return False
        raise exc

    def _chat_params(self, token: str | None) -> dict[str, Any]:
        """The query of a liveChatMessages read, polled (list) or streamed (streamList)."""
        params: dict[str, Any] = {
            "liveChatId": self.live_chat_id,
            "part": "id,snippet,authorDetails",
            "maxResults": self.max_results,
        }
        if token:
            params["pageToken"] = token
        return params

    async def _handle_page(
        self, response: httpx.Response, token: str | None
    ) -> tuple[str | None, tuple[str | None, str] | None]:
        """Emits one page, then checkpoints its nextPageToken; returns (token, ended)."""
        try:
            body = response.json()
        except ValueError:
            await self.dead_letter(response.content, f"{LIST_METHOD} answer is not JSON")
            return token, None
        return await self._handle_body(body, response.content, token, LIST_METHOD)

    async def _handle_body(
        self, body: Any, raw: bytes, token: str | None, method: str
    ) -> tuple[str | None, tuple[str | None, str] | None]:
        """One LiveChatMessageListResponse (a page or a streamed response): its items go on
        the bus, then its nextPageToken becomes the cursor; returns (token, ended)."""
        if not isinstance(body, dict):
            await self.dead_letter(raw, f"{method} answer is not an object")
            return token, None
        interval_ms = _int(body.get("pollingIntervalMillis"))
        if interval_ms is not None:
            self._interval_s = interval_ms / 1000
        items = body.get("items")
        if not isinstance(items, list):
            await self.dead_letter(body, f"{method} answer without items")
            items = []
        envelopes: list[Envelope] = []
        ended: tuple[str | None, str] | None = None
        for item in items:
            try:
                envelope, ends = self._parse(item)
            except (Malformed, ValidationError, ValueError, TypeError, KeyError) as exc:
                await self.dead_letter(item, _reason(exc))
                continue
            if envelope is not None:
                envelopes.append(envelope)
                if envelope.kind is Kind.stream_state and envelope.data.get("event") == "poll":
                    # The poll as it stood when posted: its counts are as of publishedAt.
                    tally = await self._tally(item, envelope.platform_at)
                    envelopes += [tally] if tally else []
            if ends:
                ended = (envelope.platform_message_id if envelope else None, "live chat ended")
        # Both transports carry the running poll's current counts on every response.
        active = body.get("activePollItem")
        if isinstance(active, dict):
            tally = await self._tally(active, self.clock.now())
            envelopes += [tally] if tally else []
        offline_at = body.get("offlineAt")
        if ended is None and offline_at:
            ended = (None, f"live chat ended at {offline_at}")
        await self.emit(envelopes)
        next_token = _text(body.get("nextPageToken"))
        if next_token is not None:
            token = next_token
            if token != self._saved_token:
                await self.bus.save_cursor(self.cursor_name, token)
                self._saved_token = token
        return token, ended

    # -- streaming (liveChatMessages.streamList) --
    async def _stream_session(self, token: str | None) -> None:
        """Reads the chat over streamList connections until one drops (raises StreamDropped,
        so keep_connected reopens it from the saved token after a backoff) or the chat ends."""
        viewers = asyncio.create_task(self._watch_viewers()) if self.video_id else None
        try:
            while True:
                if not self.ledger.can_afford(STREAM_METHOD):
                    await self._wait_for_reset(self._exhausted_note())
                    continue
                try:
                    ended = await self._read_stream(token)
                except PlatformError as exc:
                    if exc.status == 400 and token is not None:
                        # As when polling: a token YouTube forgot means the recent history
                        # again; the pipeline drops items it already stored (same ids).
                        log.info(
                            "youtube source %s: stream token refused, re-reading", self.source_id
                        )
                        token = None
                        continue
                    if await self._read_again(exc):
                        continue
                    return await _hold()
                await self._chat_ended(*ended)
                return await _hold()
        finally:
            if viewers is not None:
                viewers.cancel()
                await asyncio.gather(viewers, return_exceptions=True)

    async def _read_stream(self, token: str | None) -> tuple[str | None, str]:
        """One streamList connection; each response is emitted and checkpointed as it
        arrives. Returns how the chat ended; raises StreamDropped when the connection ends."""
        await self._ready_token()
        frames = _StreamFrames()
        responses = 0
        try:
            async with self.http.client.stream(
                "GET",
                STREAM_PATH,
                params=self._chat_params(token),
                headers=self._auth_headers(),
                timeout=httpx.Timeout(CONNECT_TIMEOUT_S, read=self.stream_idle_s),
            ) as response:
                # A call costs once it reaches YouTube, refused or not; never per message.
                self.ledger.charge(STREAM_METHOD)
                refusal = await self._refusal(response) if response.status_code >= 400 else None
                await self._note_spent()
                if refusal is not None:
                    raise refusal
                self.connected()
                async for chunk in response.aiter_bytes():
                    for whole, raw in frames.feed(chunk):
                        if not whole:
                            await self.dead_letter(
                                raw, f"{STREAM_METHOD} sent bytes between responses"
                            )
                            continue
                        responses += 1
                        self.keepalive()
                        token, ended = await self._handle_frame(raw, token)
                        if ended is not None:
                            return ended
        except httpx.HTTPError as exc:
            raise StreamDropped(self._drop_note(responses, frames, type(exc).__name__)) from None
        raise StreamDropped(self._drop_note(responses, frames, "closed by YouTube"))

    def _drop_note(self, responses: int, frames: _StreamFrames, how: str) -> str:
        # A response cut by the drop is a transport break, not bad input: it is not
        # dead-lettered; the reconnect's pageToken asks for it again whole.
        cut = frames.pending
        note = f"stream ended after {responses} responses ({how})"
        if cut:
            note += f"; {cut} bytes of a cut response will be read again"
        log.info("youtube source %s: %s", self.source_id, note)
        return note

    async def _refusal(self, response: httpx.Response) -> ConnectorError:
        """What a refused stream call means, like PlatformHTTP.request's mapping."""
        await response.aread()
        reason = error_reason(response)
        status = response.status_code
        if status == 401:
            return AuthFailed(f"GET {STREAM_PATH}: 401 {reason}")
        if status == 429:
            retry_after = response.headers.get("retry-after", "")
            wait = float(retry_after) if retry_after.isdigit() else 1.0
            return RateLimited(f"GET {STREAM_PATH}: 429 {reason}", wait)
        if reason == "quotaExceeded":
            self.ledger.exhausted()
        return PlatformError(status, reason)

    async def _handle_frame(
        self, raw: bytes, token: str | None
    ) -> tuple[str | None, tuple[str | None, str] | None]:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await self.dead_letter(raw, f"{STREAM_METHOD} response is not JSON")
            return token, None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            # A transcoded stream that fails sends the error as its last element.
            error = body["error"]
            raise PlatformError(_int(error.get("code")) or 500, _google_reason(error))
        return await self._handle_body(body, raw, token, STREAM_METHOD)

    async def _watch_viewers(self) -> None:
        """Reads the viewer count every viewer_poll_s while the stream carries the chat."""
        while True:
            now = self.clock.monotonic()
            if self._next_viewers_at is None:
                self._next_viewers_at = now + self.viewer_poll_s
            await self.clock.sleep(self._next_viewers_at - now)
            self._next_viewers_at = self.clock.monotonic() + self.viewer_poll_s
            try:
                await self._read_viewers()
            except (ConnectorError, httpx.HTTPError) as exc:
                log.info("youtube source %s: viewer read failed: %s", self.source_id, type(exc))

    async def _chat_ended(self, emitted_id: str | None, note: str) -> None:
        """Tells the pipeline once (unless chatEndedEvent already did) and stops polling."""
        if emitted_id is None:
            await self.emit(
                [
                    self.envelope(
                        Kind.stream_state,
                        f"chat_ended:{self.live_chat_id or self.video_id}",
                        data={"event": "chat_ended"},
                    )
                ]
            )
        self._ended_note = note
        self.health.quota_note = None
        self._ended.set()

    def _parse(self, item: Any) -> tuple[Envelope | None, bool]:
        """One liveChatMessage as an envelope (None: nothing to tell), and whether chat ended."""
        if not isinstance(item, dict):
            raise Malformed("item is not an object")
        item_id = _text(item.get("id"))
        if item_id is None:
            raise Malformed("item without id")
        snippet = _dict(item, "snippet")
        kind = snippet.get("type")
        at = _published_at(snippet)

        def chat(text: str | None, data: dict[str, Any] | None = None) -> Envelope:
            author = _author(item)
            body = text or _text(snippet.get("displayMessage"))
            if body is None:
                raise Malformed(f"{kind} without text")
            return self.envelope(
                Kind.chat, item_id, platform_at=at, author=author, text=body, data=data, raw=item
            )

        def state(data: dict[str, Any]) -> Envelope:
            return self.envelope(
                Kind.stream_state,
                item_id,
                platform_at=at,
                author=_optional_author(item),
                data=data,
                raw=item,
            )

        if kind == "textMessageEvent":
            details = snippet.get("textMessageDetails")
            text = _text(details.get("messageText")) if isinstance(details, dict) else None
            return chat(text), False
        if kind in ("superChatEvent", "superStickerEvent"):
            sticker = kind == "superStickerEvent"
            details = _dict(snippet, "superStickerDetails" if sticker else "superChatDetails")
            amount = _int(details.get("amountMicros"))
            if amount is None:
                raise Malformed(f"{kind} without amountMicros")
            paid = {
                "amount_micros": amount,
                "currency": details.get("currency"),
                "amount_display_string": details.get("amountDisplayString"),
                "tier": _int(details.get("tier")),
                "sticker": sticker,
            }
            alt = None
            if sticker and isinstance(details.get("superStickerMetadata"), dict):
                alt = _text(details["superStickerMetadata"].get("altText"))
            text = (
                _text(details.get("userComment"))
                or _text(snippet.get("displayMessage"))
                or alt
                or _text(paid["amount_display_string"])
            )
            return chat(text, {"super_chat": paid}), False
        if kind in MEMBERSHIP_TYPES:
            name, field = MEMBERSHIP_TYPES[kind]
            details = snippet.get(field)
            details = dict(details) if isinstance(details, dict) else {}
            author = _author(item)
            text = (
                _text(snippet.get("displayMessage"))
                or _text(details.get("userComment"))
                or f"{author.name}: {name.replace('_', ' ')}"
            )
            return chat(text, {"membership": {"kind": name, **details}}), False
        if kind == "messageDeletedEvent":
            details = _dict(snippet, "messageDeletedDetails")
            deleted = _text(details.get("deletedMessageId"))
            if deleted is None:
                raise Malformed("messageDeletedEvent without deletedMessageId")
            return state({"event": "message_deleted", "message_id": deleted}), False
        if kind == "messageRetractedEvent":
            details = _dict(snippet, "messageRetractedDetails")
            retracted = _text(details.get("retractedMessageId"))
            if retracted is None:
                raise Malformed("messageRetractedEvent without retractedMessageId")
            return state({"event": "message_retracted", "message_id": retracted}), False
        if kind == "userBannedEvent":
            details = _dict(snippet, "userBannedDetails")
            banned = _dict(details, "bannedUserDetails")
            user_id = _text(banned.get("channelId"))
            if user_id is None:
                raise Malformed("userBannedEvent without bannedUserDetails.channelId")
            return state(
                {
                    "event": "user_banned",
                    "user_id": user_id,
                    "user_name": banned.get("displayName"),
                    "ban_type": details.get("banType"),
                    "duration_s": _int(details.get("banDurationSeconds")),
                }
            ), False
        if kind == "pollEvent":
            details = _dict(snippet, "pollDetails")
            raw_metadata = details.get("metadata")
            metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
            options = metadata.get("options")
            return state(
                {
                    "event": "poll",
                    "poll_id": item_id,
                    "question": metadata.get("questionText"),
                    "options": [
                        {"text": o.get("optionText"), "tally": _int(o.get("tally"))}
                        for o in (options if isinstance(options, list) else [])
                        if isinstance(o, dict)
                    ],
                    "status": details.get("status") or metadata.get("status"),
                }
            ), False
        if kind in ("sponsorOnlyModeStartedEvent", "sponsorOnlyModeEndedEvent"):
            on = kind == "sponsorOnlyModeStartedEvent"
            return state({"event": "members_only_on" if on else "members_only_off"}), False
        if kind == "chatEndedEvent":
            return state({"event": "chat_ended"}), True
        if kind == "tombstone":
            return None, False  # a placeholder for a removed message: nothing to show
        raise Malformed(f"unknown snippet.type {kind!r}")

    # -- actions: moderation, chat, native polls --
    async def perform(self, action: Action) -> ActionResult:
        params = action.params
        if action.type == "delete":
            message_id = _text(params.get("message_id"))
            if message_id is None:
                return ActionResult("failed", "delete needs the message_id")
            return await self._act(
                "liveChatMessages.delete", "DELETE", MESSAGES_PATH, {"id": message_id}
            )
        if action.type == "send_message":
            text = _text(params.get("text")) or _text(params.get("message"))
            if text is None:
                return ActionResult("failed", "send_message needs the text")
            if unknown := await self._chat_unknown():
                return unknown
            # A plain announcement competes with polling, not with moderation.
            sent = await self._post_text(text, from_reserve=False)
            return sent.result() if isinstance(sent, _Refused) else ActionResult("done")
        if action.type == native_polls.POLL_START:
            return await self._poll_start(params)
        if action.type == native_polls.POLL_END:
            return await self._poll_end(params)
        if action.type in ("timeout", "ban"):
            user_id = _text(params.get("author_id")) or _text(params.get("user_id"))
            if user_id is None:
                return ActionResult("failed", f"{action.type} needs the author's channel id")
            if unknown := await self._chat_unknown():
                return unknown
            snippet: dict[str, Any] = {
                "liveChatId": self.live_chat_id,
                "type": "temporary" if action.type == "timeout" else "permanent",
                "bannedUserDetails": {"channelId": user_id},
            }
            if action.type == "timeout":
                duration = _int(params.get("duration_s")) or TIMEOUT_DEFAULT_S
                snippet["banDurationSeconds"] = duration
            return await self._act(
                "liveChatBans.insert",
                "POST",
                "/liveChat/bans",
                {"part": "snippet"},
                {"snippet": snippet},
            )
        return await super().perform(action)

    async def _chat_unknown(self) -> ActionResult | None:
        """A failed result while the live chat id cannot be found, else None."""
        if self.live_chat_id is None:
            try:
                await self._discover()
            except ConnectorError as exc:
                return ActionResult("failed", f"live chat not known yet: {exc}")
        return None

    async def _act(
        self,
        method: str,
        verb: str,
        path: str,
        params: Mapping[str, Any],
        body: Any = None,
    ) -> ActionResult:
        outcome = await self._write_call(method, verb, path, params, body)
        return outcome.result() if isinstance(outcome, _Refused) else ActionResult("done")

    async def _write_call(
        self,
        method: str,
        verb: str,
        path: str,
        params: Mapping[str, Any],
        body: Any = None,
        *,
        from_reserve: bool = True,
    ) -> httpx.Response | _Refused:
        """One write call: YouTube's answer, or why it did not happen."""
        if not self.ledger.can_afford(method, from_reserve=from_reserve):
            until = f"until {self.ledger.reset_label()}"
            if from_reserve or self.ledger.left < self.ledger.cost(method):
                return _Refused(f"YouTube quota exhausted {until}", f"quota exhausted {until}")
            note = f"the quota left {until} is kept for moderation"
            return _Refused(f"YouTube: {note}", note)
        for attempt in range(2):
            try:
                return await self._call(method, verb, path, params=params, json=body)
            except AuthFailed:
                if attempt == 0 and await self.refresh_credentials():
                    continue
                return _Refused(
                    "YouTube refused the credentials (401)", "credentials refused (401)"
                )
            except PlatformError as exc:
                detail = f"{exc.reason} ({exc.status})"
                return _Refused(f"YouTube refused: {detail}", detail)
        raise AssertionError("unreachable")

    async def _post_text(self, text: str, *, from_reserve: bool) -> httpx.Response | _Refused:
        """liveChatMessages.insert of a text message (YouTube takes at most 200 characters
        and says messageTextInvalid beyond; the text is never cut here)."""
        snippet = {
            "liveChatId": self.live_chat_id,
            "type": "textMessageEvent",
            "textMessageDetails": {"messageText": text},
        }
        return await self._write_call(
            INSERT_METHOD,
            "POST",
            MESSAGES_PATH,
            {"part": "snippet"},
            {"snippet": snippet},
            from_reserve=from_reserve,
        )

    # Native polls are host actions like moderation: they may spend the reserve.
    async def _poll_start(self, params: Mapping[str, Any]) -> ActionResult:
        """Runs the poll on YouTube; where YouTube will not, posts the chat-voting text."""
        poll_id = _text(params.get("poll_id"))
        if poll_id is None:
            return ActionResult("failed", "poll_start needs the poll_id")
        if unknown := await self._chat_unknown():
            return unknown
        title = str(params.get("title") or "")
        raw_options = params.get("options")
        options = [str(o) for o in raw_options] if isinstance(raw_options, list) else []
        refusal: str
        if not POLL_MIN_OPTIONS <= len(options) <= POLL_MAX_OPTIONS:
            # Known in advance: no need to spend 20 units on YouTube's no.
            refusal = (
                f"YouTube polls take {POLL_MIN_OPTIONS} to {POLL_MAX_OPTIONS} options, "
                f"not {len(options)}"
            )
        else:
            metadata = {"questionText": title, "options": [{"optionText": o} for o in options]}
            snippet = {
                "liveChatId": self.live_chat_id,
                "type": "pollEvent",
                "pollDetails": {"metadata": metadata},
            }
            outcome = await self._write_call(
                INSERT_METHOD, "POST", MESSAGES_PATH, {"part": "snippet"}, {"snippet": snippet}
            )
            if not isinstance(outcome, _Refused):
                platform_id = _response_id(outcome)
                if platform_id is None:
                    return ActionResult("failed", "YouTube created the poll but sent no id")
                await self._remember_poll(platform_id, poll_id)
                return ActionResult("done")
            refusal = outcome.detail
        chat_text = _text(params.get("chat_text"))
        if chat_text is None:
            return ActionResult("failed", f"native poll refused: {refusal}; no chat_text to post")
        sent = await self._post_text(chat_text, from_reserve=True)
        if isinstance(sent, _Refused):
            return ActionResult(
                "failed",
                f"native poll refused: {refusal}; chat voting text refused too: {sent.detail}",
            )
        return ActionResult("done", f"native poll refused: {refusal}; chat voting instead")

    async def _poll_end(self, params: Mapping[str, Any]) -> ActionResult:
        """Closes our YouTube poll; its answer carries the final counts."""
        poll_id = _text(params.get("poll_id"))
        if poll_id is None:
            return ActionResult("failed", "poll_end needs the poll_id")
        polls = await self._poll_mapping(reload=True)
        started = [platform_id for platform_id, ours in polls.items() if ours == poll_id]
        if not started:
            return ActionResult("done", "no native poll to end")
        platform_id = started[-1]  # the latest, should a start have been repeated
        outcome = await self._write_call(
            TRANSITION_METHOD,
            "POST",
            f"{MESSAGES_PATH}/transition",
            {"id": platform_id, "status": POLL_CLOSED, "part": "snippet"},
        )
        if isinstance(outcome, _Refused):
            if outcome.detail.startswith("modificationNotAllowed"):
                # Closed already (from YouTube Studio, or an earlier poll_end).
                return ActionResult("done", "the YouTube poll was already closed")
            return outcome.result()
        try:
            closed = outcome.json()
        except ValueError:
            closed = None
        tally = (
            await self._tally(closed, self.clock.now(), final=True)
            if isinstance(closed, dict)
            else None
        )
        if tally is not None:
            await self.emit([tally])
        return ActionResult("done")

    async def _poll_mapping(self, *, reload: bool = False) -> dict[str, str]:
        """{YouTube poll message id: our poll id}, as kept on the bus for a takeover."""
        if self._polls is None or reload:
            raw = await self.bus.load_cursor(native_polls.mapping_key(self.source_id))
            polls: dict[str, str] = {}
            if raw:
                with contextlib.suppress(orjson.JSONDecodeError):
                    saved = orjson.loads(raw)
                    if isinstance(saved, dict):
                        polls = {str(k): str(v) for k, v in saved.items()}
            self._polls = polls
        return self._polls

    async def _remember_poll(self, platform_id: str, poll_id: str) -> None:
        polls = {**await self._poll_mapping(reload=True), platform_id: poll_id}
        await self.bus.save_cursor(
            native_polls.mapping_key(self.source_id), orjson.dumps(polls).decode()
        )
        self._polls = polls

    async def _tally(
        self, item: Mapping[str, Any], at: datetime, *, final: bool = False
    ) -> Envelope | None:
        """A poll_tally envelope for a pollEvent message of one of our polls (None for a
        poll someone else started, or one without options).

        A report is known by its counts: the same counts read again (a re-read page, a
        takeover) make the same envelope, which the pipeline drops as a duplicate. That
        holds because YouTube's counts only grow.
        """
        platform_id = _text(item.get("id"))
        snippet = item.get("snippet")
        details = snippet.get("pollDetails") if isinstance(snippet, dict) else None
        if platform_id is None or not isinstance(details, dict):
            return None
        metadata = details.get("metadata")
        options = metadata.get("options") if isinstance(metadata, dict) else None
        if not isinstance(options, list) or not options:
            return None
        counts = [(_int(o.get("tally")) or 0) if isinstance(o, dict) else 0 for o in options]
        status = details.get("status") or (metadata or {}).get("status")
        final = final or status == POLL_CLOSED
        seq = ("final:" if final else "open:") + ",".join(str(c) for c in counts)
        if self._last_tally.get(platform_id) == seq:
            return None  # the running poll rides on every response: tell each change once
        poll_id = (await self._poll_mapping()).get(platform_id)
        if poll_id is None:
            # Maybe started by the worker before us (the mapping lives on the bus).
            poll_id = (await self._poll_mapping(reload=True)).get(platform_id)
        if poll_id is None:
            return None
        self._last_tally[platform_id] = seq
        return native_polls.tally_envelope(
            event_id=self.event_id,
            source_id=self.source_id,
            platform=self.platform,
            poll_id=poll_id,
            platform_poll_id=platform_id,
            counts=counts,
            final=final,
            at=at,
            seq=seq,
        )

    async def close(self) -> None:
        await self.http.close()


@dataclass(frozen=True)
class _Refused:
    """A write that did not happen: the failed action's reason, and YouTube's own words
    (or the ledger's) for combining with another refusal."""

    message: str
    detail: str

    def result(self) -> ActionResult:
        return ActionResult("failed", self.message)


def _response_id(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return _text(body.get("id")) if isinstance(body, dict) else None


class _ChatOver(ConnectorError):
    """The broadcast has ended: there is no chat to read."""


class StreamDropped(ConnectorError):
    """The streamList connection ended before the chat did: reopen it from the last token."""


_OPEN = frozenset(b"{[")
_CLOSE = frozenset(b"}]")
_BETWEEN = frozenset(b"[],\r\n\t ")
# A response is a page of at most 2,000 items; far beyond that, the stream is broken.
MAX_STREAM_OBJECT = 16 * 1024 * 1024


class _StreamFrames:
    """Cuts a streamed body into whole top-level JSON objects as they complete.

    Google's HTTP/JSON transcoding sends a server stream as one JSON array written an
    element at a time ("[{..}" then ",{..}" ... "]"); one object per line reads the same.
    """

    def __init__(self) -> None:
        self._object = bytearray()
        self._stray = bytearray()
        self._depth = 0
        self._in_string = False
        self._escaped = False

    @property
    def pending(self) -> int:
        """Bytes of an object (or stray text) not yet complete."""
        return len(self._object) + len(self._stray)

    def feed(self, chunk: bytes) -> list[tuple[bool, bytes]]:
        """(True, object) for each object `chunk` completes; (False, text) for stray text
        between objects."""
        out: list[tuple[bool, bytes]] = []
        for byte in chunk:
            if self._depth == 0:
                if byte == 0x7B:  # "{"
                    self._flush_stray(out)
                    self._depth = 1
                    self._object.append(byte)
                elif byte in _BETWEEN:
                    if byte in (0x2C, 0x0A):  # "," or newline ends stray text
                        self._flush_stray(out)
                else:
                    self._stray.append(byte)
                continue
            self._object.append(byte)
            if len(self._object) > MAX_STREAM_OBJECT:
                raise ConnectorError(
                    f"stream response over {MAX_STREAM_OBJECT // 2**20} MiB without an end"
                )
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif byte == 0x5C:  # backslash
                    self._escaped = True
                elif byte == 0x22:  # '"'
                    self._in_string = False
            elif byte == 0x22:
                self._in_string = True
            elif byte in _OPEN:
                self._depth += 1
            elif byte in _CLOSE:
                self._depth -= 1
                if self._depth == 0:
                    out.append((True, bytes(self._object)))
                    self._object.clear()
        return out

    def _flush_stray(self, out: list[tuple[bool, bytes]]) -> None:
        if self._stray:
            out.append((False, bytes(self._stray)))
            self._stray.clear()


def _google_reason(error: Mapping[str, Any]) -> str:
    """The reason of a Google error object ({"code","message","errors":[{"reason"}]})."""
    for field in ("errors", "details"):
        entries = error.get(field)
        if isinstance(entries, Sequence) and not isinstance(entries, str):
            for entry in entries:
                if isinstance(entry, dict) and _text(entry.get("reason")):
                    return str(entry["reason"])
    return str(error.get("message") or error.get("status") or "error")[:300]


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc']) or 'item'}: {first['msg']}"
    return str(exc) or type(exc).__name__


async def _hold() -> None:
    """Waits to be cancelled (produce() stops this session once the chat has ended)."""
    await asyncio.get_running_loop().create_future()
