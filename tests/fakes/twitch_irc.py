"""A fake Twitch IRC-over-WebSocket server that enforces what real Twitch does.

CAP -> PASS -> NICK in that order; `Login authentication failed` and a close for a bad
token; its own PINGs, closing a client that does not PONG in time; RECONNECT; several
lines per frame; escaped tags; PRIVMSGs beyond 20 per 30 s dropped silently (and
counted here); IRC moderation commands answered with a NOTICE. Intervals are in
seconds of `clock`, so a ScaledClock compresses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from app.connectors.clock import SYSTEM_CLOCK, Clock
from app.connectors.twitch_irc import FrameLogWithoutDebug, escape_tag

HOST = "tmi.twitch.tv"
SERVER_LOGGER = FrameLogWithoutDebug(logging.getLogger("tests.fakes.twitch_irc"), {})


@dataclass
class FakeIrcClient:
    """One connection as the fake saw it."""

    ws: ServerConnection
    number: int
    state: str = "new"  # new -> cap -> pass -> ready, or closed
    token: str | None = None
    login: str | None = None
    joined: list[str] = field(default_factory=list)
    received: list[str] = field(default_factory=list)
    pongs: int = 0
    last_pong_at: float = 0.0
    ping_sent_at: float | None = None
    close_reason: str | None = None

    @property
    def open(self) -> bool:
        return self.close_reason is None


class FakeTwitchIrc:
    """The server; use as `async with FakeTwitchIrc(...) as irc:` and connect to irc.url."""

    def __init__(
        self,
        *,
        tokens: dict[str, str] | None = None,
        moderators: frozenset[str] = frozenset(),
        ping_interval_s: float = 270.0,
        pong_deadline_s: float = 10.0,
        send_limit: int = 20,
        mod_send_limit: int = 100,
        send_window_s: float = 30.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.tokens = tokens if tokens is not None else {"goodtoken": "bot"}  # token -> login
        self.moderators = moderators
        self.ping_interval_s = ping_interval_s
        self.pong_deadline_s = pong_deadline_s
        self.send_limit = send_limit
        self.mod_send_limit = mod_send_limit
        self.send_window_s = send_window_s
        self.clock = clock
        self.clients: list[FakeIrcClient] = []
        self.delivered: list[tuple[str, str, str]] = []  # (login, channel, text)
        self.dropped = 0
        self.auth_failures = 0
        self.mute = False  # a half-dead link: reads everything, answers nothing
        self._sent_times: dict[str, deque[float]] = {}  # per login: Twitch counts per user
        self._numbers = itertools.count(1)
        self._server: Server | None = None
        self._changed = asyncio.Condition()
        self.url = ""

    async def __aenter__(self) -> FakeTwitchIrc:
        # Without frame logs: the PASS frame carries the token the tests check is never logged.
        self._server = await serve(
            self._serve, "127.0.0.1", 0, ping_interval=None, logger=SERVER_LOGGER
        )
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    # -- test helpers --
    @property
    def ready(self) -> list[FakeIrcClient]:
        return [c for c in self.clients if c.state == "ready" and c.open]

    async def wait_for(self, check: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Waits (real seconds) until check() is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not (value := check()):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("fake Twitch IRC: condition not met in time")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(left, 0.05))
            return value

    async def send_frame(self, lines: list[str], client: FakeIrcClient | None = None) -> None:
        """Sends several lines in ONE WebSocket frame, as Twitch does."""
        for target in [client] if client else self.ready:
            with contextlib.suppress(ConnectionClosed):
                await target.ws.send("\r\n".join(lines) + "\r\n")

    async def reconnect(self) -> None:
        """Tells every client to reconnect, then closes them (Twitch restarting a server)."""
        for client in self.ready:
            await self.send_frame([f":{HOST} RECONNECT"], client)
            await self._close(client, "reconnect")

    async def drop_all(self) -> None:
        for client in self.ready:
            await self._close(client, "dropped by test")

    # -- lines the tests emit --
    @staticmethod
    def tags(values: dict[str, str]) -> str:
        return "@" + ";".join(f"{k}={escape_tag(v)}" for k, v in values.items())

    def privmsg(
        self,
        channel: str,
        text: str,
        *,
        login: str = "alice",
        user_id: str = "53862903",
        display_name: str | None = None,
        badges: str = "",
        mod: bool = False,
        msg_id: str | None = None,
        sent_ms: int | None = None,
    ) -> str:
        tags = {
            "badge-info": "",
            "badges": badges,
            "color": "#1E90FF",
            "display-name": display_name if display_name is not None else login.title(),
            "emotes": "",
            "first-msg": "0",
            "id": msg_id or str(uuid.uuid4()),
            "mod": "1" if mod else "0",
            "room-id": "123456789",
            "subscriber": "0",
            "tmi-sent-ts": str(sent_ms if sent_ms is not None else int(time.time() * 1000)),
            "user-id": user_id,
            "user-type": "mod" if mod else "",
        }
        return f"{self.tags(tags)} :{login}!{login}@{login}.{HOST} PRIVMSG #{channel} :{text}"

    def clearmsg(self, channel: str, target_msg_id: str, *, login: str = "alice") -> str:
        tags = {
            "login": login,
            "room-id": "123456789",
            "target-msg-id": target_msg_id,
            "tmi-sent-ts": str(int(time.time() * 1000)),
        }
        return f"{self.tags(tags)} :{HOST} CLEARMSG #{channel} :deleted text"

    def clearchat(
        self,
        channel: str,
        *,
        user_id: str | None = None,
        login: str = "",
        duration: int | None = None,
    ) -> str:
        tags = {"room-id": "123456789", "tmi-sent-ts": str(int(time.time() * 1000))}
        if duration is not None:
            tags["ban-duration"] = str(duration)
        if user_id is None:
            return f"{self.tags(tags)} :{HOST} CLEARCHAT #{channel}"
        tags["target-user-id"] = user_id
        return f"{self.tags(tags)} :{HOST} CLEARCHAT #{channel} :{login}"

    # -- the server --
    async def _serve(self, ws: ServerConnection) -> None:
        client = FakeIrcClient(ws, next(self._numbers), last_pong_at=self.clock.monotonic())
        self.clients.append(client)
        pinger = asyncio.create_task(self._ping(client))
        try:
            async for frame in ws:
                text = frame.decode() if isinstance(frame, bytes) else frame
                for line in (part for part in text.split("\r\n") if part):
                    client.received.append(line)
                    await self._line(client, line)
                    if not client.open:
                        return
                await self._notify()
        except ConnectionClosed:
            pass
        finally:
            pinger.cancel()
            if client.close_reason is None:
                client.close_reason = "client closed"
            await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _close(self, client: FakeIrcClient, reason: str) -> None:
        client.close_reason = reason
        with contextlib.suppress(ConnectionClosed):
            await client.ws.close(1000, reason)
        await self._notify()

    async def _ping(self, client: FakeIrcClient) -> None:
        """PINGs every interval; no PONG within the deadline closes the connection."""
        while client.open:
            await self.clock.sleep(self.ping_interval_s)
            if client.state != "ready":
                continue
            sent_at = self.clock.monotonic()
            client.ping_sent_at = sent_at
            with contextlib.suppress(ConnectionClosed):
                await client.ws.send(f"PING :{HOST}\r\n")
            await self.clock.sleep(self.pong_deadline_s)
            if client.last_pong_at < sent_at and client.open:
                await self._close(client, "no PONG")
                return

    async def _line(self, client: FakeIrcClient, line: str) -> None:
        verb, _, rest = line.partition(" ")
        verb = verb.upper()
        if verb == "PONG":
            client.pongs += 1
            client.last_pong_at = self.clock.monotonic()
            return
        if verb == "PING":
            if self.mute:
                return
            await self.send_frame([f":{HOST} PONG {HOST} :{rest.lstrip(':')}"], client)
            return
        if client.state != "ready":
            await self._log_in(client, verb, rest)
            return
        if verb == "JOIN":
            await self._join(client, rest)
        elif verb == "PRIVMSG":
            await self._privmsg(client, rest)

    async def _log_in(self, client: FakeIrcClient, verb: str, rest: str) -> None:
        order = {"new": "CAP", "cap": "PASS", "pass": "NICK"}
        if verb != order[client.state]:
            await self.send_frame([f":{HOST} NOTICE * :Improperly formatted auth"], client)
            await self._close(client, f"{verb} out of order (expected {order[client.state]})")
            return
        if verb == "CAP":
            await self.send_frame([f":{HOST} CAP * ACK {rest.split(' ', 1)[-1]}"], client)
            client.state = "cap"
        elif verb == "PASS":
            client.token = rest.removeprefix("oauth:")
            client.state = "pass"
        else:
            login = rest.strip().lower()
            if self.tokens.get(client.token or "") != login:
                self.auth_failures += 1
                await self.send_frame([f":{HOST} NOTICE * :Login authentication failed"], client)
                await self._close(client, "login authentication failed")
                return
            client.login, client.state = login, "ready"
            welcome = [f":{HOST} 00{n} {login} :Welcome, GLHF!" for n in range(1, 5)]
            welcome += [f":{HOST} 375 {login} :-", f":{HOST} 372 {login} :You are in a maze"]
            welcome += [f":{HOST} 376 {login} :>"]
            await self.send_frame(welcome, client)
            await self._notify()

    async def _join(self, client: FakeIrcClient, rest: str) -> None:
        for channel in rest.strip().split(","):
            client.joined.append(channel.lower())
            login = client.login
            await self.send_frame(
                [
                    f":{login}!{login}@{login}.{HOST} JOIN {channel}",
                    f":{login}.{HOST} 353 {login} = {channel} :{login}",
                    f":{login}.{HOST} 366 {login} {channel} :End of /NAMES list",
                ],
                client,
            )

    async def _privmsg(self, client: FakeIrcClient, rest: str) -> None:
        channel, _, text = rest.partition(" :")
        if text.lower().startswith(("/ban", "/timeout", "/delete", "/unban")):
            notice = "This command is not available: use the Twitch API (Helix) instead."
            await self.send_frame(
                [f"@msg-id=cmd_unavailable :{HOST} NOTICE {channel} :{notice}"], client
            )
            return
        now = self.clock.monotonic()
        sent = self._sent_times.setdefault(client.login or "", deque())
        while sent and now - sent[0] >= self.send_window_s:
            sent.popleft()
        limit = self.mod_send_limit if client.login in self.moderators else self.send_limit
        if len(sent) >= limit:
            self.dropped += 1  # Twitch drops excess lines without a word
            return
        sent.append(now)
        self.delivered.append((client.login or "", channel, text))
