"""Twitch IRC fallback reader against the fake Twitch IRC server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from app.bus.memory import MemoryBus
from app.connectors.base import Connector, ConnectorState
from app.connectors.clock import Clock, ScaledClock
from app.connectors.errors import AuthFailed, ConnectorError
from app.connectors.twitch_irc import IrcChat, IrcParseError, parse_line, unescape_tag
from tests.connectors.started import started
from tests.fakes.twitch_irc import FakeTwitchIrc

EVENT = "ev1"
SOURCE = "src1"
TOKEN = "s3cr3t-irc-token-abc"


class IrcHost(Connector):
    """The smallest connector that reads Twitch chat through IrcChat."""

    platform = "twitch"

    def __init__(
        self, *, url: str, token: str = TOKEN, channels: Sequence[str] = ("streamer",), **kw: Any
    ) -> None:
        super().__init__(event_id=EVENT, source_id=SOURCE, **kw)
        self.chat = IrcChat(self, url=url, login="bot", token=token, channels=list(channels))

    async def produce(self) -> None:
        await self.keep_connected(self.chat.session)


class StallingBus(MemoryBus):
    """A bus whose ingest writes hang until released: a stalled Redis."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def add_ingest(self, event_id: str, payloads: Sequence[bytes]) -> list[str]:
        await self.gate.wait()
        return await super().add_ingest(event_id, payloads)


async def read_envelopes(bus: MemoryBus, count: int, timeout: float = 5.0) -> list[dict]:
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        entries = await bus.read_ingest("test", [EVENT], 500, block_ms=50)
        got += [orjson.loads(e.payload) for e in entries]
    assert len(got) >= count, f"expected {count} envelopes, got {len(got)}"
    return got


@pytest.fixture
async def irc() -> AsyncIterator[FakeTwitchIrc]:
    async with FakeTwitchIrc(tokens={TOKEN: "bot", "rawtoken": "rawbot"}) as fake:
        yield fake


@contextlib.asynccontextmanager
async def running(host: IrcHost) -> AsyncIterator[IrcHost]:
    """The host started and connected for the block; stopped however the block ends."""
    async with started(host):
        assert host.health.state is ConnectorState.connected
        yield host


async def raw_login(url: str, token: str, nick: str) -> ClientConnection:
    ws = await connect(url)
    for line in (
        "CAP REQ :twitch.tv/tags twitch.tv/commands",
        f"PASS oauth:{token}",
        f"NICK {nick}",
    ):
        await ws.send(line)
    return ws


# -- parsing --
def test_parse_line_with_escaped_tags() -> None:
    line = (
        r"@badges=moderator/1,subscriber/12;display-name=Ali\sce;system-msg=a\:b\\c\rd\ne;"
        r"flag;id=abc :alice!alice@alice.tmi.twitch.tv PRIVMSG #chan :hello :) world"
    )
    msg = parse_line(line)
    assert msg.command == "PRIVMSG"
    assert msg.tags["display-name"] == "Ali ce"
    assert msg.tags["system-msg"] == "a;b\\c\rd\ne"
    assert msg.tags["flag"] == ""
    assert msg.prefix == "alice!alice@alice.tmi.twitch.tv" and msg.nick == "alice"
    assert msg.params == ["#chan", "hello :) world"]

    assert parse_line("PING :tmi.twitch.tv").params == ["tmi.twitch.tv"]
    welcome = parse_line(":tmi.twitch.tv 001 bot :Welcome, GLHF!")
    assert (welcome.command, welcome.params, welcome.nick) == (
        "001",
        ["bot", "Welcome, GLHF!"],
        None,
    )
    assert parse_line(":tmi.twitch.tv RECONNECT").command == "RECONNECT"
    assert unescape_tag("x\\") == "x" and unescape_tag(r"\q") == "q"


@pytest.mark.parametrize(
    "line", ["", "@a=b", "@a=b :prefix", ":prefix", ":p 12 x", "@=x PRIVMSG #c :hi", ":x :trail"]
)
def test_parse_line_refuses_nonsense(line: str) -> None:
    with pytest.raises(IrcParseError):
        parse_line(line)


def test_parse_line_is_fast() -> None:
    line = FakeTwitchIrc().privmsg("chan", "hello there, a normal chat line")
    began = time.perf_counter()
    for _ in range(20_000):
        parse_line(line)
    per_line_us = (time.perf_counter() - began) / 20_000 * 1e6
    assert per_line_us < 50, f"{per_line_us:.1f} µs per line"


# -- reading --
async def test_reads_chat_and_moderation_events_from_multi_line_frames(
    irc: FakeTwitchIrc,
) -> None:
    bus = MemoryBus()
    async with running(IrcHost(bus=bus, url=irc.url)):
        await irc.wait_for(lambda: irc.ready and irc.ready[0].joined == ["#streamer"])
        sent_ms = 1_674_656_103_223
        chat = irc.privmsg(
            "streamer",
            "hello; world \\ with :colons",
            display_name="Ali ce;\\",
            badges="moderator/1,subscriber/12,glhf-pledge/1",
            msg_id="e35baca3-0653",
            sent_ms=sent_ms,
        )
        await irc.send_frame(
            [
                chat,
                irc.clearmsg("streamer", "e35baca3-0653"),
                irc.clearchat("streamer", user_id="53862903", login="alice", duration=600),
                irc.clearchat("streamer", user_id="777", login="bob"),
                irc.clearchat("streamer"),
            ]
        )
        assert "\\s" in chat and "\\:" in chat  # the tags really went out escaped
        got = await read_envelopes(bus, 5)
        by_kind = [(e["kind"], e["data"].get("event")) for e in got]
        assert by_kind == [
            ("chat", None),
            ("stream_state", "message_deleted"),
            ("stream_state", "user_cleared"),
            ("stream_state", "user_cleared"),
            ("stream_state", "chat_cleared"),
        ]
        message = got[0]
        assert message["platform_message_id"] == "e35baca3-0653"
        assert message["text"] == "hello; world \\ with :colons"
        assert message["author"] == {
            "id": "53862903",
            "name": "Ali ce;\\",
            "roles": ["moderator", "subscriber"],
        }
        assert message["platform_at"].startswith("2023-01-25T14:15:03.223")
        assert got[1]["data"]["message_id"] == "e35baca3-0653"
        assert got[2]["data"]["user_id"] == "53862903" and got[2]["data"]["duration_s"] == 600
        assert got[3]["data"]["duration_s"] is None  # permanent ban
        assert len({e["platform_message_id"] for e in got}) == 5


async def test_ping_is_answered_while_the_bus_stalls() -> None:
    bus = StallingBus()
    async with (
        FakeTwitchIrc(tokens={TOKEN: "bot"}, ping_interval_s=0.1, pong_deadline_s=0.3) as irc,
        running(IrcHost(bus=bus, url=irc.url)) as host,
    ):
        try:
            await irc.wait_for(lambda: irc.ready and irc.ready[0].joined)
            await irc.send_frame([irc.privmsg("streamer", f"line {i}") for i in range(50)])
            await asyncio.sleep(1.3)  # three PING rounds (0.1 s apart, each with a 0.3 s deadline)
            client = irc.clients[0]
            assert client.open, f"fake closed the link: {client.close_reason}"
            assert client.pongs >= 2
            assert len(host.handoff) == 50  # held, none lost, while the bus hangs
            assert host.health.last_keepalive_at is not None
            bus.gate.set()
            got = await read_envelopes(bus, 50)
            assert [e["text"] for e in got] == [f"line {i}" for i in range(50)]
        finally:
            bus.gate.set()


async def test_fake_closes_a_client_that_does_not_pong() -> None:
    async with FakeTwitchIrc(
        tokens={"rawtoken": "rawbot"}, ping_interval_s=0.1, pong_deadline_s=0.2
    ) as irc:
        ws = await raw_login(irc.url, "rawtoken", "rawbot")
        try:
            await irc.wait_for(lambda: irc.clients[0].close_reason, timeout=3)
            assert irc.clients[0].close_reason == "no PONG"
            assert any("PING" in str(f) for f in [m async for m in ws])
        finally:
            await ws.close()


async def test_reconnect_rejoins_every_channel(irc: FakeTwitchIrc) -> None:
    bus = MemoryBus()
    async with running(IrcHost(bus=bus, url=irc.url, channels=["Streamer", "#other"])) as host:
        await irc.wait_for(lambda: irc.ready and len(irc.ready[0].joined) == 2)
        began = time.monotonic()
        await irc.reconnect()
        second = await irc.wait_for(
            lambda: [c for c in irc.ready if c.number == 2 and len(c.joined) == 2]
        )
        assert time.monotonic() - began < 1.0  # server-directed: no backoff
        assert second[0].joined == ["#streamer", "#other"]
        assert irc.clients[0].received[:3] == [
            "CAP REQ :twitch.tv/tags twitch.tv/commands",
            f"PASS oauth:{TOKEN}",
            "NICK bot",
        ]
        assert host.health.reconnects == 1
        await irc.send_frame([irc.privmsg("other", "after the move")])
        got = await read_envelopes(bus, 1)
        assert got[0]["text"] == "after the move"


async def test_auth_failure_raises_and_fails_the_source(
    irc: FakeTwitchIrc, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bus = MemoryBus()
    secret = "wr0ng-s3cret-token-xyz"
    host = IrcHost(bus=bus, url=irc.url, token=secret)
    with pytest.raises(AuthFailed, match="Login authentication failed"):
        await host.chat.session()
    async with started(host):
        await irc.wait_for(lambda: irc.auth_failures == 2)
        for _ in range(100):
            if host.health.state is ConnectorState.failed:
                break
            await asyncio.sleep(0.02)
        assert host.health.state is ConnectorState.failed
        assert "authentication failed" in (host.health.last_error or "")
        health = orjson.dumps(host.health_dict()).decode()
        assert secret not in health
        assert all(secret not in r.getMessage() for r in caplog.records)


async def test_secrets_never_logged_in_a_normal_run(
    irc: FakeTwitchIrc, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bus = MemoryBus()
    async with running(IrcHost(bus=bus, url=irc.url)) as host:
        await irc.wait_for(lambda: irc.ready and irc.ready[0].joined)
        await irc.send_frame([irc.privmsg("streamer", "hi"), "@garbage"])
        await read_envelopes(bus, 1)
        await irc.reconnect()
        await irc.wait_for(lambda: len(irc.ready) == 1 and irc.ready[0].number == 2)
        assert TOKEN not in orjson.dumps(host.health_dict()).decode()
        assert all(TOKEN not in r.getMessage() for r in caplog.records)


async def test_malformed_lines_are_dead_lettered_and_reading_goes_on(
    irc: FakeTwitchIrc,
) -> None:
    bus = MemoryBus()
    async with running(IrcHost(bus=bus, url=irc.url)) as host:
        await irc.wait_for(lambda: irc.ready and irc.ready[0].joined)
        no_id = ":carol!carol@carol.tmi.twitch.tv PRIVMSG #streamer :no tags at all"
        await irc.send_frame(
            [
                "@broken-tags-without-command",
                irc.privmsg("streamer", "first good line"),
                ":tmi.twitch.tv 12 x",
                no_id,
                irc.clearmsg("streamer", "").replace("target-msg-id=;", ""),
                irc.privmsg("streamer", "second good line"),
            ]
        )
        got = await read_envelopes(bus, 2)
        assert [e["text"] for e in got] == ["first good line", "second good line"]
        for _ in range(50):
            letters = await bus.dead_letters(EVENT)
            if len(letters) == 4:
                break
            await asyncio.sleep(0.02)
        reasons = sorted(letter.reason for letter in letters)
        assert len(reasons) == 4, reasons
        assert any("PRIVMSG without an id tag" in r for r in reasons)
        assert any("CLEARMSG without target-msg-id" in r for r in reasons)
        assert sum("unparsable line" in r for r in reasons) == 2
        assert {letter.source_id for letter in letters} == {SOURCE}
        assert host.health.malformed == 4
        assert host.health.state is ConnectorState.connected


# -- sending --
async def test_fake_drops_sends_beyond_the_bucket_and_refuses_ban(irc: FakeTwitchIrc) -> None:
    ws = await raw_login(irc.url, "rawtoken", "rawbot")
    try:
        await irc.wait_for(lambda: irc.ready)
        for i in range(25):
            await ws.send(f"PRIVMSG #streamer :spam {i}")
        await ws.send("PRIVMSG #streamer :/ban alice")
        frames = []
        while not any("cmd_unavailable" in f for f in frames):
            frames.append(str(await asyncio.wait_for(ws.recv(), 2)))
        assert len(irc.delivered) == 20 and irc.dropped == 5
    finally:
        await ws.close()


async def test_send_message_waits_for_the_bucket_instead_of_exceeding_it() -> None:
    clock: Clock = ScaledClock(20)  # Twitch's 30 s window passes in 1.5 s
    async with (
        FakeTwitchIrc(tokens={TOKEN: "bot"}, clock=ScaledClock(20)) as irc,
        running(IrcHost(bus=MemoryBus(), url=irc.url, clock=clock)) as host,
    ):
        await irc.wait_for(lambda: irc.ready and irc.ready[0].joined)
        began = clock.monotonic()
        for i in range(25):
            await host.chat.send_message(f"announcement {i}\r\nPRIVMSG #x :injected")
        await irc.wait_for(lambda: len(irc.delivered) == 25)
        assert clock.monotonic() - began >= 30  # the last 5 waited for the window
        assert irc.dropped == 0
        assert irc.delivered[0] == ("bot", "#streamer", "announcement 0 PRIVMSG #x :injected")
        with pytest.raises(ConnectorError, match="Helix"):
            await host.chat.send_message("/ban alice")


async def test_login_order_is_enforced_by_the_fake(irc: FakeTwitchIrc) -> None:
    async with connect(irc.url) as ws:
        await ws.send("PASS oauth:rawtoken")
        frames = [str(f) async for f in ws]
    assert "Improperly formatted auth" in frames[0]
    assert irc.clients[0].close_reason == "PASS out of order (expected CAP)"


async def test_a_silent_link_is_declared_dead_and_replaced(irc: FakeTwitchIrc) -> None:
    host = IrcHost(bus=MemoryBus(), url=irc.url)
    host.chat.ping_interval_s, host.chat.dead_after_s = 0.1, 0.4
    async with running(host):
        await irc.wait_for(lambda: irc.ready and irc.ready[0].joined)
        await irc.wait_for(lambda: "PING :tmi.twitch.tv" in irc.clients[0].received)
        irc.mute = True  # our PINGs go unanswered from now on
        await irc.wait_for(lambda: irc.clients[0].close_reason == "client closed", timeout=3)
        assert "no traffic from Twitch" in (host.health.last_error or "")
        irc.mute = False
        await irc.wait_for(lambda: len(irc.ready) == 1 and irc.ready[0].number == 2, timeout=5)
