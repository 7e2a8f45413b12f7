"""Sending chat and running native polls on YouTube, against the local YouTube fake."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from app.bus.memory import MemoryBus
from app.connectors.base import Action, ActionResult
from app.connectors.native_polls import POLL_END, POLL_START, mapping_key
from app.envelope import Envelope, Kind
from tests.connectors.test_youtube import SOURCE, Harness, running
from tests.fakes.youtube import OWNER, FakeYouTube

# A connector that only acts: no discovery, no reading, so the fake's count is its own.
ACT_ONLY: dict[str, Any] = {"start": False, "video_id": None, "live_chat_id": "chat-1"}
CHAT_TEXT = "Poll: Next topic? — vote with !vote 1..3 — 1) Rust 2) Go 3) Zig"


def start(poll_id: str = "poll-1", options: list[str] | None = None, **extra: Any) -> Action:
    params = {
        "poll_id": poll_id,
        "title": "Next topic?",
        "options": options if options is not None else ["Rust", "Go", "Zig"],
        "duration_s": None,
        "chat_text": CHAT_TEXT,
        **extra,
    }
    return Action(f"start-{poll_id}", POLL_START, SOURCE, params)


def end(poll_id: str = "poll-1") -> Action:
    return Action(f"end-{poll_id}", POLL_END, SOURCE, {"poll_id": poll_id})


def send(text: str) -> Action:
    return Action("send-1", "send_message", SOURCE, {"text": text})


def tallies(h: Harness) -> list[dict[str, Any]]:
    return [e.data for e in h.of(Kind.poll_tally)]


def counts_seen(h: Harness) -> list[tuple[list[int], bool]]:
    return [(d["counts"], d["final"]) for d in tallies(h)]


async def mapping(bus: MemoryBus) -> dict[str, str] | None:
    raw = await bus.load_cursor(mapping_key(SOURCE))
    return None if raw is None else orjson.loads(raw)


# -- sending --


async def test_a_sent_message_costs_20_units_and_reads_back_as_the_owners_chat() -> None:
    fake = FakeYouTube(polling_interval_ms=100)
    async with running(fake, **ACT_ONLY) as h:
        sent = await h.connector.perform(send("Welcome, everyone!"))
        too_long = await h.connector.perform(send("x" * 201))
    assert sent == ActionResult("done")
    assert too_long == ActionResult("failed", "YouTube refused: messageTextInvalid (400)")
    # liveChatMessages.insert is 20 units, refused or not.
    assert fake.spent == 40 and h.connector.ledger.spent == 40
    assert [m["snippet"]["textMessageDetails"]["messageText"] for m in fake.inserted] == [
        "Welcome, everyone!"
    ]

    async with running(fake) as reader:
        await reader.until(lambda: len(reader.of(Kind.chat)) == 1)
    (line,) = reader.of(Kind.chat)
    assert line.text == "Welcome, everyone!"
    assert line.platform_message_id == fake.inserted[0]["id"]
    assert line.author is not None and line.author.id == OWNER["channelId"]
    assert line.author.roles == ("owner",)


async def test_plain_sends_leave_the_reserve_to_moderation_and_polls() -> None:
    fake = FakeYouTube()
    # 520 units with 510 reserved: a 20-unit call fits only from the reserve.
    async with running(fake, daily_quota=520, quota_reserve=510, **ACT_ONLY) as h:
        sent = await h.connector.perform(send("hello"))
        started = await h.connector.perform(start())
    assert sent.status == "failed"
    assert sent.reason is not None and "kept for moderation" in sent.reason
    assert started == ActionResult("done")
    assert fake.spent == 20 and [m["snippet"]["type"] for m in fake.inserted] == ["pollEvent"]


# -- native polls --


@pytest.mark.parametrize("transport", ["poll", "stream"])
async def test_a_poll_runs_on_youtube_and_its_counts_come_back(transport: str) -> None:
    fake = FakeYouTube(polling_interval_ms=100)
    fake.text("first!")
    async with running(fake, transport=transport, viewer_poll_s=3600) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 1)
        assert await h.connector.perform(start()) == ActionResult("done")
        (poll,) = fake.inserted
        poll_id = poll["id"]
        assert await mapping(h.bus) == {poll_id: "poll-1"}
        # A stream sends a response when chat moves; each carries the running poll.
        fake.text("ooh a poll")
        await h.until(lambda: counts_seen(h) == [([0, 0, 0], False)])
        fake.vote(poll_id, 0, 3)
        fake.vote(poll_id, 2, 1)
        fake.text("voted")
        await h.until(lambda: len(tallies(h)) == 2)
        fake.vote(poll_id, 1, 2)
        fake.text("me too")
        await h.until(lambda: len(tallies(h)) == 3)
        assert await h.connector.perform(end()) == ActionResult("done")
        await h.until(lambda: len(tallies(h)) == 4)
        await asyncio.sleep(0.3)  # more pages: a count already told is not told again
        await h.collect()

    assert poll["snippet"]["type"] == "pollEvent"
    metadata = poll["snippet"]["pollDetails"]["metadata"]
    assert [o["optionText"] for o in metadata["options"]] == ["Rust", "Go", "Zig"]
    (shown,) = [e for e in h.of(Kind.stream_state) if e.data.get("event") == "poll"]
    assert shown.platform_message_id == poll_id
    assert [o["text"] for o in shown.data["options"]] == ["Rust", "Go", "Zig"]
    assert counts_seen(h) == [
        ([0, 0, 0], False),
        ([3, 0, 1], False),
        ([3, 2, 1], False),
        ([3, 2, 1], True),
    ]
    assert {(d["poll"], d["platform_poll"]) for d in tallies(h)} == {("poll-1", poll_id)}
    assert all(e.platform == "youtube" and e.source_id == SOURCE for e in h.of(Kind.poll_tally))
    (closed,) = fake.transitions
    assert closed["id"] == poll_id and fake.active_poll() is None
    assert not [m for m in fake.inserted if m["snippet"]["type"] == "textMessageEvent"], (
        "YouTube ran the poll: no chat voting text"
    )
    assert fake.quota_rejections == 0


async def test_more_than_four_options_post_the_chat_voting_text_instead() -> None:
    fake = FakeYouTube()
    async with running(fake, **ACT_ONLY) as h:
        rating = await h.connector.perform(start(options=["1", "2", "3", "4", "5"]))
    assert rating == ActionResult(
        "done", "native poll refused: YouTube polls take 2 to 4 options, not 5; chat voting instead"
    )
    assert fake.polls == {} and await mapping(h.bus) is None
    assert [m["snippet"]["displayMessage"] for m in fake.inserted] == [CHAT_TEXT]
    assert fake.spent == 20, "the poll YouTube would refuse is not sent: only the text costs"


async def test_youtubes_own_refusals_fall_back_to_chat_voting_with_its_reason() -> None:
    fake = FakeYouTube()
    studio = fake.open_poll("Started in YouTube Studio", ["yes", "no"])
    async with running(fake, **ACT_ONLY) as h:
        busy = await h.connector.perform(start("poll-2"))
        await h.connector.perform(end("poll-2"))  # nothing of ours to close
        fake.end_chat()  # closes the Studio poll with the chat
        ended = await h.connector.perform(start("poll-3"))
        sent = await h.connector.perform(send("anyone there?"))
    assert busy == ActionResult(
        "done", "native poll refused: preconditionCheckFailed (400); chat voting instead"
    )
    assert ended == ActionResult(
        "failed",
        "native poll refused: liveChatEnded (403); "
        "chat voting text refused too: liveChatEnded (403)",
    )
    assert sent == ActionResult("failed", "YouTube refused: liveChatEnded (403)")
    assert list(fake.polls) == [studio["id"]] and fake.transitions == []
    assert [m["snippet"]["type"] for m in fake.inserted] == ["textMessageEvent"]
    assert await mapping(h.bus) is None
    # Five inserts reached YouTube (two refused polls, three texts): 20 units each.
    assert fake.spent == h.connector.ledger.spent == 100


async def test_a_label_youtube_finds_too_long_is_never_shortened() -> None:
    fake = FakeYouTube()
    long_label = "an option far too long for any poll on any platform " * 4
    async with running(fake, **ACT_ONLY) as h:
        result = await h.connector.perform(start(options=["short", long_label]))
    assert result == ActionResult(
        "done", "native poll refused: invalidValue (400); chat voting instead"
    )
    assert fake.polls == {}, "no poll with a cut label either"
    assert fake.spent == 40


async def test_ending_a_poll_that_never_ran_natively_is_a_no_op() -> None:
    fake = FakeYouTube()
    async with running(fake, **ACT_ONLY) as h:
        result = await h.connector.perform(end("poll-never-started"))
    assert result == ActionResult("done", "no native poll to end")
    assert fake.spent == 0 and fake.transitions == []


async def test_polls_someone_else_started_are_shown_but_not_tallied() -> None:
    fake = FakeYouTube(polling_interval_ms=100)
    studio = fake.open_poll("Started in YouTube Studio", ["yes", "no"])
    fake.vote(studio["id"], 1, 4)
    fake.text("after the poll")
    async with running(fake) as h:
        await h.until(lambda: len(h.of(Kind.chat)) == 1)
        await asyncio.sleep(0.3)
        await h.collect()
    assert [e.data["event"] for e in h.of(Kind.stream_state)] == ["poll"]
    assert h.of(Kind.poll_tally) == []


async def test_ending_a_poll_already_closed_in_youtube_studio_is_done() -> None:
    fake = FakeYouTube()
    async with running(fake, **ACT_ONLY) as h:
        await h.connector.perform(start())
        fake.close_poll(next(iter(fake.polls)))
        result = await h.connector.perform(end())
    assert result == ActionResult("done", "the YouTube poll was already closed")
    assert fake.transitions == [] and fake.spent == 40, "the refused transition cost 20 too"


# -- takeover and redelivery --


async def test_a_poll_another_worker_started_is_tallied_and_ended() -> None:
    fake = FakeYouTube(polling_interval_ms=100)
    bus = MemoryBus()
    studio = fake.open_poll("Started in YouTube Studio", ["yes", "no"])
    async with running(fake, bus=bus) as reader:
        # The reader looks its polls up once it meets one (this one is not ours).
        await reader.until(lambda: len(reader.of(Kind.stream_state)) == 1)
        await asyncio.sleep(0.2)
        fake.close_poll(studio["id"])
        async with running(fake, bus=bus, **ACT_ONLY) as other:
            assert await other.connector.perform(start("poll-5")) == ActionResult("done")
        ours = fake.active_poll()
        assert ours is not None
        fake.vote(ours["id"], 0, 2)
        await reader.until(lambda: counts_seen(reader)[-1:] == [([2, 0, 0], False)])
        assert await reader.connector.perform(end("poll-5")) == ActionResult("done")
        await reader.until(lambda: counts_seen(reader)[-1:] == [([2, 0, 0], True)])
    assert {d["poll"] for d in tallies(reader)} == {"poll-5"}
    assert [p["id"] for p in fake.transitions] == [ours["id"]]


async def test_a_new_worker_maps_and_ends_a_poll_the_last_one_started() -> None:
    fake = FakeYouTube(polling_interval_ms=100)
    bus = MemoryBus()
    async with running(fake, bus=bus) as first:
        assert await first.connector.perform(start("poll-7")) == ActionResult("done")
        poll_id = next(iter(fake.polls))
        await first.until(lambda: len(first.of(Kind.poll_tally)) == 1)
    fake.vote(poll_id, 1, 5)
    async with running(fake, bus=bus) as second:
        await second.until(lambda: counts_seen(second) == [([0, 5, 0], False)])
        assert await second.connector.perform(end("poll-7")) == ActionResult("done")
        await second.until(lambda: len(second.of(Kind.poll_tally)) == 2)
    assert [(d["poll"], d["platform_poll"]) for d in tallies(second)] == [("poll-7", poll_id)] * 2
    assert counts_seen(second)[-1] == ([0, 5, 0], True)
    assert [p["id"] for p in fake.transitions] == [poll_id]


async def test_the_same_poll_report_read_twice_is_one_envelope() -> None:
    fake = FakeYouTube(polling_interval_ms=100)
    bus = MemoryBus()
    async with running(fake, bus=bus) as first:
        await first.connector.perform(start("poll-9", options=["A", "B"]))
        poll_id = next(iter(fake.polls))
        await first.until(lambda: len(first.of(Kind.poll_tally)) == 1)
        fake.vote(poll_id, 0, 2)
        fake.vote(poll_id, 1, 1)
        await first.until(lambda: len(first.of(Kind.poll_tally)) == 2)
        await asyncio.sleep(0.3)  # pages that carry the same counts again
        await first.collect()
    # The next worker finds a page token YouTube forgot: it reads the whole backlog again,
    # the pollEvent with it, and the running poll's unchanged counts.
    await bus.save_cursor(f"youtube:{SOURCE}", "a-token-youtube-forgot")
    async with running(fake, bus=bus) as second:
        await second.until(lambda: len(second.of(Kind.poll_tally)) == 2)
        await asyncio.sleep(0.2)
        await second.collect()

    def keys(h: Harness) -> list[tuple[str, str]]:
        return [e.dedupe_key for e in h.of(Kind.poll_tally)]

    assert counts_seen(first) == [([0, 0], False), ([2, 1], False)]
    assert len(set(keys(first))) == 2, "one envelope per report, however many pages carry it"
    assert keys(second) == keys(first), "read again, the same reports are the same envelopes"
    assert [e.row_id for e in second.of(Kind.poll_tally)] == [
        e.row_id for e in first.of(Kind.poll_tally)
    ]
    polls_shown: list[Envelope] = [
        e for e in first.seen + second.seen if e.data.get("event") == "poll"
    ]
    assert len({e.dedupe_key for e in polls_shown}) == 1 and len(polls_shown) == 2
