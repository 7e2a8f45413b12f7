"""The YouTube connector over liveChatMessages.streamList, against the fake's stand-in."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest

from app.bus.memory import MemoryBus
from app.connectors.base import ConnectorState
from app.connectors.clock import ScaledClock
from app.connectors.youtube import _StreamFrames
from app.envelope import Kind
from tests.connectors.test_youtube import EVENT, SECRETS, SOURCE, Harness, running
from tests.fakes.youtube import OWNER, FakeYouTube

STREAM = {"transport": "stream", "viewer_poll_s": 3600}


def fast_fake(**kwargs: object) -> FakeYouTube:
    # 20x: reconnect backoff (up to 1 s, then 2 s...) takes tens of milliseconds.
    return FakeYouTube(clock=ScaledClock(20), **kwargs)  # type: ignore[arg-type]


def chat_ids(h: Harness) -> list[str]:
    return [e.platform_message_id for e in h.of(Kind.chat)]


# -- framing --


def test_frames_cut_a_streamed_array_into_whole_responses_at_any_chunk_boundary() -> None:
    one = orjson.dumps({"items": [{"snippet": {"displayMessage": 'a "}" in {text} \\ '}}]})
    two = orjson.dumps({"nextPageToken": "t2", "items": [[1, {"x": "]"}]]})
    body = b"[" + one + b"\n," + two + b"\n]"
    for size in (1, 2, 7, len(body)):
        frames = _StreamFrames()
        out = []
        for i in range(0, len(body), size):
            out += frames.feed(body[i : i + size])
        assert out == [(True, one), (True, two)], size
        assert frames.pending == 0
    # One object per line reads the same; stray text is told apart, a cut is left pending.
    frames = _StreamFrames()
    assert frames.feed(one + b"\n" + b"oops\n" + two + b"\n" + two[:9]) == [
        (True, one),
        (False, b"oops"),
        (True, two),
    ]
    assert frames.pending == 9


# -- reading --


async def test_reads_recent_history_then_new_messages_as_they_arrive() -> None:
    fake = FakeYouTube()
    history = [fake.text("hello", name="Mia", moderator=True)["id"]]
    history.append(fake.super_chat("great show!")["id"])
    async with running(fake, **STREAM) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 2)
        assert h.connector.health.state is ConnectorState.connected
        later = []
        for i in range(3):
            later.append(fake.text(f"live {i}")["id"])
            await h.until(lambda n=i: len(h.of(Kind.chat)) == 3 + n, timeout=2)
        saved = await h.bus.load_cursor(f"youtube:{SOURCE}")
    chat = h.of(Kind.chat)
    assert chat_ids(h) == history + later
    assert chat[0].author is not None and chat[0].author.roles == ("moderator",)
    assert chat[1].data["super_chat"]["amount_micros"] == 5_000_000
    assert [e.data for e in h.of(Kind.viewers)] == [{"count": 1234}]
    # One connection carried everything; nothing was polled.
    assert [(c.token, c.status) for c in fake.stream_calls] == [(None, 200)]
    assert fake.stream_calls[0].responses == 4 and fake.list_calls == []
    assert max(fake.served.values()) == 1
    # The cursor is the token of the last response, i.e. everything so far.
    assert saved is not None and fake.page_tokens[saved] == len(fake.messages)


@pytest.mark.parametrize("mid_object", [True, False], ids=["cut-mid-object", "cut-between"])
async def test_a_dropped_stream_resumes_by_token_with_every_message_once(
    mid_object: bool,
) -> None:
    fake = fast_fake()
    fake.drop_stream(after=2, mid_object=mid_object)
    sent = [fake.text(f"history {i}")["id"] for i in range(3)]
    async with running(fake, **STREAM) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 3)
        sent.append(fake.text("second response")["id"])
        await h.until(lambda: len(h.of(Kind.chat)) == 4)
        # The third response is cut in half (or the connection closes before it).
        sent.append(fake.text("sent while the stream breaks")["id"])
        await h.until(lambda: len(fake.stream_calls) == 2 and fake.stream_calls[1].responses)
        sent.append(fake.text("after the reconnect")["id"])
        await h.until(lambda: len(h.of(Kind.chat)) == 6)
        assert h.connector.health.state is ConnectorState.connected
        assert h.connector.health.reconnects == 1
        saved = await h.bus.load_cursor(f"youtube:{SOURCE}")
    first, second = fake.stream_calls
    assert first.dropped and (first.cut_bytes > 0) is mid_object
    assert first.responses == 2
    assert second.token is not None and fake.page_tokens[second.token] == 4, (
        "resumed from the last whole response"
    )
    assert chat_ids(h) == sent, "every message exactly once, in order"
    assert h.connector.health.malformed == 0
    assert await h.bus.dead_letters(EVENT) == [], "a cut response is not bad input"
    assert saved is not None and fake.page_tokens[saved] == 6


async def test_steady_chat_through_repeated_drops_loses_and_doubles_nothing() -> None:
    fake = fast_fake()
    for after, mid in ((3, True), (2, False), (1, True), (0, True)):
        fake.drop_stream(after=after, mid_object=mid)
    stop = asyncio.Event()
    async with running(fake, **STREAM) as h:
        chatter = asyncio.create_task(fake.chat_steadily(3, stop))  # 60/s in real time
        await h.until(lambda: len(fake.stream_calls) == 5, timeout=8)
        await asyncio.sleep(0.1)
        stop.set()
        sent = await chatter
        await h.until(lambda: len(h.of(Kind.chat)) >= len(sent))
        await asyncio.sleep(0.05)
        await h.collect()
    assert [c.dropped for c in fake.stream_calls] == [True] * 4 + [False]
    assert all(c.status == 200 for c in fake.stream_calls)
    assert chat_ids(h) == sent
    assert h.connector.health.reconnects == 4
    assert await h.bus.dead_letters(EVENT) == []


async def test_well_framed_malformed_input_is_dead_lettered_but_a_cut_is_not() -> None:
    fake = fast_fake()
    fake.drop_stream(after=1, mid_object=True)
    good = [fake.text("before")["id"]]
    async with running(fake, **STREAM) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 1)
        # The next response carries a broken item and is cut in half on its way.
        fake.push({"snippet": {"type": "textMessageEvent"}})  # no id
        fake.push(fake._item("someNewEventType", OWNER))
        good.append(fake.text("in the cut response")["id"])
        await h.until(lambda: len(h.of(Kind.chat)) == 2)
        # Whole elements that are not responses, on the resumed stream.
        fake.inject_stream_element(b'{"nextPageToken": tru}')
        fake.inject_stream_element(b'{"kind": "youtube#liveChatMessageListResponse"}')
        good.append(fake.text("still reading")["id"])
        await h.until(lambda: len(h.of(Kind.chat)) == 3)
        assert h.connector.health.state is ConnectorState.connected
        assert h.connector.health.malformed == 4
    letters = await h.bus.dead_letters(EVENT)
    reasons = sorted(d.reason for d in letters)
    assert reasons == [
        "youtube: item without id",
        "youtube: liveChatMessages.streamList answer without items",
        "youtube: liveChatMessages.streamList response is not JSON",
        "youtube: unknown snippet.type 'someNewEventType'",
    ], "each malformed item once (from the resent response), the cut never"
    assert fake.stream_calls[0].cut_bytes > 0 and len(fake.stream_calls) == 2
    assert chat_ids(h) == good


async def test_an_unknown_token_reads_the_recent_history_again() -> None:
    fake = FakeYouTube()
    bus = MemoryBus()
    await bus.save_cursor(f"youtube:{SOURCE}", "a-token-youtube-forgot")
    ids = [fake.text(f"m{i}")["id"] for i in range(2)]
    async with running(fake, bus=bus, **STREAM) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 2)
    assert [(c.token, c.status) for c in fake.stream_calls] == [
        ("a-token-youtube-forgot", 400),
        (None, 200),
    ]
    assert chat_ids(h) == ids


# -- quota --


async def test_quota_is_spent_per_connection_not_per_message() -> None:
    fake = fast_fake()
    fake.drop_stream(after=3, mid_object=False)  # the history, then two responses
    fake.text("history")
    # 1 (videos.list) + 5 for the first connection leaves exactly the reserve: no second.
    config = {**STREAM, "daily_quota": 506, "quota_reserve": 500}
    async with running(fake, **config) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 1)
        for i in range(2):
            fake.text(f"m{i}")
            await h.until(lambda n=i: len(h.of(Kind.chat)) == n + 2)
            assert fake.spent == 6, "one call, however many responses"
        await h.until(lambda: h.connector.health.state is ConnectorState.paused)
        await asyncio.sleep(0.1)
        assert h.connector.health.quota_note is not None
        assert h.connector.health.quota_note.startswith("quota exhausted until")
        assert h.connector.health.quota_left == 500
    assert len(fake.stream_calls) == 1 and fake.stream_calls[0].dropped
    assert fake.spent == h.connector.ledger.spent == 6
    assert fake.quota_rejections == 0, "our own count stopped before YouTube had to"


async def test_each_reconnect_costs_one_call() -> None:
    fake = fast_fake()
    for _ in range(2):
        fake.drop_stream(after=1, mid_object=False)
    fake.text("one")
    async with running(fake, **STREAM) as h:
        await h.until(lambda: len(fake.stream_calls) == 3 and h.of(Kind.chat) != [])
        for i in range(5):
            fake.text(f"more {i}")
        await h.until(lambda: len(h.of(Kind.chat)) == 6)
    assert fake.spent == 1 + 3 * 5, "videos.list once, 5 units per connection"
    assert h.connector.ledger.spent == fake.spent
    assert h.connector.health.quota_left == h.connector.ledger.daily - fake.spent


# -- end of chat --


async def test_chat_end_over_the_stream_stops_cleanly() -> None:
    fake = FakeYouTube()
    fake.text("bye")
    async with running(fake, **STREAM) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 1)
        fake.end_chat()
        await h.until(lambda: h.connector.health.state is ConnectorState.stopped)
        await asyncio.sleep(0.2)
        await h.collect()
        assert h.connector.health.last_error == "live chat ended"
    assert [e.data for e in h.of(Kind.stream_state)] == [{"event": "chat_ended"}]
    assert len(fake.stream_calls) == 1 and not fake.stream_calls[0].dropped
    assert h.connector.health.reconnects == 0

    # A reader that comes back later, knowing only the chat, is told 403 liveChatEnded.
    async with running(fake, video_id=None, live_chat_id="chat-1", **STREAM) as late:
        await late.until(lambda: late.connector.health.state is ConnectorState.stopped)
    last = fake.stream_calls[-1]
    assert (last.status, last.reason) == (403, "liveChatEnded")
    assert [e.data for e in late.of(Kind.stream_state)] == [{"event": "chat_ended"}]


async def test_an_error_sent_as_the_last_stream_element_is_youtubes_refusal() -> None:
    fake = FakeYouTube()
    fake.text("hi")
    async with running(fake, **STREAM) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 1)
        # How a transcoded stream reports a failure after it has started.
        fake.inject_stream_element(
            b'{"error": {"code": 403, "message": "The live chat is no longer live.",'
            b' "errors": [{"domain": "youtube.liveChat", "reason": "liveChatEnded"}]}}'
        )
        await h.until(lambda: h.connector.health.state is ConnectorState.stopped)
    assert [e.data for e in h.of(Kind.stream_state)] == [{"event": "chat_ended"}]
    assert h.connector.health.malformed == 0 and len(fake.stream_calls) == 1


# -- configuration and credentials --


async def test_an_unknown_transport_fails_with_a_clear_message() -> None:
    fake = FakeYouTube()
    async with running(fake, transport="websocket") as h:
        await h.until(lambda: h.connector.health.state is ConnectorState.failed)
    assert h.connector.health.last_error == (
        "config 'transport' must be 'poll' or 'stream', not 'websocket'"
    )
    assert fake.stream_calls == [] and fake.list_calls == []


async def test_an_expired_token_is_refreshed_and_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeYouTube()
    fake.text("hi")
    # No video_id: the first call is the stream itself, refused with 401.
    config = {**STREAM, "video_id": None, "live_chat_id": "chat-1"}
    async with running(fake, credentials=SECRETS, **config) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 1)
        health = orjson.dumps(h.connector.health_dict()).decode()
    assert fake.token_refreshes == 1
    assert [c.status for c in fake.stream_calls] == [401, 200]
    logged = "\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records)
    for name, secret in SECRETS.items():
        if name == "client_id":
            continue  # a client id is not a secret
        assert secret not in logged and secret not in health
    assert "refreshed-" not in logged


def test_an_object_that_never_ends_breaks_the_stream_instead_of_filling_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.connectors import youtube
    from app.connectors.errors import ConnectorError

    monkeypatch.setattr(youtube, "MAX_STREAM_OBJECT", 1000)
    frames = _StreamFrames()
    assert frames.feed(b'[{"items":[]},') == [(True, b'{"items":[]}')]
    with pytest.raises(ConnectorError, match="without an end"):
        frames.feed(b'{"items":["' + b"x" * 2000)
