"""The YouTube Live connector against the local YouTube fake."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from app.bus.memory import MemoryBus
from app.connectors.base import Action, ConnectorState
from app.connectors.clock import SYSTEM_CLOCK, Clock, ScaledClock
from app.connectors.credentials import Credentials
from app.connectors.quota import PACIFIC, QuotaLedger, next_reset
from app.connectors.youtube import YouTubeConnector
from app.envelope import Envelope, Kind
from tests.fakes.youtube import OWNER, FakeYouTube, serve

EVENT = "e1"
SOURCE = "s1"


class Harness:
    """A fake, a connector pointed at it, and everything the connector emitted."""

    def __init__(self, fake: FakeYouTube, connector: YouTubeConnector, bus: MemoryBus) -> None:
        self.fake = fake
        self.connector = connector
        self.bus = bus
        self.seen: list[Envelope] = []

    async def collect(self) -> list[Envelope]:
        entries = await self.bus.read_ingest("test", [EVENT], 10_000, block_ms=0)
        self.seen += [Envelope.from_json(e.payload) for e in entries]
        return self.seen

    def of(self, kind: Kind) -> list[Envelope]:
        return [e for e in self.seen if e.kind is kind]

    async def until(self, check: Callable[[], bool], timeout: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            await self.collect()
            if check():
                return
            await asyncio.sleep(0.02)
        raise AssertionError("condition not met in time")


def make_connector(
    bus: MemoryBus, api_base: str, clock: Clock, credentials: dict[str, str], **config: Any
) -> YouTubeConnector:
    return YouTubeConnector(
        bus=bus,
        event_id=EVENT,
        source_id=SOURCE,
        config={
            "api_base": api_base,
            "token_url": api_base.removesuffix("/youtube/v3") + "/token",
            "video_id": "vid-1",
            # Real YouTube quota would slow 100 ms polls to one a minute; tests of the
            # quota itself set their own.
            "daily_quota": 1_000_000_000,
            **config,
        },
        credentials=Credentials(credentials),
        clock=clock,
    )


@contextlib.asynccontextmanager
async def running(
    fake: FakeYouTube,
    *,
    bus: MemoryBus | None = None,
    credentials: dict[str, str] | None = None,
    start: bool = True,
    **config: Any,
) -> AsyncIterator[Harness]:
    bus = bus or MemoryBus()
    async with serve(fake) as server:
        connector = make_connector(
            bus,
            f"{server.base_url}/youtube/v3",
            fake.clock,
            credentials or {"access_token": "good-access-token"},
            **config,
        )
        harness = Harness(fake, connector, bus)
        runner = asyncio.create_task(connector.run()) if start else None
        try:
            yield harness
        finally:
            if runner is not None:
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
            else:
                await connector.close()


def successful_gaps(fake: FakeYouTube) -> list[float]:
    times = [c.at for c in fake.list_calls if c.status == 200]
    return [b - a for a, b in itertools.pairwise(times)]


# -- the quota ledger on its own --


def test_reset_is_midnight_pacific_in_winter_and_summer() -> None:
    winter = datetime(2026, 1, 10, 20, 0, tzinfo=UTC)  # 12:00 PST
    summer = datetime(2026, 7, 10, 20, 0, tzinfo=UTC)  # 13:00 PDT
    assert next_reset(winter) == datetime(2026, 1, 11, 8, 0, tzinfo=UTC)
    assert next_reset(summer) == datetime(2026, 7, 11, 7, 0, tzinfo=UTC)


def test_ledger_slows_polling_so_the_units_last_until_reset() -> None:
    start = datetime(2026, 1, 10, 23, 0, tzinfo=PACIFIC)  # one hour before the reset
    ledger = QuotaLedger(1000, reserve=500, clock=ScaledClock(1, start=start))
    plan = ledger.plan_poll(5.0)
    # (1000 - 500) / 5 = 100 polls over ~3600 s: one every ~36 s, not every 5 s.
    assert not plan.exhausted and 35 < plan.wait_s < 37
    assert plan.note == "slowed to 1 poll / 36 s to last until reset"
    ledger.spent = 496
    plan = ledger.plan_poll(5.0)
    assert plan.exhausted and plan.note == "quota exhausted until 08:00 UTC (midnight Pacific)"
    assert ledger.can_afford("liveChatBans.insert", from_reserve=True)
    assert not ledger.can_afford("liveChatMessages.list")


# -- reading --


async def test_reads_every_kind_of_item_and_the_viewer_count() -> None:
    fake = FakeYouTube(polling_interval_ms=100, concurrent_viewers=1234)
    fake.text("hello from a mod", name="Mia", moderator=True)
    fake.text("how do I join the beta?", member=True)
    fake.super_chat("great show!")
    fake.super_chat(None, amount_micros=2_000_000)
    member = fake._item("newSponsorEvent", {"channelId": "UCnewmember0000000000001"})
    member["snippet"]["newSponsorDetails"] = {"memberLevelName": "Gold", "isUpgrade": False}
    fake.push(member)
    fake.push(fake._item("tombstone", OWNER))
    poll = fake._item("pollEvent", OWNER)
    poll["snippet"]["pollDetails"] = {
        "metadata": {
            "questionText": "Next topic?",
            "options": [{"optionText": "A", "tally": "3"}, {"optionText": "B", "tally": "1"}],
        },
        "status": "active",
    }
    fake.push(poll)
    async with running(fake) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 5 and len(h.of(Kind.stream_state)) == 1)
        fake.text("a new one after the backlog")
        await h.until(lambda: len(h.of(Kind.chat)) == 6)
        assert h.connector.health.state is ConnectorState.connected

    chat = h.of(Kind.chat)
    texts = [e.text for e in chat]
    assert texts[:2] == ["hello from a mod", "how do I join the beta?"]
    assert chat[0].author is not None and chat[0].author.roles == ("moderator",)
    assert chat[1].author is not None and chat[1].author.roles == ("member",)
    assert chat[2].data["super_chat"] == {
        "amount_micros": 5_000_000,
        "currency": "USD",
        "amount_display_string": "$5.00",
        "tier": 2,
        "sticker": False,
    }
    assert chat[2].text == "great show!"
    assert chat[3].text == "$2.00", "a super chat without comment still reads as a line"
    assert chat[4].data["membership"]["kind"] == "new_member"
    assert texts[5] == "a new one after the backlog"
    (state,) = h.of(Kind.stream_state)
    assert state.data["event"] == "poll" and state.data["question"] == "Next topic?"
    assert [o["tally"] for o in state.data["options"]] == [3, 1]
    (viewers,) = h.of(Kind.viewers)
    assert viewers.data == {"count": 1234}, "concurrentViewers arrives as a string"
    assert all(e.platform == "youtube" for e in h.seen)
    # The backlog once, then always the page token: no item is read twice.
    assert fake.list_calls[0].token is None
    assert all(c.token is not None for c in fake.list_calls[1:])
    assert max(fake.served.values()) == 1
    assert fake.early_polls == 0


async def test_absent_viewer_count_is_unknown_not_zero() -> None:
    fake = FakeYouTube(polling_interval_ms=100, concurrent_viewers=None)
    fake.text("hi")
    async with running(fake, viewer_poll_s=0.3) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 1)
        await asyncio.sleep(0.4)
        await h.collect()
        assert h.of(Kind.viewers) == [], "no count is not a count of 0"
        fake.concurrent_viewers = 7  # the owner shows it again: picked up on the next read
        await h.until(lambda: len(h.of(Kind.viewers)) >= 1)
    assert h.of(Kind.viewers)[0].data == {"count": 7}


async def test_polls_no_earlier_than_polling_interval_millis() -> None:
    fake = FakeYouTube(polling_interval_ms=150)
    stop = asyncio.Event()
    async with running(fake) as h:
        chatter = asyncio.create_task(fake.chat_steadily(40, stop))
        await asyncio.sleep(1.3)
        stop.set()
        sent = await chatter
        await h.until(lambda: len(h.of(Kind.chat)) == len(sent))
    assert fake.early_polls == 0
    gaps = successful_gaps(fake)
    assert min(gaps) >= 0.15
    assert len(gaps) >= 6, "and not much slower either: the chat keeps up"
    assert [e.platform_message_id for e in h.of(Kind.chat)] == sent
    assert max(fake.served.values()) == 1


async def test_a_new_holder_resumes_from_the_saved_page_token() -> None:
    fake = FakeYouTube(polling_interval_ms=100)
    bus = MemoryBus()
    first = [fake.text(f"before {i}")["id"] for i in range(3)]
    async with running(fake, bus=bus) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 3)
        saved = await bus.load_cursor(f"youtube:{SOURCE}")
    assert saved is not None
    calls_before = len(fake.list_calls)
    later = [fake.text(f"after {i}")["id"] for i in range(2)]
    await asyncio.sleep(0.12)
    async with running(fake, bus=bus) as h2:
        await h2.until(lambda: len(h2.of(Kind.chat)) == 2)
    assert [e.platform_message_id for e in h.of(Kind.chat)] == first
    assert [e.platform_message_id for e in h2.of(Kind.chat)] == later
    assert fake.list_calls[calls_before].token is not None, "no backlog re-read on takeover"
    assert max(fake.served.values()) == 1


async def test_an_unknown_page_token_falls_back_to_the_backlog() -> None:
    fake = FakeYouTube(polling_interval_ms=100)
    bus = MemoryBus()
    await bus.save_cursor(f"youtube:{SOURCE}", "a-token-youtube-forgot")
    ids = [fake.text(f"m{i}")["id"] for i in range(3)]
    async with running(fake, bus=bus) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 3)
    assert (fake.list_calls[0].status, fake.list_calls[0].token) == (400, "a-token-youtube-forgot")
    assert fake.list_calls[1].token is None and fake.list_calls[1].status == 200
    assert [e.platform_message_id for e in h.of(Kind.chat)] == ids


async def test_malformed_items_are_dead_lettered_and_reading_goes_on() -> None:
    fake = FakeYouTube(polling_interval_ms=100)
    fake.push("not an object")  # type: ignore[arg-type]
    fake.push({"snippet": {"type": "textMessageEvent"}})
    fake.push(fake._item("someNewEventType", OWNER))
    broke = fake._item("superChatEvent", OWNER, superChatDetails={"currency": "USD"})
    fake.push(broke)
    no_author = fake._item("textMessageEvent", OWNER, displayMessage="x")
    del no_author["authorDetails"]
    fake.push(no_author)
    bad_time = fake._item("textMessageEvent", OWNER, displayMessage="x")
    bad_time["snippet"]["publishedAt"] = "yesterday"
    fake.push(bad_time)
    fake.text("still here")
    async with running(fake) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 1)
        assert h.connector.health.state is ConnectorState.connected
        assert h.connector.health.malformed == 6
    letters = await h.bus.dead_letters(EVENT)
    reasons = " | ".join(d.reason for d in letters)
    assert len(letters) == 6
    assert "unknown snippet.type 'someNewEventType'" in reasons
    assert "without amountMicros" in reasons and "authorDetails" in reasons
    assert all(d.source_id == SOURCE for d in letters)


async def test_rate_limited_polls_wait_and_go_on() -> None:
    fake = FakeYouTube(polling_interval_ms=100)
    fake.text("one")
    async with running(fake) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 1)
        fake.rate_limit_next = 3
        await h.until(lambda: fake.forced_rate_limits == 3)
        fake.text("two")
        await h.until(lambda: len(h.of(Kind.chat)) == 2)
        assert h.connector.health.state is ConnectorState.connected
    assert fake.early_polls == 0, "after a refusal it waits a full interval again"


# -- quota --

JUST_BEFORE_RESET = datetime(2026, 3, 1, 23, 58, 0, tzinfo=PACIFIC)  # 120 s before midnight PT


async def test_quota_slows_polling_before_running_out() -> None:
    clock = ScaledClock(60, start=JUST_BEFORE_RESET)
    fake = FakeYouTube(clock=clock, polling_interval_ms=1000, daily_quota=150)
    stop = asyncio.Event()
    async with running(
        fake, daily_quota=150, quota_reserve=50, viewer_poll_s=3600, max_results=2000
    ) as h:
        chatter = asyncio.create_task(fake.chat_steadily(2, stop))
        await h.until(lambda: h.connector.health.quota_note is not None)
        note = h.connector.health.quota_note
        await asyncio.sleep(1.6)  # ~96 s of platform time, just short of the reset
        stop.set()
        sent = await chatter
        await asyncio.sleep(0.3)
        await h.collect()
    assert note is not None and note.startswith("slowed to 1 poll / ")
    assert fake.quota_rejections == 0, "it never ran into YouTube's quotaExceeded"
    assert fake.early_polls == 0
    gaps = successful_gaps(fake)
    # (150 - 50 reserve - 2 videos.list) / 5 = 19 polls over 120 s: one every ~6 s, not 1 s.
    assert min(gaps) > 4.5
    assert fake.spent <= 100, "the moderation reserve was left alone"
    assert len(h.of(Kind.chat)) >= len(sent) - 15, "slower, but the chat still arrives"
    assert h.connector.health.quota_left == 150 - fake.spent


@pytest.mark.parametrize("who_counts", ["youtube", "ledger"])
async def test_exhausted_quota_sleeps_until_the_reset(who_counts: str) -> None:
    start = datetime(2026, 3, 1, 23, 59, 15, tzinfo=PACIFIC)  # 45 s before the reset
    clock = ScaledClock(60, start=start)
    if who_counts == "youtube":
        # Someone else shares the project: YouTube runs out before our own count does.
        fake = FakeYouTube(clock=clock, polling_interval_ms=1000, daily_quota=16)
        config: dict[str, Any] = {"daily_quota": 10_000}
    else:
        fake = FakeYouTube(clock=clock, polling_interval_ms=1000)
        # Our own count: after discovery (1) and the viewer read it plans (1), 4 units
        # above the reserve are not enough for one poll (5); the new day has 5.
        config = {"daily_quota": 56, "quota_reserve": 50, "viewer_poll_s": 1e9}
    fake.text("before")
    async with running(fake, **{"viewer_poll_s": 3600, **config}) as h:
        await h.until(lambda: h.connector.health.state is ConnectorState.paused)
        assert h.connector.health.quota_note == "quota exhausted until 08:00 UTC (midnight Pacific)"
        fake.text("during")
        await h.until(lambda: len(h.of(Kind.chat)) == 2, timeout=3)
        if who_counts == "youtube":
            assert h.connector.health.state is ConnectorState.connected
            assert not (h.connector.health.quota_note or "").startswith("quota exhausted")
    reset_at = 45.0
    if who_counts == "youtube":
        assert fake.quota_rejections == 1, "one refusal, then silence until the reset"
        refused = next(i for i, c in enumerate(fake.list_calls) if c.status == 403)
        assert all(c.at >= reset_at for c in fake.list_calls[refused + 1 :])
    else:
        assert fake.quota_rejections == 0, "our own count stopped before YouTube had to"
        assert all(c.at >= reset_at for c in fake.list_calls)
    polls_after = [c for c in fake.list_calls if c.at >= reset_at]
    assert polls_after and polls_after[0].status == 200
    assert [e.text for e in h.of(Kind.chat)] == ["before", "during"]


# -- auth --

SECRETS = {
    "access_token": "expired-access-token",
    "refresh_token": "refresh-secret-token",
    "client_id": "client-id-1",
    "client_secret": "client-secret-value",
}


async def test_an_expired_token_is_refreshed_and_reading_goes_on() -> None:
    fake = FakeYouTube(polling_interval_ms=100)
    fake.text("hi")
    async with running(fake, credentials=SECRETS) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 1)
        assert h.connector.health.state is ConnectorState.connected
    assert fake.token_refreshes == 1


async def test_refused_credentials_refresh_once_then_fail_without_leaking(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeYouTube(polling_interval_ms=100)
    fake.issue_valid_tokens = False  # the app was revoked: new tokens are refused too
    async with running(fake, credentials=SECRETS) as h:
        await h.until(lambda: h.connector.health.state is ConnectorState.failed)
        health = orjson.dumps(h.connector.health_dict()).decode()
        await asyncio.sleep(0.2)
    assert fake.token_refreshes == 1 and h.connector.refreshes == 1
    error = h.connector.health.last_error or ""
    assert error.startswith("authentication failed") and "401" in error
    logged = "\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records)
    for secret in (*SECRETS.values(), "refreshed-"):
        if secret == "client-id-1":
            continue  # a client id is not a secret
        assert secret not in logged
        assert secret not in health


async def test_without_a_refresh_token_a_401_fails_at_once() -> None:
    fake = FakeYouTube(polling_interval_ms=100)
    async with running(fake, credentials={"access_token": "wrong-token"}) as h:
        await h.until(lambda: h.connector.health.state is ConnectorState.failed)
    assert fake.token_refreshes == 0
    assert "authError" in (h.connector.health.last_error or "")


# -- moderation --


async def test_delete_timeout_and_ban_come_back_as_chat_events() -> None:
    fake = FakeYouTube(polling_interval_ms=100)
    spam = fake.text("buy followers", channel_id="UCspammer000000000000001")
    async with running(fake) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 1)
        deleted = await h.connector.perform(
            Action("a1", "delete", SOURCE, {"message_id": spam["id"]})
        )
        timed_out = await h.connector.perform(
            Action(
                "a2",
                "timeout",
                SOURCE,
                {
                    "message_id": spam["id"],
                    "author_id": spam["authorDetails"]["channelId"],
                    "duration_s": 60,
                },
            )
        )
        banned = await h.connector.perform(
            Action("a3", "ban", SOURCE, {"author_id": "UCspammer000000000000001"})
        )
        await h.until(lambda: len(h.of(Kind.stream_state)) == 3)
    assert [r.status for r in (deleted, timed_out, banned)] == ["done", "done", "done"]
    assert [b["snippet"]["type"] for b in fake.bans] == ["temporary", "permanent"]
    assert fake.bans[0]["snippet"]["banDurationSeconds"] == "60"
    events = [e.data for e in h.of(Kind.stream_state)]
    assert events[0] == {"event": "message_deleted", "message_id": spam["id"]}
    assert events[1] == {
        "event": "user_banned",
        "user_id": "UCspammer000000000000001",
        "user_name": "banned",
        "ban_type": "temporary",
        "duration_s": 60,
    }
    assert events[2]["ban_type"] == "permanent" and events[2]["duration_s"] is None


async def test_refused_actions_fail_with_youtubes_reason() -> None:
    fake = FakeYouTube(polling_interval_ms=100)
    mod = fake.text("I moderate", channel_id="UCmod00000000000000000001", moderator=True)
    async with running(fake, credentials={"access_token": "readonly-access-token"}) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 1)
        refused = await h.connector.perform(
            Action("a1", "delete", SOURCE, {"message_id": mod["id"]})
        )
        h.connector._access_token = "good-access-token"  # now a moderator's token
        not_allowed = await h.connector.perform(
            Action("a2", "ban", SOURCE, {"author_id": "UCmod00000000000000000001"})
        )
        missing = await h.connector.perform(
            Action("a3", "delete", SOURCE, {"message_id": "LCC.gone"})
        )
        unsupported = await h.connector.perform(Action("a4", "pin", SOURCE, {}))
    assert (refused.status, refused.reason) == ("failed", "YouTube refused: forbidden (403)")
    assert not_allowed.reason == "YouTube refused: liveChatBanInsertionNotAllowed (403)"
    assert missing.reason == "YouTube refused: liveChatMessageNotFound (404)"
    assert unsupported.status == "not_supported"
    assert fake.bans == []


# -- end of chat --


async def test_chat_end_is_told_once_and_polling_stops() -> None:
    fake = FakeYouTube(polling_interval_ms=100)
    fake.text("bye")
    async with running(fake) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 1)
        fake.end_chat()
        await h.until(lambda: h.connector.health.state is ConnectorState.stopped)
        calls = len(fake.list_calls)
        await asyncio.sleep(0.4)
        await h.collect()
        assert len(fake.list_calls) == calls, "no polling after the chat ended"
        assert h.connector.health.last_error == "live chat ended"
    (ended,) = h.of(Kind.stream_state)
    assert ended.data == {"event": "chat_ended"}
    assert all(c.reason != "liveChatEnded" for c in fake.list_calls)

    # A connector started after the broadcast ended learns it from videos.list alone.
    async with running(fake) as late:
        await late.until(lambda: late.connector.health.state is ConnectorState.stopped)
    assert len(fake.list_calls) == calls
    assert [e.data for e in late.of(Kind.stream_state)] == [{"event": "chat_ended"}]


def test_sources_advertise_youtube_capabilities() -> None:
    from app.connectors.registry import capabilities_for

    assert capabilities_for("youtube") == {
        "delete",
        "timeout",
        "ban",
        "viewer_counts",
        "send_message",
        "native_polls",
    }
    assert SYSTEM_CLOCK is not None
