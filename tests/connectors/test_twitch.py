"""The Twitch connector against the fake Twitch (EventSub WebSocket + Helix)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from app.bus import IngestEntry
from app.bus.memory import MemoryBus
from app.chat.models import ChatMessage
from app.connectors import twitch_events
from app.connectors.base import Action, ConnectorState
from app.connectors.clock import ScaledClock
from app.connectors.credentials import Credentials
from app.connectors.twitch import TwitchConnector
from app.envelope import Author, Envelope, Kind, make_envelope
from app.events import service as events
from app.events.models import Event
from app.pipeline.worker import PipelineWorker
from tests.conftest import Seeded, Stack
from tests.connectors.started import started
from tests.fakes.helix import ALL_SCOPES, Token
from tests.fakes.twitch_eventsub import FakeTwitch, chat_event, poll_event

SPEED = 10.0  # Twitch's 10 s keepalive in 1 s
EVENT = "ev-twitch"
SOURCE = "src-twitch"
BROADCASTER = "1971641"
TOKEN = "tok-live-5f2a9c1e"
CLIENT_ID = "client-7d3e"
CHAT = "channel.chat.message"
STREAM = {
    "id": "40952121085",
    "user_id": BROADCASTER,
    "user_login": "streamer",
    "type": "live",
    "title": "Launch",
    "viewer_count": 2345,
    "started_at": "2024-05-01T17:00:00Z",
}


@pytest.fixture
def clock() -> ScaledClock:
    return ScaledClock(SPEED)


@pytest.fixture
async def twitch(clock: ScaledClock) -> AsyncIterator[FakeTwitch]:
    fake = FakeTwitch(clock=clock, welcome_delay_s=1.0)
    fake.add_token(TOKEN, BROADCASTER, CLIENT_ID)
    fake.streams["streamer"] = dict(STREAM)
    async with fake.running():
        yield fake


def connector(
    bus: Any,
    twitch: FakeTwitch,
    clock: ScaledClock,
    *,
    credentials: dict[str, str] | None = None,
    source_id: str = SOURCE,
    event_id: str = EVENT,
    **config: Any,
) -> TwitchConnector:
    return TwitchConnector(
        bus=bus,
        event_id=event_id,
        source_id=source_id,
        config=twitch.config(broadcaster_id=BROADCASTER, keepalive_grace_s=2, **config),
        credentials=Credentials(credentials or {"access_token": TOKEN, "client_id": CLIENT_ID}),
        clock=clock,
        rng=random.Random(7),
    )


async def read_entries(
    bus: Any, count: int, *, event_id: str = EVENT, timeout: float = 5.0
) -> list[IngestEntry]:
    """At least `count` entries from the ingest stream (then whatever else is there)."""
    out: list[IngestEntry] = []
    async with asyncio.timeout(timeout):
        while len(out) < count:
            out += await bus.read_ingest("w1", [event_id], 500, block_ms=50)
    return out + await bus.read_ingest("w1", [event_id], 500, block_ms=100)


async def read(bus: Any, count: int, *, event_id: str = EVENT) -> list[Envelope]:
    return [
        Envelope.from_json(e.payload) for e in await read_entries(bus, count, event_id=event_id)
    ]


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110 - state of a fake or connector, no event to await
            await asyncio.sleep(0.02)


def chat_ids(envelopes: list[Envelope]) -> list[str]:
    return [e.platform_message_id for e in envelopes if e.kind is Kind.chat]


async def test_chat_polls_and_viewers_reach_the_pipeline(
    stack: Stack, seeded: Seeded, twitch: FakeTwitch, clock: ScaledClock
) -> None:
    async with stack.db.sessions() as session:
        event = await session.get(Event, seeded.event.id)
        assert event is not None
        source = await events.add_source(session, event, "twitch", "twitch-live")
        await session.commit()
    conn = connector(
        stack.bus, twitch, clock, event_id=event.id, source_id=source.id,
        channel="streamer", viewer_poll_s=1,
    )  # fmt: skip
    async with started(conn):
        assert conn.health.state is ConnectorState.connected
        await twitch.wait_for_session()
        await twitch.notify(
            CHAT, chat_event("m-1", "hello chat", badges=["moderator", "subscriber"])
        )
        await twitch.notify(CHAT, chat_event("m-2", "what time is the keynote?"))
        await twitch.notify("channel.chat.message_delete", {
            "broadcaster_user_id": BROADCASTER, "target_user_id": "4145994",
            "target_user_name": "viewer32", "target_user_login": "viewer32", "message_id": "m-1",
        })  # fmt: skip
        await twitch.notify("channel.chat.clear_user_messages", {
            "broadcaster_user_id": BROADCASTER, "target_user_id": "4145994",
            "target_user_name": "viewer32", "target_user_login": "viewer32",
        })  # fmt: skip
        for phase, votes in (("begin", (0, 0)), ("progress", (3, 1)), ("end", (5, 2))):
            await twitch.notify(f"channel.poll.{phase}", poll_event(phase, votes))
        entries = await read_entries(stack.bus, 8, event_id=event.id)
        got = [Envelope.from_json(e.payload) for e in entries]

    chat = [e for e in got if e.kind is Kind.chat]
    assert [e.platform_message_id for e in chat] == ["m-1", "m-2"]
    first = chat[0]
    assert first.text == "hello chat" and first.platform == "twitch"
    assert first.author is not None and first.author.id == "4145994"
    assert first.author.name == "viewer32" and first.author.roles == ("moderator", "subscriber")
    states = [e.data for e in got if e.kind is Kind.stream_state]
    assert {"event": "message_deleted", "message_id": "m-1", "user_id": "4145994",
            "user_name": "viewer32"} in states  # fmt: skip
    assert any(s["event"] == "user_cleared" and s["user_id"] == "4145994" for s in states)
    polls = [s for s in states if s["event"].startswith("poll.")]
    assert [p["event"] for p in polls] == ["poll.begin", "poll.progress", "poll.end"]
    assert [c["votes"] for c in polls[1]["poll"]["choices"]] == [3, 1]
    assert polls[2]["poll"]["status"] == "completed"
    assert any(s == {"event": "online", "title": "Launch", "started_at": STREAM["started_at"]}
               for s in states)  # fmt: skip
    assert any(e.kind is Kind.viewers and e.data == {"count": 2345} for e in got)

    # The pipeline takes them as they are: chat rows, the viewer gauge.
    worker = PipelineWorker(stack.bus, stack.db, consumer="w1")
    await worker.process(entries)
    assert worker.stats.dead_letters == 0
    assert (await stack.bus.read_viewers(event.id))["twitch"] == 2345
    async with stack.db.sessions() as session:
        rows = (
            await session.scalars(select(ChatMessage).where(ChatMessage.source_id == source.id))
        ).all()
    assert sorted(r.platform_message_id for r in rows) == ["m-1", "m-2"]
    assert next(r for r in rows if r.platform_message_id == "m-2").is_question


async def test_offline_stream_reports_zero_viewers_and_offline_once(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    bus = MemoryBus()
    conn = connector(bus, twitch, clock, channel="streamer")
    await conn.poll_viewers()
    twitch.streams.clear()  # data: [] -> offline
    await conn.poll_viewers()
    await conn.poll_viewers()
    got = await read(bus, 5)
    assert [e.data["count"] for e in got if e.kind is Kind.viewers] == [2345, 0, 0]
    assert [e.data["event"] for e in got if e.kind is Kind.stream_state] == ["online", "offline"]
    await conn.close()


async def test_server_reconnect_moves_without_loss_doubling_or_4007(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    bus = MemoryBus()
    async with started(connector(bus, twitch, clock)) as conn:
        old = await twitch.wait_for_session()
        for n in range(3):
            await twitch.notify(CHAT, chat_event(f"m-{n}", f"before {n}"))
        await twitch.reconnect(old)
        # Until the new socket is welcomed, Twitch keeps delivering on the old one.
        last_on_old = ""
        for n in range(3, 6):
            last_on_old = await twitch.notify(CHAT, chat_event(f"m-{n}", f"during {n}"))
        new = await twitch.wait_for_session(lambda s: s.id != old.id and s.subscriptions)
        # At-least-once: the last one is delivered again on the new socket.
        await twitch.notify(CHAT, chat_event("m-5", "during 5"), message_id=last_on_old)
        for n in range(6, 9):
            await twitch.notify(CHAT, chat_event(f"m-{n}", f"after {n}"))
        got = await read(bus, 9)
        await until(lambda: old.status == "closed")
        carried = {s["type"] for s in new.subscriptions.values()}
    assert chat_ids(got) == [f"m-{n}" for n in range(9)]
    assert not any(code == 4007 for _sid, code in twitch.closes)
    assert twitch.invalid_reconnects == 0
    assert old.closed_by_client and old.close_code is None  # we closed it, not the 4004 timer
    # Subscriptions came along: nothing was posted again for the new session.
    assert len(twitch.subscription_posts) == 6
    assert len(carried) == 6
    assert conn.health.reconnects == 1 and conn.session_id == new.id


async def test_plain_drop_resubscribes_on_the_new_session(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    bus = MemoryBus()
    async with started(connector(bus, twitch, clock)) as conn:
        first = await twitch.wait_for_session()
        twitch.drop(first)
        second = await twitch.wait_for_session(
            lambda s: s.id != first.id and len(s.subscriptions) == 6
        )
        assert [sid for sid, _ in twitch.subscription_posts].count(second.id) == 6
        await twitch.notify(CHAT, chat_event("after-drop", "still here"))
        got = await read(bus, 1)
    assert chat_ids(got) == ["after-drop"]
    assert conn.health.reconnects >= 1


async def test_redelivered_notifications_are_offered_once(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    bus = MemoryBus()
    async with started(connector(bus, twitch, clock)):
        await twitch.wait_for_session()
        for n in range(3):
            await twitch.notify(CHAT, chat_event(f"d-{n}", "twice"), duplicate=True)
        got = await read(bus, 3)
    assert chat_ids(got) == ["d-0", "d-1", "d-2"]


async def test_malformed_frames_are_dead_lettered_and_reading_goes_on(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    bus = MemoryBus()
    async with started(connector(bus, twitch, clock)) as conn:
        session = await twitch.wait_for_session()
        await twitch.send_raw(session, "not json {")
        await twitch.send_raw(session, orjson.dumps({"payload": {}}))
        broken = chat_event("bad-1", "x")
        del broken["chatter_user_id"]
        await twitch.notify(CHAT, broken)
        await twitch.notify(
            "channel.poll.progress", {"id": "p", "choices": [{"id": "c", "votes": -3}]}
        )
        await twitch.notify(CHAT, chat_event("good-1", "fine"))
        got = await read(bus, 1)
        await until(lambda: conn.health.malformed == 4)
        dead = await bus.dead_letters(EVENT)
    assert chat_ids(got) == ["good-1"]
    reasons = " | ".join(d.reason for d in dead)
    assert "not JSON" in reasons and "chatter_user_id" in reasons and "vote count" in reasons
    assert conn.health.reconnects == 0


class StalledBus(MemoryBus):
    """A bus whose ingest writes hang until released (Redis stalled)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def add_ingest(self, event_id: str, payloads: Any) -> list[str]:
        await self.release.wait()
        return await super().add_ingest(event_id, payloads)


async def test_pings_are_answered_while_the_bus_stalls(clock: ScaledClock) -> None:
    fake = FakeTwitch(clock=clock, ping_interval_s=2, pong_timeout_s=3)
    fake.add_token(TOKEN, BROADCASTER, CLIENT_ID)
    bus = StalledBus()
    async with fake.running(), started(connector(bus, fake, clock)) as conn:
        session = await fake.wait_for_session()
        padding = "x" * 400
        for n in range(300):
            await fake.notify(CHAT, chat_event(f"s-{n}", f"{n} {padding}"))
        await asyncio.sleep(20 / SPEED)  # ten ping rounds with nothing reaching the bus
        assert session.status == "connected" and fake.closes == []
        bus.release.set()
        got = await read(bus, 300)
    assert len(chat_ids(got)) == 300
    assert conn.health.reconnects == 0


async def test_silent_link_is_dropped_after_keepalive_timeout(clock: ScaledClock) -> None:
    fake = FakeTwitch(clock=clock, keepalive_s=10_000)  # no keepalives at all
    fake.add_token(TOKEN, BROADCASTER, CLIENT_ID)
    async with fake.running(), started(connector(MemoryBus(), fake, clock)) as conn:
        await until(lambda: len(fake.live()) == 1 and len(fake.sessions) >= 2, timeout=4)
    assert any("keepalive missed" in message for _at, message in conn.health.errors)
    assert len(fake.sessions) >= 2


async def test_failed_subscriptions_get_4003_and_the_desired_list_survives(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    twitch.tokens[TOKEN].scopes = set()
    bus = MemoryBus()
    async with started(connector(bus, twitch, clock), timeout=0.5) as conn:
        assert conn.health.state is not ConnectorState.connected
        await until(lambda: any(code == 4003 for _sid, code in twitch.closes), timeout=4)
        errors = " | ".join(m for _at, m in conn.health.errors)
        assert "subscription missing proper authorization" in errors
        await until(lambda: "4003" in " ".join(m for _at, m in conn.health.errors))
        twitch.tokens[TOKEN].scopes = set(ALL_SCOPES)
        session = await twitch.wait_for_session(timeout=6)
        await until(lambda: conn.health.state is ConnectorState.connected)
        await twitch.notify(CHAT, chat_event("late", "subscribed at last"))
        got = await read(bus, 1)
        subscribed = len(session.subscriptions)
    assert subscribed == 6
    assert chat_ids(got) == ["late"]


@pytest.fixture
def fast_clock() -> ScaledClock:
    return ScaledClock(60.0)  # a Helix minute in one second


async def test_empty_bucket_is_waited_out_not_hit(fast_clock: ScaledClock) -> None:
    fake = FakeTwitch(clock=fast_clock, points_per_minute=2)
    fake.add_token(TOKEN, BROADCASTER, CLIENT_ID)
    fake.chat_ids.update({"a", "b", "c"})
    async with fake.running():
        conn = connector(MemoryBus(), fake, fast_clock)
        results = [
            await conn.perform(Action(f"x{n}", "delete", SOURCE, {"message_id": mid}))
            for n, mid in enumerate("abc")
        ]
        await conn.close()
    assert [r.status for r in results] == ["done", "done", "done"]
    assert fake.rate_limited == 0  # remaining 0 was respected, not run into
    assert conn.health.quota_left == 1  # a fresh bucket after the wait


async def test_429_waits_for_the_reset_and_retries(fast_clock: ScaledClock) -> None:
    fake = FakeTwitch(clock=fast_clock)
    fake.add_token(TOKEN, BROADCASTER, CLIENT_ID)
    fake.chat_ids.add("a")
    fake.streams["streamer"] = dict(STREAM)
    async with fake.running():
        bus = MemoryBus()
        conn = connector(bus, fake, fast_clock, channel="streamer")
        await conn.poll_viewers()
        # Another client of the same token spends the bucket behind our back.
        fake.buckets[TOKEN].remaining = 0
        action = Action("r1", "delete", SOURCE, {"message_id": "a"})
        result = await conn._perform_with_retries(action)
        assert result.status == "done" and fake.rate_limited == 1
        fake.buckets[TOKEN].remaining = 0
        await conn.poll_viewers()  # the poller waits and retries by itself
        assert fake.rate_limited == 2
        await conn.close()
    got = await read(bus, 2)
    assert [e.data["count"] for e in got if e.kind is Kind.viewers] == [2345, 2345]


async def test_rejected_token_refreshes_once_then_fails_without_leaking(
    twitch: FakeTwitch, clock: ScaledClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = {"access_token": "tok-revoked-91ab7c", "client_id": CLIENT_ID,
               "refresh_token": "rt-secret-33d0e1", "client_secret": twitch.client_secret}  # fmt: skip
    twitch.refresh_tokens[secrets["refresh_token"]] = Token(BROADCASTER, CLIENT_ID)
    twitch.refresh_gives_valid_tokens = False  # the user removed the app: new tokens fail too
    bus = MemoryBus()
    async with started(connector(bus, twitch, clock, credentials=secrets)) as conn:
        await until(lambda: conn.health.state is ConnectorState.failed)
        await conn.report_health()
        stored = b"".join((await bus.read_health(EVENT)).values())
    assert twitch.refreshes == 1
    assert conn.health.last_error is not None
    assert "authentication failed" in conn.health.last_error and "401" in conn.health.last_error
    leaked = [
        secrets["access_token"],
        secrets["refresh_token"],
        secrets["client_secret"],
        *twitch.issued,
    ]
    text = (
        "\n".join(r.getMessage() for r in caplog.records)
        + orjson.dumps(conn.health_dict()).decode()
    )
    text += stored.decode()
    for secret in leaked:
        assert secret not in text


async def test_expired_token_is_refreshed_and_the_session_comes_up(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    secrets = {"access_token": "tok-expired-0000", "client_id": CLIENT_ID,
               "refresh_token": "rt-good-1111", "client_secret": twitch.client_secret}  # fmt: skip
    twitch.refresh_tokens["rt-good-1111"] = Token(BROADCASTER, CLIENT_ID, set(ALL_SCOPES))
    async with started(connector(MemoryBus(), twitch, clock, credentials=secrets)) as conn:
        assert conn.health.state is ConnectorState.connected
        await twitch.wait_for_session()
    assert twitch.refreshes == 1
    assert conn.credentials.get("access_token") == twitch.issued[0]


async def test_moderation_actions_and_twitchs_refusals(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    twitch.chat_ids.add("msg-1")
    twitch.automod_words.add("badword")
    conn = connector(MemoryBus(), twitch, clock)

    async def act(kind: str, **params: Any) -> tuple[str, str | None]:
        result = await conn.perform(Action("a", kind, SOURCE, params))
        return result.status, result.reason

    assert await act("delete", message_id="msg-1") == ("done", None)
    assert twitch.deleted == ["msg-1"]
    status, reason = await act("delete", message_id="gone")
    assert status == "failed" and "not found" in (reason or "")
    # The console sends the message's author as author_id.
    assert await act("timeout", message_id="msg-1", author_id="555", duration_s=300,
                     reason="spam") == ("done", None)  # fmt: skip
    assert twitch.bans[(BROADCASTER, "555")] == 300
    assert await act("ban", user_id="777") == ("done", None)
    status, reason = await act("ban", user_id="777")
    assert status == "failed" and "already banned" in (reason or "")
    calls = len(twitch.requests)
    for duration in (0, 1_209_601, "300"):
        status, reason = await act("timeout", user_id="555", duration_s=duration)
        assert status == "failed" and "1 to 1209600 seconds" in (reason or "")
    assert len(twitch.requests) == calls  # refused before calling Twitch
    assert await act("send_message", text="welcome all") == ("done", None)
    status, reason = await act("send_message", text="a badword here")
    assert status == "failed" and "checked by mods" in (reason or "")
    assert twitch.sent == ["welcome all"]
    assert (await act("pin", message_id="msg-1"))[0] == "not_supported"
    await conn.close()

    # A token without the ban scope, and a moderator_id that is not the token's user.
    twitch.add_token("tok-chat-only", BROADCASTER, CLIENT_ID, {"moderator:manage:chat_messages"})
    conn = connector(
        MemoryBus(),
        twitch,
        clock,
        credentials={"access_token": "tok-chat-only", "client_id": CLIENT_ID},
    )
    status, reason = await act("ban", user_id="888")
    assert status == "failed" and "Missing scope: moderator:manage:banned_users" in (reason or "")
    await conn.close()
    conn = connector(MemoryBus(), twitch, clock, user_id="999")
    status, reason = await act("delete", message_id="msg-1")
    assert status == "failed" and "moderator_id must match" in (reason or "")
    await conn.close()


async def test_revocation_is_recorded_and_chat_goes_on(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    bus = MemoryBus()
    async with started(connector(bus, twitch, clock)) as conn:
        await twitch.wait_for_session()
        await twitch.revoke("channel.poll.begin")
        await until(lambda: "revoked" in (conn.health.last_error or ""))
        await twitch.notify(CHAT, chat_event("after", "still reading"))
        got = await read(bus, 1)
    assert "channel.poll.begin" in (conn.health.last_error or "")
    assert "authorization_revoked" in (conn.health.last_error or "")
    assert conn.health.state is ConnectorState.stopped and conn.health.reconnects == 0
    assert "channel.poll.begin" not in conn.active
    assert ("channel.poll.begin", "1") in conn.desired
    assert chat_ids(got) == ["after"]


def test_fast_chat_envelopes_match_validated_ones() -> None:
    """The hot path skips pydantic; what it builds and writes must not differ."""
    from app import envelope as envelope_module

    assert envelope_module._TRUSTED_OK
    factory = twitch_events.EnvelopeFactory(
        event_id=EVENT, source_id=SOURCE, now=ScaledClock(1.0).now, max_text=10
    )
    fake = FakeTwitch()
    event = chat_event("long-1", "x" * 25, badges=["vip", "founder", "premium"])
    frame = twitch_events.parse_frame(
        fake.frame("notification", {"event": event}, subscription_type=CHAT)
    )
    envelope = factory.notification(frame)
    assert envelope is not None
    validated = make_envelope(
        event_id=EVENT, source_id=SOURCE, platform="twitch", kind=Kind.chat,
        platform_message_id="long-1", platform_at=envelope.platform_at,
        author=Author(id="4145994", name="viewer32", roles=("vip", "subscriber")),
        text="x" * 25, ingest_at=envelope.ingest_at, max_text=10,
    )  # fmt: skip
    assert envelope == validated and envelope.truncated and envelope.original_length == 25
    assert envelope.to_json() == orjson.dumps(validated.model_dump(mode="json"))
    assert Envelope.from_json(envelope.to_json()) == validated


async def test_irc_fallback_reads_chat_while_helix_still_moderates(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    """chat_transport=irc: chat comes over IRC; viewers and moderation still go through Helix."""
    from tests.fakes.twitch_irc import FakeTwitchIrc

    twitch.chat_ids.add("irc-1")
    async with FakeTwitchIrc(tokens={TOKEN: "bot"}) as irc:
        bus = MemoryBus()
        conn = connector(
            bus, twitch, clock, chat_transport="irc", irc_url=irc.url, login="bot",
            channel="streamer",
        )  # fmt: skip
        async with started(conn):
            assert conn.health.state is ConnectorState.connected
            assert not twitch.live(connected_only=False), "no EventSub session in IRC mode"
            await irc.send_frame([irc.privmsg("streamer", "hello over irc", msg_id="irc-1")])
            got = await read(bus, 2)
            assert "irc-1" in chat_ids(got)
            assert any(e.kind is Kind.viewers and e.data["count"] == 2345 for e in got)
            result = await conn.perform(Action("a", "delete", SOURCE, {"message_id": "irc-1"}))
            assert result.status == "done" and twitch.deleted == ["irc-1"]
