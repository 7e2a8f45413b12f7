"""Twitch: chat and polls from EventSub over WebSocket, viewer counts and moderation via Helix.

Source config (non-secret): broadcaster_id, user_id (the token's user, who moderates;
defaults to broadcaster_id), channel (login, for viewer counts and IRC), login (bot
login, IRC only), chat_transport ("eventsub" | "irc"), eventsub_url, api_base,
token_url, irc_url, keepalive_timeout_s, keepalive_grace_s, viewer_poll_s.
Credentials: access_token, client_id, and optionally refresh_token + client_secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.connectors.base import Action, ActionResult, Capability, Connector
from app.connectors.credentials import Credentials
from app.connectors.errors import (
    AuthFailed,
    ConnectorError,
    Malformed,
    NotConfigured,
    PlatformError,
    RateLimited,
)
from app.connectors.http import PlatformHTTP, error_reason
from app.connectors.twitch_events import (
    CHAT_MESSAGE,
    CLEAR_USER_MESSAGES,
    MESSAGE_DELETE,
    POLL_BEGIN,
    POLL_END,
    POLL_PROGRESS,
    EnvelopeFactory,
    RecentIds,
    parse_frame,
)
from app.envelope import Kind

log = logging.getLogger(__name__)

EVENTSUB_URL = "wss://eventsub.wss.twitch.tv/ws"
API_BASE = "https://api.twitch.tv/helix"
TOKEN_URL = "https://id.twitch.tv/oauth2/token"
IRC_URL = "wss://irc-ws.chat.twitch.tv:443"
MAX_TIMEOUT_S = 1_209_600  # two weeks: Helix refuses longer timeouts
MAX_REASON = 500

# What we want Twitch to send; kept apart from what is active on the current session,
# so a failed resubscribe never shrinks the list (pyTwitchAPI PR #319's 4003 loop).
DESIRED_SUBSCRIPTIONS: tuple[tuple[str, str], ...] = (
    (CHAT_MESSAGE, "1"),
    (MESSAGE_DELETE, "1"),
    (CLEAR_USER_MESSAGES, "1"),
    (POLL_BEGIN, "1"),
    (POLL_PROGRESS, "1"),
    (POLL_END, "1"),
)
_CHAT_TYPES = frozenset({CHAT_MESSAGE, MESSAGE_DELETE, CLEAR_USER_MESSAGES})

CLOSE_REASONS = {
    4000: "internal server error",
    4001: "client sent inbound traffic",
    4002: "client failed ping-pong",
    4003: "connection unused (no subscription in time)",
    4004: "reconnect grace time expired",
    4005: "network timeout",
    4006: "network error",
    4007: "invalid reconnect",
}


class _Link:
    """One EventSub socket: its session, and when Twitch was last heard on it."""

    __slots__ = ("dead", "heard_at", "limit", "session_id", "watch", "ws")

    def __init__(self, ws: ClientConnection, limit: float, heard_at: float) -> None:
        self.ws = ws
        self.limit = limit
        self.heard_at = heard_at
        self.session_id = ""
        self.dead = False
        self.watch: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self.watch is not None:
            self.watch.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()


class TwitchConnector(Connector):
    """One Twitch channel: EventSub (or IRC) chat, polls, viewer counts, Helix moderation."""

    platform = "twitch"
    capabilities = frozenset(
        {
            Capability.delete,
            Capability.timeout,
            Capability.ban,
            Capability.native_polls,
            Capability.viewer_counts,
            Capability.send_message,
        }
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.http = PlatformHTTP(
            str(self.config.get("api_base", API_BASE)), headers=self._headers, clock=self.clock
        )
        self.factory = EnvelopeFactory(
            event_id=self.event_id, source_id=self.source_id, now=self.clock.now
        )
        self.desired = DESIRED_SUBSCRIPTIONS
        self.active: dict[str, str] = {}  # subscription type -> id, on the current session
        self.session_id: str | None = None
        self._recent = RecentIds()
        self._live: bool | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # -- settings --
    def _setting(self, name: str) -> str:
        value = self.config.get(name)
        if value in (None, ""):
            raise NotConfigured(f"Twitch source setting {name!r} is missing")
        return str(value)

    def _seconds(self, name: str, default: float) -> float:
        return float(self.config.get(name, default))

    @property
    def moderator_id(self) -> str:
        return str(self.config.get("user_id") or self._setting("broadcaster_id"))

    def _headers(self) -> Mapping[str, str]:
        return {
            "Authorization": f"Bearer {self.credentials.require('access_token')}",
            "Client-Id": self.credentials.require("client_id"),
        }

    def _eventsub_url(self) -> str:
        """The configured URL with keepalive_timeout_seconds (10..600) unless it has one."""
        url = str(self.config.get("eventsub_url", EVENTSUB_URL))
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        if "keepalive_timeout_seconds" not in query:
            seconds = min(600, max(10, int(self._seconds("keepalive_timeout_s", 10))))
            query["keepalive_timeout_seconds"] = str(seconds)
        return urlunsplit(parts._replace(query=urlencode(query)))

    # -- running --
    async def produce(self) -> None:
        """Chat (EventSub or IRC) and viewer polling side by side; ends if chat gives up."""
        if self.config.get("chat_transport") == "irc":
            chat = self.keep_connected(self.irc_session)
        else:
            chat = self.keep_connected(self.eventsub_session)
        tasks = [asyncio.create_task(chat, name="twitch-chat")]
        if self.config.get("channel"):
            tasks.append(asyncio.create_task(self._poll_viewers_forever(), name="twitch-viewers"))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def irc_session(self) -> None:
        """One IRC connection (the legacy fallback), with the token as it is now."""
        from app.connectors.twitch_irc import IrcChat  # only IRC sources need it

        irc = IrcChat(
            self,
            url=str(self.config.get("irc_url", IRC_URL)),
            login=self._setting("login"),
            token=self.credentials.require("access_token"),  # a refreshed one after AuthFailed
            channels=[self._setting("channel")],
        )
        await irc.session()

    async def eventsub_session(self) -> None:
        """One EventSub session, moving sockets in place when Twitch asks us to."""
        self._setting("broadcaster_id")
        link = await self._open(self._eventsub_url())
        try:
            await self._subscribe(link.session_id)
            while True:
                url = await self._read(link)
                link = await self._move(link, url)
        finally:
            await link.close()

    async def _open(self, url: str) -> _Link:
        """Connects and waits for session_welcome; the watchdog guards both."""
        ws = await connect(url, ping_interval=None, close_timeout=2, max_size=1 << 20)
        link = _Link(ws, self._seconds("welcome_timeout_s", 10), self.clock.monotonic())
        link.watch = asyncio.create_task(self._watch(link), name="twitch-keepalive-watch")
        try:
            try:
                raw = await ws.recv()
            except ConnectionClosed as exc:
                raise self._closed(link, exc) from None
            link.heard_at = self.clock.monotonic()
            frame = parse_frame(raw)
            session = frame.payload.get("session")
            if frame.message_type != "session_welcome" or not isinstance(session, dict):
                raise ConnectorError(f"expected session_welcome, got {frame.message_type}")
            link.session_id = str(session["id"])
            timeout = session.get("keepalive_timeout_seconds")
            if isinstance(timeout, int | float) and timeout > 0:
                link.limit = timeout + self._seconds("keepalive_grace_s", 5)
        except (Malformed, KeyError) as exc:
            await link.close()
            raise ConnectorError(f"bad session_welcome: {exc}") from None
        except BaseException:
            await link.close()
            raise
        self.session_id = link.session_id
        self.keepalive()
        return link

    async def _watch(self, link: _Link) -> None:
        """Drops a link that has been silent past keepalive_timeout + grace."""
        while True:
            idle = self.clock.monotonic() - link.heard_at
            if idle >= link.limit:
                link.dead = True
                link.ws.transport.abort()
                return
            await self.clock.sleep(link.limit - idle)

    def _closed(self, link: _Link, exc: ConnectionClosed) -> ConnectorError:
        if link.dead:
            return ConnectorError(f"nothing from Twitch for {link.limit:g}s (keepalive missed)")
        code = exc.rcvd.code if exc.rcvd is not None else None
        reason = CLOSE_REASONS.get(code or 0, exc.rcvd.reason if exc.rcvd else "connection lost")
        return ConnectorError(f"EventSub closed ({code}): {reason}")

    async def _read(self, link: _Link) -> str:
        """Handles frames until session_reconnect (returns its URL); raises when the link ends."""
        ws = link.ws
        clock = self.clock
        while True:
            try:
                raw = await ws.recv()
            except ConnectionClosed as exc:
                raise self._closed(link, exc) from None
            link.heard_at = clock.monotonic()
            url = self._on_frame(raw)
            if url is not None:
                return url

    async def _move(self, old: _Link, url: str) -> _Link:
        """session_reconnect: the old socket keeps delivering until the new one is welcomed."""
        if old.watch is not None:
            old.watch.cancel()  # Twitch stops keepalives on a socket it is retiring
        opening = asyncio.create_task(self._open(url), name="twitch-reconnect")
        draining = asyncio.create_task(self._read(old), name="twitch-old-link")
        try:
            new = await opening
        finally:
            draining.cancel()
            await asyncio.gather(draining, return_exceptions=True)
        # Only now close the old one (earlier is Twitch's 4007); what it still holds is read.
        await old.close()
        with contextlib.suppress(ConnectionClosed):
            while True:
                self._on_frame(await old.ws.recv())
        self.health.reconnects += 1
        log.info("twitch source %s moved to session %s", self.source_id, new.session_id)
        return new

    def _on_frame(self, raw: str | bytes) -> str | None:
        """One frame, handled without waiting; returns the URL of a session_reconnect."""
        try:
            frame = parse_frame(raw)
        except Malformed as exc:
            self._soon(self.dead_letter(raw, str(exc)))
            return None
        kind = frame.message_type
        if kind == "notification":
            if not self._recent.first_time(frame.message_id):
                return None  # at-least-once delivery: a redelivery has the same id
            try:
                envelope = self.factory.notification(frame)
            except Malformed as exc:
                self._soon(self.dead_letter(raw, f"{frame.subscription_type}: {exc}"))
                return None
            if envelope is not None:
                self.offer(envelope)
        elif kind == "session_keepalive":
            self.keepalive()
        elif kind == "session_reconnect":
            session = frame.payload.get("session")
            url = session.get("reconnect_url") if isinstance(session, dict) else None
            if isinstance(url, str) and url:
                return url
            self._soon(self.dead_letter(raw, "session_reconnect without reconnect_url"))
        elif kind == "revocation":
            self._revoked(frame.payload)
        elif kind != "session_welcome":
            self._soon(self.dead_letter(raw, f"unknown message_type {kind!r}"))
        return None

    def _revoked(self, payload: dict[str, Any]) -> None:
        subscription = payload.get("subscription")
        if not isinstance(subscription, dict):
            return
        sub_type = str(subscription.get("type"))
        self.active.pop(sub_type, None)
        # Still desired: the next full session tries again (it fails if access is gone).
        self.set_state(
            self.health.state,
            f"Twitch revoked subscription {sub_type}: {subscription.get('status')}",
        )

    def _soon(self, work: Coroutine[Any, Any, None]) -> None:
        """Runs bus work (dead letters) beside the reader, which must never wait on the bus."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- subscriptions --
    def _condition(self, sub_type: str) -> dict[str, str]:
        broadcaster = self._setting("broadcaster_id")
        if sub_type in _CHAT_TYPES:
            return {"broadcaster_user_id": broadcaster, "user_id": self.moderator_id}
        return {"broadcaster_user_id": broadcaster}

    async def _subscribe(self, session_id: str) -> None:
        """Subscribes the new session to every desired type; connected once any is active."""
        self.active = {}
        refused: list[str] = []
        for sub_type, version in self.desired:
            body = {
                "type": sub_type,
                "version": version,
                "condition": self._condition(sub_type),
                "transport": {"method": "websocket", "session_id": session_id},
            }
            try:
                response = await self.helix("POST", "/eventsub/subscriptions", json=body)
            except PlatformError as exc:
                if exc.status == 409:  # already there (a retried POST)
                    self.active[sub_type] = "existing"
                else:
                    refused.append(f"{sub_type}: {exc}")
                continue
            try:
                self.active[sub_type] = str(response.json()["data"][0]["id"])
            except (ValueError, KeyError, IndexError, TypeError):
                self.active[sub_type] = "unknown"
        if refused:
            self.set_state(self.health.state, "Twitch refused " + "; ".join(refused))
        if self.active:
            self.connected()
        # With none active, Twitch closes the socket (4003) and we start over.

    # -- Helix --
    async def helix(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retries: int = 3,
    ) -> httpx.Response:
        """A Helix call within the token's points: waits out an empty bucket and 429s."""
        for attempt in range(retries + 1):
            await self._wait_for_points()
            try:
                return await self.http.request(method, path, params=params, json=json)
            except RateLimited as exc:
                if attempt == retries:
                    raise
                log.info(
                    "twitch: rate limited on %s %s, waiting %.1fs", method, path, exc.retry_after_s
                )
                await self.clock.sleep(exc.retry_after_s)
            finally:
                self.health.quota_left = self.http.ratelimit_remaining
        raise AssertionError("unreachable")

    async def _wait_for_points(self) -> None:
        http = self.http
        if http.ratelimit_remaining == 0 and http.ratelimit_reset_at is not None:
            wait = http.ratelimit_reset_at - self.clock.now().timestamp()
            if wait > 0:
                self.health.quota_note = "waiting for the Helix rate limit to reset"
                await self.clock.sleep(wait)
                self.health.quota_note = None
            http.ratelimit_remaining = None  # the bucket has refilled; the next reply says

    # -- viewers --
    async def _poll_viewers_forever(self) -> None:
        interval = self._seconds("viewer_poll_s", 30)
        while True:
            try:
                await self.poll_viewers()
            except asyncio.CancelledError:
                raise
            except (ConnectorError, httpx.HTTPError) as exc:
                self.set_state(self.health.state, f"viewer count: {exc}")
            await self.clock.sleep(interval)

    async def poll_viewers(self) -> None:
        """GET /streams: the viewer count, and online/offline when that changes."""
        response = await self.helix(
            "GET", "/streams", params={"user_login": self._setting("channel")}
        )
        try:
            streams = response.json()["data"]
            stream = streams[0] if streams else None
            count = stream["viewer_count"] if stream is not None else 0
            if not isinstance(count, int) or count < 0:
                raise TypeError("viewer_count is not a count")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            await self.dead_letter(response.content, f"/streams: {exc}")
            return
        now = self.clock.now()
        envelopes = []
        live = stream is not None
        if live != self._live:
            self._live = live
            state: dict[str, Any] = {"event": "online" if live else "offline"}
            if stream is not None:
                state.update(title=stream.get("title"), started_at=stream.get("started_at"))
            envelopes.append(
                self.envelope(
                    Kind.stream_state, f"stream:{state['event']}:{now.timestamp()}", data=state
                )
            )
        envelopes.append(
            self.envelope(Kind.viewers, f"viewers:{now.timestamp()}", data={"count": count})
        )
        await self.emit(envelopes)

    # -- moderation --
    async def perform(self, action: Action) -> ActionResult:
        """delete, timeout, ban, send_message through Helix; Twitch's refusals are failures."""
        try:
            return await self._perform(action)
        except PlatformError as exc:
            return ActionResult("failed", self.credentials.scrub(f"Twitch: {exc.reason}"))
        except AuthFailed as exc:
            return ActionResult(
                "failed", self.credentials.scrub(f"Twitch refused the token: {exc}")
            )

    async def _perform(self, action: Action) -> ActionResult:
        params = action.params
        ids = {"broadcaster_id": self._setting("broadcaster_id"), "moderator_id": self.moderator_id}
        if action.type == "delete":
            message_id = params.get("message_id")
            if not message_id:
                return ActionResult("failed", "delete needs the message_id")
            await self.helix(
                "DELETE", "/moderation/chat", params={**ids, "message_id": message_id}, retries=0
            )
            return ActionResult("done")
        if action.type in ("timeout", "ban"):
            user_id = params.get("user_id") or params.get("author_id")
            if not user_id:
                return ActionResult("failed", f"{action.type} needs the user_id")
            data: dict[str, Any] = {"user_id": str(user_id)}
            if action.type == "timeout":
                duration = params.get("duration_s")
                if (
                    not isinstance(duration, int)
                    or isinstance(duration, bool)
                    or not 1 <= duration <= MAX_TIMEOUT_S
                ):
                    return ActionResult(
                        "failed",
                        f"Twitch timeouts last 1 to {MAX_TIMEOUT_S} seconds; got {duration!r}",
                    )
                data["duration"] = duration
            if params.get("reason"):
                data["reason"] = str(params["reason"])[:MAX_REASON]
            await self.helix("POST", "/moderation/bans", params=ids, json={"data": data}, retries=0)
            return ActionResult("done")
        if action.type == "send_message":
            text = params.get("text") or params.get("message")
            if not text:
                return ActionResult("failed", "send_message needs the text")
            body = {
                "broadcaster_id": ids["broadcaster_id"],
                "sender_id": self.moderator_id,
                "message": str(text),
            }
            response = await self.helix("POST", "/chat/messages", json=body, retries=0)
            sent = (response.json().get("data") or [{}])[0]
            if not sent.get("is_sent"):
                drop = sent.get("drop_reason") or {}
                return ActionResult(
                    "failed",
                    f"Twitch dropped the message: {drop.get('message') or drop.get('code') or 'no reason given'}",
                )
            return ActionResult("done")
        return ActionResult("not_supported", f"twitch cannot {action.type}")

    # -- credentials --
    async def refresh_credentials(self) -> bool:
        """Trades the refresh token for a new access token (kept in memory only)."""
        form = self.credentials.refresh_grant()
        if form is None:
            return False
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.post(
                    str(self.config.get("token_url", TOKEN_URL)), data=form
                )
        except httpx.HTTPError as exc:
            log.warning("twitch token refresh failed: %s", self.credentials.scrub(str(exc)))
            return False
        if response.status_code != 200:
            reason = self.credentials.scrub(error_reason(response))
            log.warning("twitch token refresh refused: %d %s", response.status_code, reason)
            self.set_state(self.health.state, f"token refresh refused: {reason}")
            return False
        try:
            body = response.json()
            token = body["access_token"]
        except (ValueError, KeyError, TypeError):
            return False
        values = {name: self.credentials.get(name) or "" for name in self.credentials.names()}
        values["access_token"] = str(token)
        if isinstance(body.get("refresh_token"), str):
            values["refresh_token"] = body["refresh_token"]
        # Kept in memory: the new token is scrubbed from errors like the stored ones.
        self.credentials = Credentials(values)
        log.info("twitch source %s: access token refreshed", self.source_id)
        return True

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await self.http.close()
