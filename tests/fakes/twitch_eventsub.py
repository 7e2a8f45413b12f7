"""A fake Twitch: the EventSub WebSocket server (after twitch-cli's mock_server) plus Helix.

Enforced as Twitch does: a welcome, then 4003 if no subscription arrives in time;
keepalives after a silent interval (keepalive_timeout_seconds clamped to 10..600);
4001 on any inbound data frame; 4002 when a server PING is not answered;
session_reconnect carries the subscriptions to the new socket, and the old one is
closed with 4004 after the grace period, while closing the old one before the new
welcome is an invalid reconnect (4007, subscriptions gone); any other drop loses the
subscriptions. Every duration is in platform seconds on an injectable Clock
(ScaledClock compresses them). Polls created through Helix run here: a test casts votes
(vote), and channel.poll.begin / progress / end go to the sessions subscribed for that
broadcaster, as chat notifications do; a poll completes by itself when its duration ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from app.connectors.clock import SYSTEM_CLOCK, Clock
from tests.fakes.helix import ALL_SCOPES, Bucket, HelixApp, Token
from tests.fakes.server import free_port, serve_asgi


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # nanoseconds, like Twitch


def _stamp(clock: Clock) -> str:
    return _iso(clock.now())


class FakeSession:
    """One EventSub socket on the fake server."""

    def __init__(self, session_id: str, ws: ServerConnection, keepalive_s: float) -> None:
        self.id = session_id
        self.ws = ws
        self.keepalive_s = keepalive_s
        self.status = "connecting"  # -> connected -> reconnecting -> closed
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.last_sent = 0.0
        self.close_code: int | None = None  # what the server closed it with
        self.closed_by_client = False
        self.replaced_by: FakeSession | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.sent_ids: list[str] = []

    def has(self, sub_type: str) -> bool:
        return any(
            s["type"] == sub_type and s["status"] == "enabled" for s in self.subscriptions.values()
        )


class FakeTwitch:
    """The EventSub server and the Helix API of one fake Twitch, sharing their state."""

    def __init__(
        self,
        *,
        clock: Clock = SYSTEM_CLOCK,
        keepalive_s: float | None = None,
        subscribe_deadline_s: float = 10.0,
        reconnect_grace_s: float = 30.0,
        ping_interval_s: float = 5.0,
        pong_timeout_s: float = 5.0,
        welcome_delay_s: float = 0.0,
        points_per_minute: int = 800,
    ) -> None:
        self.clock = clock
        self.keepalive_s = keepalive_s  # test knob: keepalives more often than the timeout
        self.subscribe_deadline_s = subscribe_deadline_s
        self.reconnect_grace_s = reconnect_grace_s
        self.ping_interval_s = ping_interval_s
        self.pong_timeout_s = pong_timeout_s
        self.welcome_delay_s = welcome_delay_s
        self.points_per_minute = points_per_minute
        self.sessions: dict[str, FakeSession] = {}
        self.closes: list[tuple[str, int]] = []  # (session id, code) the server closed with
        self.inbound: list[str] = []  # session ids that sent a data frame
        self.invalid_reconnects = 0
        # Helix state
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, Token] = {}
        self.client_secret = "fake-client-secret"
        self.refresh_gives_valid_tokens = True
        self.refreshes = 0
        self.issued: list[str] = []  # access tokens the token endpoint handed out
        self.buckets: dict[str, Bucket] = {}
        self.rate_limited = 0
        self.requests: list[tuple[str, str]] = []
        self.subscription_posts: list[tuple[str, str]] = []
        self.streams: dict[str, dict[str, Any]] = {}
        self.chat_ids: set[str] = set()
        self.deleted: list[str] = []
        self.bans: dict[tuple[str, str], int | None] = {}
        self.sent: list[str] = []
        self.automod_words: set[str] = set()
        # user id -> login, name, broadcaster_type ("" | "affiliate" | "partner")
        self.broadcasters: dict[str, dict[str, str]] = {}
        self.polls: dict[str, dict[str, Any]] = {}  # poll id -> the poll as Helix shows it
        self._poll_timers: dict[str, asyncio.Task[None]] = {}
        self.ws_url = ""
        self.http_url = ""
        self._welcomed: dict[str, asyncio.Event] = {}

    # -- lifecycle --
    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FakeTwitch]:
        ws_port, http_port = free_port(), free_port()
        self.ws_url = f"ws://127.0.0.1:{ws_port}/ws"
        self.http_url = f"http://127.0.0.1:{http_port}"
        async with (
            serve(self._handler, "127.0.0.1", ws_port, ping_interval=None, close_timeout=1),
            serve_asgi(HelixApp(self).app, http_port, lifespan="off", stop_timeout_s=5),
        ):
            try:
                yield self
            finally:
                for session in list(self.sessions.values()):
                    for task in session.tasks:
                        task.cancel()
                for timer in self._poll_timers.values():
                    timer.cancel()

    def config(self, **extra: Any) -> dict[str, Any]:
        """Source config pointing a TwitchConnector at this fake."""
        return {
            "eventsub_url": self.ws_url,
            "api_base": f"{self.http_url}/helix",
            "token_url": f"{self.http_url}/oauth2/token",
            **extra,
        }

    def add_token(
        self, value: str, user_id: str, client_id: str, scopes: set[str] | None = None
    ) -> Token:
        token = Token(user_id, client_id, set(ALL_SCOPES if scopes is None else scopes))
        self.tokens[value] = token
        return token

    def live(self, *, connected_only: bool = True) -> list[FakeSession]:
        wanted = ("connected",) if connected_only else ("connected", "reconnecting")
        return [s for s in self.sessions.values() if s.status in wanted]

    async def wait_for_session(self, predicate: Any = None, timeout: float = 5.0) -> FakeSession:
        """The first connected session with every desired subscription (or matching predicate)."""
        async with asyncio.timeout(timeout):
            while True:
                for session in self.live():
                    if (predicate or (lambda s: len(s.subscriptions) >= 6))(session):
                        return session
                await asyncio.sleep(0.01)

    # -- socket --
    async def _handler(self, ws: ServerConnection) -> None:
        query = dict(parse_qsl(urlsplit(ws.request.path if ws.request else "").query))
        try:
            asked = int(query.get("keepalive_timeout_seconds", "10"))
        except ValueError:
            asked = 10
        timeout = min(600, max(10, asked))
        session = FakeSession(f"sess_{uuid.uuid4().hex[:16]}", ws, timeout)
        self.sessions[session.id] = session
        old = self.sessions.get(query.get("reconnect_id", "")) if "reconnect_id" in query else None
        if "reconnect_id" in query:
            if old is None or old.status != "reconnecting" or old.replaced_by is not None:
                await self._close(session, 4007)
                return
            await self.clock.sleep(self.welcome_delay_s)
            if old.status != "reconnecting":  # the client gave up the old socket too early
                await self._close(session, 4007)
                return
        await self._send(session, "session_welcome", {"session": self._session_body(session)})
        session.status = "connected"
        if old is not None:
            # Only after the new welcome do notifications move over.
            for sub in old.subscriptions.values():
                sub["transport"]["session_id"] = session.id
            session.subscriptions, old.subscriptions = old.subscriptions, {}
            old.replaced_by = session
        session.tasks = [
            asyncio.create_task(self._keepalives(session)),
            asyncio.create_task(self._pings(session)),
        ]
        if old is None:
            session.tasks.append(asyncio.create_task(self._deadline(session)))
        try:
            async for _message in ws:
                # Clients must never send data frames.
                self.inbound.append(session.id)
                await self._close(session, 4001)
                break
        except ConnectionClosed:
            pass
        finally:
            await self._gone(session)

    async def _gone(self, session: FakeSession) -> None:
        if session.close_code is None:
            session.closed_by_client = True
            if session.status == "reconnecting" and session.replaced_by is None:
                self.invalid_reconnects += 1
        session.status = "closed"
        session.subscriptions = {}  # a dropped session's subscriptions are lost
        for task in session.tasks:
            if task is not asyncio.current_task():
                task.cancel()

    async def _close(self, session: FakeSession, code: int) -> None:
        if session.close_code is None:
            session.close_code = code
            self.closes.append((session.id, code))
        session.status = "closed"
        session.subscriptions = {}
        with contextlib.suppress(Exception):
            await asyncio.wait_for(session.ws.close(code, f"fake twitch {code}"), 1)
        with contextlib.suppress(Exception):
            session.ws.transport.abort()

    def _session_body(self, session: FakeSession, reconnect_url: str | None = None) -> dict:
        return {
            "id": session.id,
            "status": "reconnecting" if reconnect_url else "connected",
            "keepalive_timeout_seconds": None if reconnect_url else session.keepalive_s,
            "reconnect_url": reconnect_url,
            "connected_at": _stamp(self.clock),
        }

    def frame(
        self, message_type: str, payload: dict[str, Any], message_id: str | None = None, **meta: Any
    ) -> bytes:
        metadata = {
            "message_id": message_id or str(uuid.uuid4()),
            "message_type": message_type,
            "message_timestamp": _stamp(self.clock),
            **meta,
        }
        return orjson.dumps({"metadata": metadata, "payload": payload})

    async def _send(
        self, session: FakeSession, message_type: str, payload: dict[str, Any], **meta: Any
    ) -> None:
        await self.send_raw(session, self.frame(message_type, payload, **meta).decode())

    async def send_raw(self, session: FakeSession, data: str | bytes) -> None:
        session.last_sent = self.clock.monotonic()
        with contextlib.suppress(ConnectionClosed):
            await session.ws.send(data if isinstance(data, str) else data.decode())

    async def _keepalives(self, session: FakeSession) -> None:
        interval = self.keepalive_s or session.keepalive_s
        while session.status == "connected":
            due = session.last_sent + interval - self.clock.monotonic()
            if due > 0:
                await self.clock.sleep(due)
                continue
            await self._send(session, "session_keepalive", {})

    async def _pings(self, session: FakeSession) -> None:
        while session.status in ("connected", "reconnecting"):
            await self.clock.sleep(self.ping_interval_s)
            try:
                pong = asyncio.ensure_future(await session.ws.ping())
            except ConnectionClosed:
                return
            late = asyncio.ensure_future(self.clock.sleep(self.pong_timeout_s))
            try:
                await asyncio.wait({pong, late}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                late.cancel()
            if not pong.done():
                await self._close(session, 4002)
                return

    async def _deadline(self, session: FakeSession) -> None:
        await self.clock.sleep(self.subscribe_deadline_s)
        if session.status == "connected" and not session.subscriptions:
            await self._close(session, 4003)

    # -- subscriptions --
    def add_subscription(
        self, session: FakeSession, sub_type: str, version: str, condition: dict[str, Any]
    ) -> dict[str, Any]:
        subscription: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "status": "enabled",
            "type": sub_type,
            "version": version,
            "condition": condition,
            "transport": {"method": "websocket", "session_id": session.id},
            "created_at": _stamp(self.clock),
            "cost": 0,
        }
        session.subscriptions[subscription["id"]] = subscription
        return subscription

    # -- what a test makes Twitch do --
    async def notify(
        self,
        sub_type: str,
        event: dict[str, Any],
        *,
        message_id: str | None = None,
        duplicate: bool = False,
    ) -> str:
        """Sends a notification to every session subscribed to sub_type; returns its id."""
        message_id = message_id or str(uuid.uuid4())
        if sub_type == "channel.chat.message" and "message_id" in event:
            self.chat_ids.add(event["message_id"])
        if not await self.deliver(sub_type, event, message_id=message_id, duplicate=duplicate):
            raise AssertionError(f"no session is subscribed to {sub_type}")
        return message_id

    async def deliver(
        self,
        sub_type: str,
        event: dict[str, Any],
        *,
        message_id: str | None = None,
        duplicate: bool = False,
        broadcaster_id: str | None = None,
    ) -> int:
        """Sends a notification to the sessions subscribed to sub_type (for that broadcaster,
        if given), as Twitch does whether or not anyone listens; returns how many got it."""
        message_id = message_id or str(uuid.uuid4())
        sent = 0
        for session in self.live(connected_only=False):
            subscription = next(
                (
                    s
                    for s in session.subscriptions.values()
                    if s["type"] == sub_type
                    and (
                        broadcaster_id is None
                        or s["condition"].get("broadcaster_user_id") == broadcaster_id
                    )
                ),
                None,
            )
            if subscription is None or subscription["status"] != "enabled":
                continue
            payload = {"subscription": subscription, "event": event}
            frame = self.frame(
                "notification",
                payload,
                message_id,
                subscription_type=sub_type,
                subscription_version=subscription["version"],
            )
            for _ in range(2 if duplicate else 1):
                await self.send_raw(session, frame)
            session.sent_ids.append(message_id)
            sent += 1
        return sent

    # -- polls --
    def add_broadcaster(
        self, user_id: str, login: str, *, broadcaster_type: str = "affiliate"
    ) -> None:
        """A channel as Get Users knows it; polls need an affiliate or partner."""
        self.broadcasters[user_id] = {
            "login": login,
            "name": login.capitalize(),
            "broadcaster_type": broadcaster_type,
        }

    def active_poll(self, broadcaster_id: str) -> dict[str, Any] | None:
        return next(
            (
                p
                for p in self.polls.values()
                if p["broadcaster_id"] == broadcaster_id and p["status"] == "ACTIVE"
            ),
            None,
        )

    def helix_poll(self, poll: dict[str, Any]) -> dict[str, Any]:
        """The poll as Helix answers it (without the fake's own bookkeeping)."""
        return copy.deepcopy({k: v for k, v in poll.items() if not k.startswith("_")})

    async def start_poll(
        self, broadcaster_id: str, title: str, choices: Sequence[str], duration: int
    ) -> dict[str, Any]:
        """Runs a poll (Helix has checked the rules) and sends channel.poll.begin."""
        channel = self.broadcasters.get(broadcaster_id, {})
        now = self.clock.now()
        poll: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "broadcaster_id": broadcaster_id,
            "broadcaster_name": channel.get("name", ""),
            "broadcaster_login": channel.get("login", ""),
            "title": title,
            "choices": [
                {
                    "id": str(uuid.uuid4()),
                    "title": choice,
                    "votes": 0,
                    "channel_points_votes": 0,
                    "bits_votes": 0,
                }
                for choice in choices
            ],
            "bits_voting_enabled": False,
            "bits_per_vote": 0,
            "channel_points_voting_enabled": False,
            "channel_points_per_vote": 0,
            "status": "ACTIVE",
            "duration": duration,
            "started_at": _iso(now),
            "ended_at": None,
            "_ends_at": _iso(now + timedelta(seconds=duration)),
        }
        self.polls[poll["id"]] = poll
        self._poll_timers[poll["id"]] = asyncio.create_task(self._poll_runs_out(poll, duration))
        await self._poll_notify("begin", poll)
        return poll

    async def _poll_runs_out(self, poll: dict[str, Any], duration: int) -> None:
        await self.clock.sleep(duration)
        if poll["status"] == "ACTIVE":
            await self.end_poll(poll["id"], "COMPLETED")

    async def vote(
        self, poll_id: str, choice: int, *, votes: int = 1, channel_points_votes: int = 0
    ) -> None:
        """Viewers vote for choice (0-based); then channel.poll.progress. A choice's
        `votes` counts every vote, those bought with Channel Points too."""
        poll = self.polls[poll_id]
        if poll["status"] != "ACTIVE":
            raise AssertionError(f"poll {poll_id} is {poll['status']}: nobody can vote")
        picked = poll["choices"][choice]
        picked["votes"] += votes + channel_points_votes
        picked["channel_points_votes"] += channel_points_votes
        await self._poll_notify("progress", poll)

    async def end_poll(self, poll_id: str, status: str) -> dict[str, Any]:
        """Ends a poll (TERMINATED, ARCHIVED, or COMPLETED when it ran out); channel.poll.end."""
        poll = self.polls[poll_id]
        poll["status"] = status
        poll["ended_at"] = _stamp(self.clock)
        timer = self._poll_timers.pop(poll_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        await self._poll_notify("end", poll)
        return poll

    async def _poll_notify(self, phase: str, poll: dict[str, Any]) -> int:
        """channel.poll.<phase> as EventSub sends it: begin carries no votes, end a status."""
        choices: list[dict[str, Any]] = []
        for choice in poll["choices"]:
            if phase == "begin":
                choices.append({"id": choice["id"], "title": choice["title"]})
            else:
                choices.append(
                    {
                        key: choice[key]
                        for key in ("id", "title", "bits_votes", "channel_points_votes", "votes")
                    }
                )
        event: dict[str, Any] = {
            "id": poll["id"],
            "broadcaster_user_id": poll["broadcaster_id"],
            "broadcaster_user_login": poll["broadcaster_login"],
            "broadcaster_user_name": poll["broadcaster_name"],
            "title": poll["title"],
            "choices": choices,
            "bits_voting": {"is_enabled": False, "amount_per_vote": 0},
            "channel_points_voting": {
                "is_enabled": poll["channel_points_voting_enabled"],
                "amount_per_vote": poll["channel_points_per_vote"],
            },
            "started_at": poll["started_at"],
        }
        if phase == "end":
            event |= {"status": poll["status"].lower(), "ended_at": poll["ended_at"]}
        else:
            event["ends_at"] = poll["_ends_at"]
        return await self.deliver(
            f"channel.poll.{phase}", event, broadcaster_id=poll["broadcaster_id"]
        )

    async def reconnect(self, session: FakeSession) -> None:
        """session_reconnect: the client must move; the old socket goes after the grace time."""
        session.status = "reconnecting"
        url = f"{self.ws_url}?reconnect_id={session.id}"
        await self._send(
            session, "session_reconnect", {"session": self._session_body(session, url)}
        )

        async def grace() -> None:
            await self.clock.sleep(self.reconnect_grace_s)
            if session.status == "reconnecting":
                await self._close(session, 4004)

        session.tasks.append(asyncio.create_task(grace()))

    def drop(self, session: FakeSession) -> None:
        """The network drops the socket (no close frame)."""
        session.close_code = 1006
        session.status = "closed"
        session.subscriptions = {}
        session.ws.transport.abort()

    async def revoke(self, sub_type: str, status: str = "authorization_revoked") -> None:
        for session in self.live(connected_only=False):
            for sub_id, subscription in list(session.subscriptions.items()):
                if subscription["type"] == sub_type:
                    del session.subscriptions[sub_id]
                    body = {**subscription, "status": status}
                    await self._send(
                        session,
                        "revocation",
                        {"subscription": body},
                        subscription_type=sub_type,
                        subscription_version=subscription["version"],
                    )


def chat_event(
    message_id: str,
    text: str,
    *,
    user_id: str = "4145994",
    user_name: str = "viewer32",
    badges: Sequence[str] = (),
    broadcaster_id: str = "1971641",
) -> dict[str, Any]:
    """A channel.chat.message v1 event as Twitch sends it."""
    return {
        "broadcaster_user_id": broadcaster_id,
        "broadcaster_user_login": "streamer",
        "broadcaster_user_name": "Streamer",
        "chatter_user_id": user_id,
        "chatter_user_login": user_name.lower(),
        "chatter_user_name": user_name,
        "message_id": message_id,
        "message": {
            "text": text,
            "fragments": [
                {"type": "text", "text": text, "cheermote": None, "emote": None, "mention": None}
            ],
        },
        "message_type": "text",
        "badges": [{"set_id": b, "id": "1", "info": ""} for b in badges],
        "cheer": None,
        "color": "#00FF7F",
        "reply": None,
        "channel_points_custom_reward_id": None,
    }


def poll_event(phase: str, votes: tuple[int, ...] = (0, 0)) -> dict[str, Any]:
    """A channel.poll.begin/progress/end event (begin has no votes, as on Twitch)."""
    choices: list[dict[str, Any]] = []
    for index, count in enumerate(votes):
        choice: dict[str, Any] = {"id": f"choice-{index}", "title": f"Option {index}"}
        if phase != "begin":
            choice |= {"votes": count, "channel_points_votes": 0, "bits_votes": 0}
        choices.append(choice)
    event = {
        "id": "poll-1",
        "broadcaster_user_id": "1971641",
        "title": "Best launch?",
        "choices": choices,
        "channel_points_voting": {"is_enabled": False, "amount_per_vote": 0},
        "started_at": datetime(2024, 5, 1, 17, tzinfo=UTC).isoformat(),
    }
    if phase == "end":
        event |= {"status": "completed", "ended_at": datetime.now(UTC).isoformat()}
    else:
        event["ends_at"] = datetime(2024, 5, 1, 17, 5, tzinfo=UTC).isoformat()
    return event
