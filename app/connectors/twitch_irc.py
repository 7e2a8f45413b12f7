"""Twitch chat over IRC-on-WebSocket: the fallback reader when EventSub is unavailable.

Read-only in practice: IRC moderation commands (/ban, /timeout, /delete) stopped
working on 2023-02-18, so moderation goes through Helix (app/connectors/twitch.py).
Chat sends still work, within Twitch's 20 (or 100 as a moderator) per 30 s, beyond
which Twitch drops lines without saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.connectors.clock import SYSTEM_CLOCK, Clock
from app.connectors.errors import AuthFailed, ConnectorError, ReconnectNow
from app.envelope import Author, Kind

if TYPE_CHECKING:
    from app.connectors.base import Connector

log = logging.getLogger(__name__)

DEFAULT_URL = "wss://irc-ws.chat.twitch.tv:443"
CAPABILITIES = "twitch.tv/tags twitch.tv/commands"
AUTH_FAILED_NOTICES = ("Login authentication failed", "Improperly formatted auth")
# Badge sets that say who someone is in the channel; the rest (bits, glhf-pledge...) do not.
ROLE_BADGES = frozenset(
    {"broadcaster", "moderator", "vip", "subscriber", "founder", "staff", "admin", "global_mod"}
)
# IRC slash commands Twitch removed on 2023-02-18 (they answer with a NOTICE, if at all).
REMOVED_COMMANDS = ("/ban", "/unban", "/timeout", "/untimeout", "/delete", "/clear", "/mod")
MAX_MESSAGE_CHARS = 500
MAX_PENDING_DEAD_LETTERS = 100


class FrameLogWithoutDebug(logging.LoggerAdapter[logging.Logger]):
    """websockets' logger minus DEBUG, where it prints every frame (PASS holds the token)."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


WS_LOGGER = FrameLogWithoutDebug(logging.getLogger("websockets.client"), {})


class IrcParseError(ValueError):
    """A line that is not IRC."""


@dataclass(frozen=True, slots=True)
class IrcMessage:
    """One IRC line: IRCv3 tags (unescaped), prefix, command and parameters."""

    tags: dict[str, str]
    prefix: str | None
    command: str
    params: list[str] = field(default_factory=list)

    @property
    def nick(self) -> str | None:
        """The sender's login, from a `nick!user@host` prefix."""
        if not self.prefix:
            return None
        return self.prefix.split("!", 1)[0] if "!" in self.prefix else None

    @property
    def trailing(self) -> str:
        return self.params[-1] if self.params else ""


_ESCAPES = {"s": " ", ":": ";", "\\": "\\", "r": "\r", "n": "\n"}


def unescape_tag(value: str) -> str:
    """Undoes IRCv3 tag escaping (\\s \\: \\\\ \\r \\n); an unknown escape keeps the char."""
    if "\\" not in value:
        return value
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        escaped = next(chars, "")  # a lone trailing backslash is dropped, per the spec
        out.append(_ESCAPES.get(escaped, escaped))
    return "".join(out)


def escape_tag(value: str) -> str:
    """IRCv3 tag escaping, the inverse of unescape_tag."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\:")
        .replace(" ", "\\s")
        .replace("\r", "\\r")
        .replace("\n", "\\n")
    )


def parse_line(line: str) -> IrcMessage:
    """Parses one IRC line (without its CRLF); raises IrcParseError on nonsense."""
    rest = line.rstrip("\r\n")
    tags: dict[str, str] = {}
    if rest.startswith("@"):
        raw_tags, sep, rest = rest[1:].partition(" ")
        if not sep or not raw_tags:
            raise IrcParseError("tags without a command")
        for item in raw_tags.split(";"):
            key, _, value = item.partition("=")
            if not key:
                raise IrcParseError("empty tag name")
            tags[key] = unescape_tag(value)
        rest = rest.lstrip(" ")
    prefix = None
    if rest.startswith(":"):
        prefix, sep, rest = rest[1:].partition(" ")
        if not sep or not prefix:
            raise IrcParseError("prefix without a command")
        rest = rest.lstrip(" ")
    middle, sep, trailing = rest.partition(" :")
    if middle.startswith(":"):  # no command, only a trailing parameter
        raise IrcParseError("no command")
    words = middle.split()
    if not words:
        raise IrcParseError("no command")
    command = words[0]
    if not (command.isalpha() or (len(command) == 3 and command.isdigit())):
        raise IrcParseError(f"not an IRC command: {command[:20]!r}")
    params = words[1:]
    if sep:
        params.append(trailing)
    return IrcMessage(tags, prefix, command.upper(), params)


class SendBucket:
    """At most `limit` sends in any `window_s`; acquire() waits for room instead of exceeding.

    A rolling window rather than a refilling bucket: Twitch counts the last 30 s, so a
    refill-rate bucket could let a 21st line through that Twitch would silently drop.
    `margin_s` widens our window so network jitter cannot squeeze two sends into one of
    Twitch's windows.
    """

    def __init__(
        self, limit: int, window_s: float, *, clock: Clock = SYSTEM_CLOCK, margin_s: float = 1.0
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window_s = window_s + margin_s
        self.clock = clock
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:  # one waiter at a time keeps sends in order
            while True:
                now = self.clock.monotonic()
                while self._sent and now - self._sent[0] >= self.window_s:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return
                await self.clock.sleep(self.window_s - (now - self._sent[0]))


def _channel(name: str) -> str:
    return "#" + name.strip().lstrip("#").lower()


def _sent_at(tags: dict[str, str], fallback: datetime) -> datetime:
    stamp = tags.get("tmi-sent-ts", "")
    if stamp.isdigit():
        return datetime.fromtimestamp(int(stamp) / 1000, UTC)
    return fallback


def _roles(tags: dict[str, str]) -> tuple[str, ...]:
    roles = [
        badge.split("/", 1)[0]
        for badge in tags.get("badges", "").split(",")
        if badge.split("/", 1)[0] in ROLE_BADGES
    ]
    if tags.get("mod") == "1" and "moderator" not in roles:
        roles.append("moderator")
    return tuple(roles)


class IrcChat:
    """One Twitch IRC link for a connector: logs in, joins, reads chat, answers PINGs.

    Run `session` under `connector.keep_connected`: each call is one connection, and
    every connection logs in and JOINs all channels again (a reconnect without re-JOIN
    reads nothing).
    """

    def __init__(
        self,
        connector: Connector,
        *,
        url: str,
        login: str,
        token: str,
        channels: list[str],
        moderator: bool = False,
        ping_interval_s: float | None = None,
        dead_after_s: float | None = None,
        login_timeout_s: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        config = connector.config
        self.connector = connector
        self.url = url or DEFAULT_URL
        self.login = login.strip().lower()
        self.token = token.removeprefix("oauth:")
        self.channels = [_channel(c) for c in channels]
        self.clock = clock or connector.clock
        # pyTwitchAPI pings every 120 s; Twitch itself pings just under every 5 minutes.
        self.ping_interval_s = float(ping_interval_s or config.get("irc_ping_interval_s", 120.0))
        self.dead_after_s = float(dead_after_s or config.get("irc_dead_after_s", 300.0))
        self.login_timeout_s = float(login_timeout_s or config.get("irc_login_timeout_s", 10.0))
        moderator = moderator or bool(config.get("irc_moderator", False))
        self.send_bucket = SendBucket(100 if moderator else 20, 30.0, clock=self.clock)
        self.join_bucket = SendBucket(20, 10.0, clock=self.clock)
        self.rng = random.Random()
        self.notices: deque[tuple[str, str]] = deque(maxlen=20)  # (msg-id, text), for ops
        self._ws: ClientConnection | None = None
        self._last_traffic = 0.0
        self._dead_reason: str | None = None
        self._pending: set[asyncio.Task[None]] = set()

    # -- one connection --
    async def session(self) -> None:
        """One connection: log in, JOIN every channel, read until it ends."""
        self._dead_reason = None
        async with connect(
            self.url, open_timeout=self.login_timeout_s, max_size=2**20, logger=WS_LOGGER
        ) as ws:
            self._last_traffic = self.clock.monotonic()
            early = await self._log_in(ws)
            for channel in self.channels:
                await self.join_bucket.acquire()
                await ws.send(f"JOIN {channel}")
            self._ws = ws
            self.connector.connected()
            heartbeat = asyncio.create_task(self._heartbeat(ws), name="twitch-irc-heartbeat")
            try:
                for line in early:
                    await self._handle(ws, line)
                await self._read(ws)
            finally:
                self._ws = None
                heartbeat.cancel()
                await asyncio.gather(heartbeat, return_exceptions=True)
        if self._dead_reason:
            raise ConnectorError(self._dead_reason)
        raise ConnectorError("Twitch closed the chat connection")

    async def _log_in(self, ws: ClientConnection) -> list[str]:
        """Logs in; returns the lines that came after the welcome in its frame."""
        await ws.send(f"CAP REQ :{CAPABILITIES}")
        await ws.send(f"PASS oauth:{self.token}")
        await ws.send(f"NICK {self.login}")
        # Timed on the connector's clock (not wait_for), so a ScaledClock compresses it too.
        welcome = asyncio.ensure_future(self._await_welcome(ws))
        timer = asyncio.ensure_future(self.clock.sleep(self.login_timeout_s))
        try:
            await asyncio.wait({welcome, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not welcome.done():
                welcome.cancel()
                await asyncio.gather(welcome, return_exceptions=True)
        if welcome.cancelled():
            raise ConnectorError(f"Twitch did not finish the login in {self.login_timeout_s:g} s")
        return welcome.result()

    async def _await_welcome(self, ws: ClientConnection) -> list[str]:
        """Reads until the end of the MOTD (376): logged in; a login NOTICE means refused."""
        while True:
            try:
                frame = await ws.recv()
            except ConnectionClosed as exc:
                raise ConnectorError(f"Twitch closed the connection during login: {exc}") from None
            self._last_traffic = self.clock.monotonic()
            lines = self._lines(frame)
            for index, line in enumerate(lines):
                try:
                    message = parse_line(line)
                except IrcParseError as exc:
                    self._dead_letter(line, f"unparsable line: {exc}")
                    continue
                if message.command == "NOTICE" and any(
                    n in message.trailing for n in AUTH_FAILED_NOTICES
                ):
                    raise AuthFailed(f"Twitch chat login refused: {message.trailing}")
                if message.command == "PING":
                    await ws.send(f"PONG :{message.trailing}")
                elif message.command == "376":
                    return lines[index + 1 :]

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                self._last_traffic = self.clock.monotonic()
                for line in self._lines(frame):
                    await self._handle(ws, line)
        except ConnectionClosed:
            pass

    @staticmethod
    def _lines(frame: str | bytes) -> list[str]:
        text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
        return [line for line in text.split("\r\n") if line]

    async def _heartbeat(self, ws: ClientConnection) -> None:
        """Our own PINGs, and closing a link that has gone quiet for too long."""
        next_ping = self.clock.monotonic() + self._ping_delay()
        step = min(self.ping_interval_s, self.dead_after_s) / 4
        while True:
            await self.clock.sleep(step)
            now = self.clock.monotonic()
            if now - self._last_traffic > self.dead_after_s:
                self._dead_reason = f"no traffic from Twitch for {self.dead_after_s:g} s"
                await ws.close(1000, "no traffic")
                return
            if now >= next_ping:
                next_ping = now + self._ping_delay()
                with contextlib.suppress(ConnectionClosed):
                    await ws.send("PING :tmi.twitch.tv")

    def _ping_delay(self) -> float:
        # ±4 s at 120 s, as pyTwitchAPI: many bots must not ping in step.
        jitter = self.ping_interval_s / 30
        return self.ping_interval_s + self.rng.uniform(-jitter, jitter)

    # -- lines --
    async def _handle(self, ws: ClientConnection, line: str) -> None:
        """Handles one line without ever waiting on the bus (PONGs must not queue behind it)."""
        try:
            message = parse_line(line)
        except IrcParseError as exc:
            self._dead_letter(line, f"unparsable line: {exc}")
            return
        command = message.command
        if command == "PING":
            await ws.send(f"PONG :{message.trailing or 'tmi.twitch.tv'}")
            self.connector.keepalive()
        elif command == "PONG":
            self.connector.keepalive()
        elif command == "RECONNECT":
            raise ReconnectNow("Twitch asked to reconnect (RECONNECT)")
        elif command == "PRIVMSG":
            self._privmsg(line, message)
        elif command == "CLEARMSG":
            self._clearmsg(line, message)
        elif command == "CLEARCHAT":
            self._clearchat(line, message)
        elif command == "NOTICE":
            msg_id = message.tags.get("msg-id", "")
            self.notices.append((msg_id, message.trailing))
            log.info("twitch chat notice %s: %s", msg_id or "-", message.trailing[:200])

    def _privmsg(self, line: str, message: IrcMessage) -> None:
        tags = message.tags
        if len(message.params) < 2 or not message.params[0].startswith("#"):
            self._dead_letter(line, "PRIVMSG without a channel and text")
            return
        message_id = tags.get("id")
        if not message_id:
            self._dead_letter(line, "PRIVMSG without an id tag (tags capability missing?)")
            return
        author_id = tags.get("user-id") or message.nick
        if not author_id:
            self._dead_letter(line, "PRIVMSG without user-id or sender")
            return
        text = message.params[1]
        if text.startswith("\x01ACTION ") and text.endswith("\x01"):  # /me
            text = text[8:-1]
        if not text:
            self._dead_letter(line, "PRIVMSG without text")
            return
        name = tags.get("display-name") or message.nick or author_id
        self._offer(
            Kind.chat,
            message_id,
            platform_at=_sent_at(tags, self.clock.now()),
            author=Author(id=author_id[:128], name=name[:128], roles=_roles(tags)),
            text=text,
            data={"channel": message.params[0]},
            raw=line,
        )

    def _clearmsg(self, line: str, message: IrcMessage) -> None:
        target = message.tags.get("target-msg-id")
        if not target:
            self._dead_letter(line, "CLEARMSG without target-msg-id")
            return
        self._offer(
            Kind.stream_state,
            f"clearmsg:{target}",
            platform_at=_sent_at(message.tags, self.clock.now()),
            data={
                "event": "message_deleted",
                "message_id": target,
                "login": message.tags.get("login"),
                "channel": message.params[0] if message.params else None,
            },
            raw=line,
        )

    def _clearchat(self, line: str, message: IrcMessage) -> None:
        tags = message.tags
        at = _sent_at(tags, self.clock.now())
        channel = message.params[0] if message.params else None
        user_id = tags.get("target-user-id")
        data: dict[str, Any]
        if user_id:
            duration = tags.get("ban-duration", "")
            data = {
                "event": "user_cleared",
                "user_id": user_id,
                "login": message.params[1] if len(message.params) > 1 else None,
                # No ban-duration: a permanent ban.
                "duration_s": int(duration) if duration.isdigit() else None,
            }
        else:
            data = {"event": "chat_cleared"}
        data["channel"] = channel
        stamp = tags.get("tmi-sent-ts") or str(int(at.timestamp() * 1000))
        self._offer(
            Kind.stream_state,
            f"clearchat:{tags.get('room-id', channel)}:{user_id or '*'}:{stamp}",
            platform_at=at,
            data=data,
            raw=line,
        )

    def _offer(self, kind: Kind, message_id: str, **fields: Any) -> None:
        self.connector.offer(self.connector.envelope(kind, message_id[:128], **fields))

    def _dead_letter(self, line: str, reason: str) -> None:
        # dead_letter awaits the bus; the reader must not, so it runs beside it.
        if len(self._pending) >= MAX_PENDING_DEAD_LETTERS:
            self.connector.health.malformed += 1
            return
        task = asyncio.create_task(self.connector.dead_letter(line, reason))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    # -- sending --
    async def send_message(self, text: str, channel: str | None = None) -> None:
        """Sends a chat line, waiting for room in the 20/30 s bucket (Twitch drops excess)."""
        text = " ".join(text.split())  # no CR/LF: a newline would start a second IRC command
        if not text:
            raise ConnectorError("empty message")
        if text.lower().startswith(REMOVED_COMMANDS) or text.startswith("."):
            raise ConnectorError(
                "IRC chat commands stopped working on 2023-02-18; moderate through Helix"
            )
        target = _channel(channel) if channel else (self.channels[0] if self.channels else None)
        if target is None:
            raise ConnectorError("no channel to send to")
        await self.send_bucket.acquire()
        ws = self._ws
        if ws is None:
            raise ConnectorError("not connected to Twitch chat")
        await ws.send(f"PRIVMSG {target} :{text[:MAX_MESSAGE_CHARS]}")
