"""Native Twitch polls: the connector against the fake Twitch, which enforces Twitch's poll rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import orjson
import pytest

from app.bus.memory import MemoryBus
from app.connectors import native_polls
from app.connectors.base import Action, ActionResult
from app.connectors.clock import ScaledClock
from app.connectors.handoff import HandOff
from app.envelope import Envelope, Kind, make_envelope
from tests.connectors.started import ingest_until, started
from tests.connectors.test_twitch import (
    BROADCASTER,
    CLIENT_ID,
    EVENT,
    SOURCE,
    SPEED,
    TOKEN,
    connector,
)
from tests.fakes.twitch_eventsub import FakeTwitch

OUR_POLL = "poll-ours-1"
TITLE = "Which launch vehicle?"
OPTIONS = ["Rocket", "Balloon", "Cannon"]
CHAT_TEXT = "Poll: Which launch vehicle? — vote with !vote 1..3 — 1) Rocket 2) Balloon 3) Cannon"
MAPPING = native_polls.mapping_key(SOURCE)


@pytest.fixture
def clock() -> ScaledClock:
    return ScaledClock(SPEED)


@pytest.fixture
async def twitch(clock: ScaledClock) -> AsyncIterator[FakeTwitch]:
    fake = FakeTwitch(clock=clock)
    fake.add_token(TOKEN, BROADCASTER, CLIENT_ID)
    fake.add_broadcaster(BROADCASTER, "streamer", broadcaster_type="affiliate")
    async with fake.running():
        yield fake


def start(poll_id: str = OUR_POLL, **params: Any) -> Action:
    defaults: dict[str, Any] = {
        "poll_id": poll_id,
        "title": TITLE,
        "options": list(OPTIONS),
        "duration_s": None,
        "chat_text": CHAT_TEXT,
    }
    return Action(f"start-{poll_id}", native_polls.POLL_START, SOURCE, defaults | params)


def end(poll_id: str = OUR_POLL) -> Action:
    return Action(f"end-{poll_id}", native_polls.POLL_END, SOURCE, {"poll_id": poll_id})


def tallies(seen: Sequence[Envelope]) -> list[Envelope]:
    return [e for e in seen if e.kind is Kind.poll_tally]


def latest_counts(seen: Sequence[Envelope]) -> list[int] | None:
    found = tallies(seen)
    return found[-1].data["counts"] if found else None


async def mapping(bus: MemoryBus) -> dict[str, str] | None:
    raw = await bus.load_cursor(MAPPING)
    return orjson.loads(raw) if raw else None


async def test_native_poll_runs_on_twitch_and_its_counts_reach_the_bus(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    bus = MemoryBus()
    seen: list[Envelope] = []
    async with started(connector(bus, twitch, clock)) as conn:
        await twitch.wait_for_session()
        assert await conn.perform(start()) == ActionResult("done")
        poll = twitch.active_poll(BROADCASTER)
        assert poll is not None
        assert poll["title"] == TITLE and poll["duration"] == 1800  # ours has no duration
        assert [c["title"] for c in poll["choices"]] == OPTIONS
        assert await mapping(bus) == {poll["id"]: OUR_POLL}
        # Sent before POST /polls answered: held until the poll was mapped, then reported.
        await ingest_until(bus, EVENT, seen, lambda s: latest_counts(s) == [0, 0, 0])

        await twitch.vote(poll["id"], 2, votes=4)
        await twitch.vote(poll["id"], 0, votes=1, channel_points_votes=1)
        await ingest_until(bus, EVENT, seen, lambda s: latest_counts(s) == [2, 0, 4])

        assert await conn.perform(end()) == ActionResult("done")
        assert twitch.polls[poll["id"]]["status"] == "TERMINATED"
        await ingest_until(bus, EVENT, seen, lambda s: any(t.data["final"] for t in tallies(s)))

    reports = tallies(seen)
    assert all(t.source_id == SOURCE and t.platform == "twitch" for t in reports)
    assert [t.data["final"] for t in reports].count(True) == 1
    assert reports[-1].data == {
        "poll": OUR_POLL,
        "platform_poll": poll["id"],
        "counts": [2, 0, 4],
        "final": True,
    }
    assert len({t.platform_message_id for t in reports}) == len(reports)
    # The poll's events are still there as they were, next to the tallies.
    states = [e.data["event"] for e in seen if e.kind is Kind.stream_state]
    assert states[0] == "poll.begin" and states[-1] == "poll.end" and "poll.progress" in states
    assert twitch.sent == []  # no chat voting: Twitch ran it


def _not_affiliate(twitch: FakeTwitch) -> None:
    twitch.broadcasters[BROADCASTER]["broadcaster_type"] = ""


def _no_poll_scope(twitch: FakeTwitch) -> None:
    twitch.tokens[TOKEN].scopes.discard("channel:manage:polls")


def _as_is(twitch: FakeTwitch) -> None:
    return None


@pytest.mark.parametrize(
    ("setup", "params", "twitch_says"),
    [
        (_not_affiliate, {}, "must be a partner or affiliate"),
        (_no_poll_scope, {}, "401 The user access token is missing the channel:manage:polls"),
        (_as_is, {"options": [f"Option {n}" for n in range(1, 7)]}, "greater that 5"),
        (_as_is, {"options": ["Rocket"]}, "less than 2"),
        (_as_is, {"title": "x" * 61}, "The poll's title is too long."),
        (_as_is, {"options": ["Rocket", "A balloon filled with hot air"]}, "choice's title"),
        (_as_is, {"duration_s": 3600}, "duration is outside the allowed range"),
    ],
    ids=["not-affiliate", "no-scope", "six-options", "one-option", "title", "label", "duration"],
)
async def test_refused_poll_posts_chat_voting_instead(
    twitch: FakeTwitch,
    clock: ScaledClock,
    setup: Any,
    params: dict[str, Any],
    twitch_says: str,
) -> None:
    setup(twitch)
    bus = MemoryBus()
    conn = connector(bus, twitch, clock)
    result = await conn.perform(start(**params))
    await conn.close()
    assert result.status == "done"
    assert result.reason is not None
    assert result.reason.startswith("native poll refused: ")
    assert twitch_says in result.reason
    assert result.reason.endswith("; chat voting instead")
    assert twitch.sent == [CHAT_TEXT]
    assert twitch.polls == {}  # nothing shortened to fit: no poll at all
    assert await mapping(bus) is None


async def test_second_poll_while_one_runs_is_refused_and_goes_to_chat(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    bus = MemoryBus()
    conn = connector(bus, twitch, clock)
    assert await conn.perform(start("poll-a")) == ActionResult("done")
    result = await conn.perform(start("poll-b", chat_text="vote b in chat"))
    await conn.close()
    assert result.status == "done"
    assert "already has a poll that's running" in (result.reason or "")
    assert twitch.sent == ["vote b in chat"]
    running = twitch.active_poll(BROADCASTER)
    assert running is not None and len(twitch.polls) == 1
    assert await mapping(bus) == {running["id"]: "poll-a"}


async def test_refusal_and_a_dropped_chat_message_fail_with_both_reasons(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    _not_affiliate(twitch)
    twitch.automod_words.add("launch")
    conn = connector(MemoryBus(), twitch, clock)
    result = await conn.perform(start())
    await conn.close()
    assert result.status == "failed"
    assert "partner or affiliate" in (result.reason or "")
    assert "checked by mods" in (result.reason or "")
    assert twitch.sent == []


async def test_an_irc_source_runs_polls_in_chat(twitch: FakeTwitch, clock: ScaledClock) -> None:
    """Without EventSub no counts would come back from a Twitch poll."""
    conn = connector(MemoryBus(), twitch, clock, chat_transport="irc", login="bot")
    result = await conn.perform(start())
    await conn.close()
    assert result.status == "done" and "over IRC" in (result.reason or "")
    assert twitch.sent == [CHAT_TEXT] and twitch.polls == {}


async def test_poll_end_without_a_native_poll_is_a_no_op(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    conn = connector(MemoryBus(), twitch, clock)
    result = await conn.perform(end("never-started"))
    await conn.close()
    assert result == ActionResult("done", "no native poll to end")
    assert not any(method == "PATCH" for method, _path in twitch.requests)


async def test_poll_that_ran_out_reports_final_and_ending_it_later_is_done(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    bus = MemoryBus()
    seen: list[Envelope] = []
    async with started(connector(bus, twitch, clock)) as conn:
        await twitch.wait_for_session()
        assert await conn.perform(start(duration_s=15)) == ActionResult("done")
        poll = twitch.active_poll(BROADCASTER)
        assert poll is not None and poll["duration"] == 15
        await twitch.vote(poll["id"], 1, votes=2)
        await ingest_until(bus, EVENT, seen, lambda s: any(t.data["final"] for t in tallies(s)))
        assert twitch.polls[poll["id"]]["status"] == "COMPLETED"
        result = await conn.perform(end())
    assert [t.data["counts"] for t in tallies(seen) if t.data["final"]] == [[0, 2, 0]]
    assert result == ActionResult(
        "done", "Twitch: The poll must be active to terminate or archive it."
    )


async def test_a_taking_over_connector_maps_the_first_ones_poll(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    bus = MemoryBus()
    async with started(connector(bus, twitch, clock)) as first:
        await twitch.wait_for_session()
        assert await first.perform(start()) == ActionResult("done")
    poll = twitch.active_poll(BROADCASTER)
    assert poll is not None
    seen: list[Envelope] = []
    # A new instance on the same bus: what it knows of the poll is what the bus holds.
    async with started(connector(bus, twitch, clock)) as second:
        await twitch.wait_for_session()
        await twitch.vote(poll["id"], 1, votes=3)
        await ingest_until(bus, EVENT, seen, lambda s: latest_counts(s) == [0, 3, 0])
        assert await second.perform(end()) == ActionResult("done")
        await ingest_until(bus, EVENT, seen, lambda s: any(t.data["final"] for t in tallies(s)))
    assert all(t.data["poll"] == OUR_POLL for t in tallies(seen))
    assert twitch.polls[poll["id"]]["status"] == "TERMINATED"


async def test_a_poll_started_by_hand_on_twitch_gives_no_tally(
    twitch: FakeTwitch, clock: ScaledClock
) -> None:
    bus = MemoryBus()
    seen: list[Envelope] = []
    async with started(connector(bus, twitch, clock)) as conn:
        await twitch.wait_for_session()
        by_hand = await twitch.start_poll(BROADCASTER, "Snack?", ["Chips", "Fruit"], 60)
        await twitch.vote(by_hand["id"], 0, votes=5)
        await twitch.end_poll(by_hand["id"], "TERMINATED")
        # Ours afterwards: its tally arriving means the hand-made one's would have too.
        assert await conn.perform(start()) == ActionResult("done")
        ours = twitch.active_poll(BROADCASTER)
        assert ours is not None
        await twitch.vote(ours["id"], 0, votes=1)
        await ingest_until(bus, EVENT, seen, lambda s: latest_counts(s) == [1, 0, 0])
    states = [e.data for e in seen if e.kind is Kind.stream_state]
    assert any(s["event"] == "poll.end" and s["poll"]["id"] == by_hand["id"] for s in states)
    assert {t.data["platform_poll"] for t in tallies(seen)} == {ours["id"]}


def _tally(poll: str, counts: list[int], final: bool, seq: int) -> Envelope:
    return native_polls.tally_envelope(
        event_id=EVENT,
        source_id=SOURCE,
        platform="twitch",
        poll_id=f"ours-{poll}",
        platform_poll_id=poll,
        counts=counts,
        final=final,
        at=ScaledClock(1.0).now(),
        seq=str(seq),
    )


async def test_handoff_coalesces_running_tallies_and_never_drops_a_final_one() -> None:
    written: list[Envelope] = []

    async def write(batch: Sequence[Envelope]) -> None:
        written.extend(batch)

    handoff = HandOff(write, limit=2, batch=100)
    handoff.offer(_tally("a", [1, 0], False, 1))
    handoff.offer(_tally("a", [2, 0], False, 2))
    handoff.offer(_tally("b", [5, 5], False, 3))
    handoff.offer(_tally("a", [3, 1], True, 4))
    handoff.offer(_tally("b", [6, 5], False, 5))
    for n in range(5):  # past the limit: chat goes, the final tally stays
        handoff.offer(
            make_envelope(
                event_id=EVENT, source_id=SOURCE, platform="twitch", kind=Kind.chat,
                platform_message_id=f"c-{n}", platform_at=ScaledClock(1.0).now(), text="hi",
            )
        )  # fmt: skip
    runner = asyncio.create_task(handoff.run())
    try:
        assert await handoff.drained(2.0)
    finally:
        runner.cancel()
    got = [(t.data["platform_poll"], t.data["counts"], t.data["final"]) for t in tallies(written)]
    # a's running tallies gave way to its final one, which is not followed by an older one.
    assert got == [("a", [3, 1], True), ("b", [6, 5], False)]
    assert [e.platform_message_id for e in written if e.kind is Kind.chat] == ["c-4"]
    assert handoff.dropped == 4


async def test_the_fake_keeps_twitchs_poll_rules(twitch: FakeTwitch) -> None:
    """What the connector tests rely on: the fake answers as Helix documents."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Client-Id": CLIENT_ID}
    poll_body = {
        "broadcaster_id": BROADCASTER,
        "title": "Heads or Tails?",
        "choices": [{"title": "Heads"}, {"title": "Tails"}],
        "duration": 1800,
    }
    async with httpx.AsyncClient(base_url=f"{twitch.http_url}/helix", headers=headers) as http:

        async def post(**changes: Any) -> httpx.Response:
            return await http.post("/polls", json=poll_body | changes)

        for changes in ({"duration": 14}, {"duration": 1801}, {"choices": [{"title": "Heads"}]}):
            response = await post(**changes)
            assert response.status_code == 400, changes
            assert set(response.json()) == {"error", "status", "message"}
        assert (await post(broadcaster_id="999")).status_code == 401

        created = await post()
        assert created.status_code == 200
        poll = created.json()["data"][0]
        assert set(poll) == {
            "id", "broadcaster_id", "broadcaster_name", "broadcaster_login", "title",
            "choices", "bits_voting_enabled", "bits_per_vote", "channel_points_voting_enabled",
            "channel_points_per_vote", "status", "duration", "started_at", "ended_at",
        }  # fmt: skip
        assert poll["status"] == "ACTIVE" and poll["ended_at"] is None
        assert poll["broadcaster_login"] == "streamer"
        assert [set(c) for c in poll["choices"]] == [
            {"id", "title", "votes", "channel_points_votes", "bits_votes"}
        ] * 2
        assert (await post()).status_code == 400  # one running poll per channel

        async def patch(**body: Any) -> httpx.Response:
            return await http.patch("/polls", json={"broadcaster_id": BROADCASTER} | body)

        bad_status = await patch(id=poll["id"], status="COMPLETED")
        assert bad_status.status_code == 400
        assert bad_status.json()["message"] == "The value in the status field is not valid."
        assert (await patch(id="no-such-poll", status="TERMINATED")).status_code == 400
        archived = await patch(id=poll["id"], status="ARCHIVED")
        assert archived.status_code == 200
        assert archived.json()["data"][0]["status"] == "ARCHIVED"
        assert archived.json()["data"][0]["ended_at"]
        again = await patch(id=poll["id"], status="TERMINATED")
        assert again.status_code == 400
        assert again.json()["message"] == "The poll must be active to terminate or archive it."
        assert (await post()).status_code == 200  # a new one, now that none runs
