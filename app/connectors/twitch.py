"""Twitch: chat and polls from EventSub over WebSocket, viewer counts and moderation via Helix.

Native polls (app/connectors/native_polls.py): poll_start creates a Helix poll and keeps
which of our polls it is on the bus; its channel.poll.* events then also come out as
poll_tally envelopes. When Twitch refuses the poll, the chat-voting text is posted instead.

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
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.connectors import native_polls
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
from app.envelope import Envelope, Kind

log = logging.getLogger(__name__)

EVENTSUB_URL = "wss://eventsub.wss.twitch.tv/ws"
API_BASE = "https://api.twitch.tv/helix"
TOKEN_URL = "https://id.twitch.tv/oauth2/token"
IRC_URL = "wss://irc-ws.chat.twitch.tv:443"
MAX_TIMEOUT_S = 1_209_600  # two weeks: Helix refuses longer timeouts
MAX_REASON = 500
# Twitch's longest poll; one of ours without a duration runs that long unless poll_end
# ends it sooner.
MAX_POLL_DURATION_S = 1800
MAX_MAPPED_POLLS = 50  # the mapping outlives its polls (a late poll_end, a redelivered end)

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
        self._native_polls: dict[str, str] = {}  # Twitch poll id -> our poll id
        # The latest event (message id, envelope) of each poll not mapped (yet).
        self._unmapped_polls: dict[str, tuple[str, Envelope]] = {}

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
        await self._restore_native_polls()  # before any poll event can arrive
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
                if str(envelope.data.get("event", "")).startswith("poll."):
                    self._poll_event(frame.message_id, envelope)
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

    # -- native polls --
    def _poll_event(self, message_id: str, state: Envelope) -> None:
        """A poll we started also reports its counts; one started by hand on Twitch does not."""
        twitch_poll = state.data["poll"]["id"]
        ours = self._native_polls.get(twitch_poll)
        if ours is not None:
            self.offer(self._tally(ours, message_id, state))
            return
        # channel.poll.begin can arrive before POST /polls has answered, so the latest
        # event (counts are cumulative) waits here until the poll is mapped.
        first = twitch_poll not in self._unmapped_polls
        self._unmapped_polls[twitch_poll] = (message_id, state)
        while len(self._unmapped_polls) > MAX_MAPPED_POLLS:
            del self._unmapped_polls[next(iter(self._unmapped_polls))]
        if first:
            self._soon(self._restore_native_polls())

    def _tally(self, ours: str, message_id: str, state: Envelope) -> Envelope:
        poll = state.data["poll"]
        return native_polls.tally_envelope(
            event_id=self.event_id,
            source_id=self.source_id,
            platform=self.platform,
            poll_id=ours,
            platform_poll_id=poll["id"],
            # A choice's votes count them all, those bought with Channel Points too.
            counts=[choice["votes"] for choice in poll["choices"]],
            final=state.data["event"] == "poll.end",
            at=state.platform_at,
            seq=message_id,  # EventSub's id: unique per message, the same on a redelivery
        )

    def _map_polls(self, mapping: Mapping[str, str]) -> None:
        """Adds {Twitch poll id: our poll id}; events held for those polls are reported."""
        self._native_polls.update(mapping)
        while len(self._native_polls) > MAX_MAPPED_POLLS:
            del self._native_polls[next(iter(self._native_polls))]
        for twitch_poll, ours in mapping.items():
            held = self._unmapped_polls.pop(twitch_poll, None)
            if held is not None:
                self.offer(self._tally(ours, *held))

    async def _restore_native_polls(self) -> None:
        """Reads the mapping a previous connector of this source left on the bus."""
        try:
            raw = await self.bus.load_cursor(native_polls.mapping_key(self.source_id))
            saved = orjson.loads(raw) if raw else {}
        except Exception as exc:  # the bus or a bad value: chat goes on, tallies may not
            log.warning("twitch source %s: native poll mapping unreadable: %s", self.source_id, exc)
            return
        if isinstance(saved, dict):
            self._map_polls(
                {
                    str(k): str(v)
                    for k, v in saved.items()
                    if k not in self._native_polls and isinstance(v, str)
                }
            )

    async def _save_native_polls(self) -> None:
        await self.bus.save_cursor(
            native_polls.mapping_key(self.source_id), orjson.dumps(self._native_polls).decode()
        )

    async def _start_poll(self, params: Mapping[str, Any]) -> ActionResult:
        """POST /polls; when Twitch refuses, the chat-voting text goes to chat instead."""
        poll_id, title = params.get("poll_id"), params.get("title")
        options, duration = params.get("options"), params.get("duration_s")
        if (
            not poll_id
            or not isinstance(title, str)
            or not isinstance(options, list)
            or not all(isinstance(o, str) for o in options)
        ):
            return ActionResult("failed", "poll_start needs the poll_id, title and options")
        if duration is not None and (not isinstance(duration, int) or isinstance(duration, bool)):
            return ActionResult(
                "failed", f"poll duration_s must be seconds or null; got {duration!r}"
            )
        if self.config.get("chat_transport") == "irc":
            # Twitch's counts come only over EventSub: votes cast there would be lost.
            return await self._chat_voting_instead(
                params, "native poll not started: this source reads chat over IRC, not EventSub"
            )
        body = {
            "broadcaster_id": self._setting("broadcaster_id"),
            "title": title,
            # As they are: Twitch refuses what is too long, and a poll is never shown
            # with labels other than ours.
            "choices": [{"title": option} for option in options],
            "duration": MAX_POLL_DURATION_S if duration is None else duration,
        }
        await self._restore_native_polls()
        try:
            response = await self.helix("POST", "/polls", json=body, retries=0)
            twitch_poll = str(response.json()["data"][0]["id"])
        except PlatformError as exc:
            verb = "refused" if exc.status < 500 else "failed"
            return await self._chat_voting_instead(params, f"native poll {verb}: {exc.reason}")
        except AuthFailed as exc:  # 401: no channel:manage:polls, or not the broadcaster's token
            return await self._chat_voting_instead(params, f"native poll refused: {exc}")
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            # Twitch may or may not run it: chat voting at least counts everyone.
            return await self._chat_voting_instead(params, f"native poll failed: {exc!r}")
        self._map_polls({twitch_poll: str(poll_id)})
        try:
            await self._save_native_polls()
        except Exception as exc:  # the poll runs; only a takeover would lose its tallies
            log.warning("twitch source %s: poll mapping not saved: %s", self.source_id, exc)
            return ActionResult("done", f"native poll running; its mapping was not saved: {exc}")
        return ActionResult("done")

    async def _chat_voting_instead(self, params: Mapping[str, Any], why: str) -> ActionResult:
        text = params.get("chat_text")
        if not text:
            return ActionResult("failed", f"{why}; no chat_text to post instead")
        try:
            sent = await self._send_chat(str(text))
        except PlatformError as exc:
            sent = ActionResult("failed", f"Twitch: {exc.reason}")
        except AuthFailed as exc:
            sent = ActionResult("failed", f"Twitch refused the token: {exc}")
        if sent.status != "done":
            reason = f"{why}; posting the chat voting text failed too: {sent.reason}"
            return ActionResult("failed", self.credentials.scrub(reason))
        return ActionResult("done", self.credentials.scrub(f"{why}; chat voting instead"))

    async def _end_poll(self, params: Mapping[str, Any]) -> ActionResult:
        """PATCH /polls TERMINATED (ends it and shows the results; ARCHIVED would hide them)."""
        poll_id = params.get("poll_id")
        if not poll_id:
            return ActionResult("failed", "poll_end needs the poll_id")
        await self._restore_native_polls()
        twitch_poll = next(
            (tid for tid, ours in reversed(self._native_polls.items()) if ours == poll_id), None
        )
        if twitch_poll is None:
            return ActionResult("done", "no native poll to end")
        body = {
            "broadcaster_id": self._setting("broadcaster_id"),
            "id": twitch_poll,
            "status": "TERMINATED",
        }
        try:
            await self.helix("PATCH", "/polls", json=body, retries=0)
        except PlatformError as exc:
            if exc.status == 400:  # it ended already: its duration ran out, or on Twitch
                return ActionResult("done", f"Twitch: {exc.reason}")
            raise
        return ActionResult("done")

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
        """delete, timeout, ban, send_message, poll_start, poll_end through Helix; Twitch's
        refusals are failures (a refused poll_start falls back to chat voting)."""
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
            return await self._send_chat(str(text))
        if action.type == native_polls.POLL_START:
            return await self._start_poll(params)
        if action.type == native_polls.POLL_END:
            return await self._end_poll(params)
        return ActionResult("not_supported", f"twitch cannot {action.type}")

    async def _send_chat(self, text: str) -> ActionResult:
        """POST /chat/messages as the token's user; AutoMod may drop it."""
        body = {
            "broadcaster_id": self._setting("broadcaster_id"),
            "sender_id": self.moderator_id,
            "message": text,
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
