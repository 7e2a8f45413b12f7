"""The simulator connector: scenario files, a deterministic timeline, playback, actions."""

from __future__ import annotations

import asyncio
import bisect
import math
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from app.bus.memory import MemoryBus
from app.connectors.base import Action, ActionResult
from app.connectors.scenario import SCENARIO_DIR as SCENARIOS
from app.connectors.scenario import Scenario, ScenarioError, load_scenario
from app.connectors.simulator import EventScript, Simulator, simulated_envelopes
from app.envelope import DEFAULT_MAX_TEXT, Envelope, Kind

EVENT = "ev-sim"


class FakeClock:
    """Monotonic time that moves only when the simulator sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class RecordingBus(MemoryBus):
    """A MemoryBus that notes the (fake) time of every add_ingest call."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.calls: list[tuple[float, list[bytes]]] = []

    async def add_ingest(self, event_id: str, payloads) -> list[str]:
        self.calls.append((self.clock(), list(payloads)))
        return await super().add_ingest(event_id, payloads)


@pytest.fixture(scope="module")
def smoke() -> Scenario:
    return load_scenario("smoke")


@pytest.fixture(scope="module")
def demo() -> Scenario:
    return load_scenario("demo")


def sources_for(scenario: Scenario) -> dict[str, str]:
    return {p: f"src-{p}" for p in scenario.platforms}


def script(scenario: Scenario, **kwargs) -> EventScript:
    return EventScript(scenario, sources_for(scenario), **kwargs)


def identity(fields: dict) -> tuple:
    """What must be byte-identical between two runs of the same seed."""
    return (
        fields["kind"],
        fields["platform"],
        fields["platform_message_id"],
        fields["author"],
        fields["text"],
        fields["data"],
    )


def chat_of(items, label: str | None = None) -> list[tuple[float, dict]]:
    return [
        (t, f)
        for t, f in items
        if f["kind"] == Kind.chat and (label is None or f["raw"]["simulated"] == label)
    ]


def simulator(bus, scenario: Scenario, clock: FakeClock, **kwargs) -> Simulator:
    return Simulator(
        bus=bus,
        event_id=EVENT,
        sources=sources_for(scenario),
        scenario=scenario,
        clock=clock,
        sleep=clock.sleep,
        **kwargs,
    )


async def drain_ingest(bus: MemoryBus) -> list[Envelope]:
    out: list[Envelope] = []
    while entries := await bus.read_ingest("test", [EVENT], count=1000, block_ms=0):
        out += [Envelope.from_json(e.payload) for e in entries]
    return out


# -- scenario files --


@pytest.mark.parametrize("name", ["demo", "smoke"])
def test_builtin_scenarios_load(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.viewer_segments()[-1].end <= scenario.duration_s


def _break_spam_platform(raw: dict) -> None:
    raw["spam_bursts"][0]["platform"] = "kick"


def _break_question(raw: dict) -> None:
    raw["chat"]["questions"][0] = "Will the slides be shared"


def _break_tick(raw: dict) -> None:
    raw["viewer_tick_s"] = -5


def _break_shares(raw: dict) -> None:
    raw["platforms"]["twitch"]["share"] = 0.9


def _break_ratio(raw: dict) -> None:
    raw["chat"]["question_ratio"] = 1.5


def _break_viewer_phase(raw: dict) -> None:
    raw["viewers"][1]["for_s"] = "long"


def _break_drop_window(raw: dict) -> None:
    raw["stream_drops"][0]["at_s"] = raw["duration_s"]


@pytest.mark.parametrize(
    ("breaks", "field"),
    [
        (_break_spam_platform, "spam_bursts[0].platform"),
        (_break_question, "questions[0]"),
        (_break_tick, "viewer_tick_s"),
        (_break_shares, "platforms"),
        (_break_ratio, "chat.question_ratio"),
        (_break_viewer_phase, "viewers[1].plateau.for_s"),
        (_break_drop_window, "stream_drops[0]"),
    ],
)
def test_load_scenario_names_the_bad_field(tmp_path: Path, breaks, field: str) -> None:
    raw = yaml.safe_load((SCENARIOS / "smoke.yaml").read_text())
    breaks(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    assert field in str(raised.value)
    assert str(path) in str(raised.value)


def test_load_scenario_rejects_unknown_keys_and_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("seed: 1\nduration: 60\n")
    with pytest.raises(ScenarioError, match="duration"):
        load_scenario(path)
    path.write_text("seed: [1\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(path)


def test_sources_must_match_the_scenario_platforms(smoke: Scenario) -> None:
    with pytest.raises(ValueError, match="zoom"):
        EventScript(smoke, {"twitch": "a", "youtube": "b"})


# -- the timeline --


def test_same_seed_gives_the_same_timeline(smoke: Scenario) -> None:
    first = [(t, identity(f)) for t, f in script(smoke).timeline()]
    second = [(t, identity(f)) for t, f in script(smoke).timeline()]
    assert first == second
    other = [(t, identity(f)) for t, f in script(smoke, seed=smoke.seed + 1).timeline()]
    assert [i for _, i in other] != [i for _, i in first]


def test_timeline_is_ordered_and_ids_are_unique(demo: Scenario) -> None:
    items = list(script(demo).timeline())
    times = [t for t, _ in items]
    assert times == sorted(times)
    assert times[0] >= 0 and times[-1] < demo.duration_s
    ids = [f["platform_message_id"] for _, f in items]
    assert len(set(ids)) == len(ids)
    assert {f["kind"] for _, f in items} <= {
        Kind.chat,
        Kind.viewers,
        Kind.stream_state,
        Kind.presence,
        Kind.vote,
    }
    # every envelope goes to its own simulated platform's source
    assert all(f["source_id"] == f"src-{f['platform']}" for _, f in items)


def test_question_share_matches_the_scenario(demo: Scenario) -> None:
    chat = [f for _, f in chat_of(script(demo).timeline()) if f["raw"]["simulated"] != "spam"]
    questions = [f for f in chat if f["text"].rstrip().endswith("?")]
    p, n = demo.chat.question_ratio, len(chat)
    # four standard deviations of a binomial share: fails only when the ratio is wrong
    assert abs(len(questions) / n - p) <= 4 * math.sqrt(p * (1 - p) / n)
    # URLs carrying "?" are chat, not questions
    assert any("?" in f["text"] and not f["text"].endswith("?") for f in chat)


def test_some_questions_are_re_asked_near_verbatim_by_others(demo: Scenario) -> None:
    items = list(script(demo).timeline())
    by_id = {f["platform_message_id"]: f for _, f in items}
    duplicates = [f for _, f in chat_of(items, "duplicate_question")]
    questions = chat_of(items, "question")
    assert duplicates
    expected = demo.chat.duplicate_question_ratio
    share = len(duplicates) / (len(duplicates) + len(questions))
    n = len(duplicates) + len(questions)
    assert abs(share - expected) <= 4 * math.sqrt(expected * (1 - expected) / n)
    for dup in duplicates:
        original = by_id[dup["raw"]["duplicate_of"]]
        assert original["raw"]["simulated"] == "question"
        assert dup["author"].id != original["author"].id
        assert dup["text"].endswith("?")
        # near-verbatim: the original's words survive, give or take case and a prefix
        assert original["text"].lower().rstrip("?") in dup["text"].lower()

    no_dups = demo.model_copy(
        update={"chat": demo.chat.model_copy(update={"duplicate_question_ratio": 0.0})}
    )
    assert not chat_of(script(no_dups).timeline(), "duplicate_question")


def test_upvotes_only_where_the_platform_has_them_and_on_earlier_questions(
    demo: Scenario,
) -> None:
    items = list(script(demo).timeline())
    seen: dict[str, dict] = {}
    votes = []
    for _, f in items:
        if f["kind"] is Kind.vote:
            votes.append(f)
            question = seen.get(f["data"]["question"])
            assert question is not None, "an upvote must follow its question"
            assert question["platform"] == f["platform"]
            assert question["raw"]["simulated"] in ("question", "duplicate_question")
        seen[f["platform_message_id"]] = f
    with_upvotes = {p for p, mix in demo.platforms.items() if mix.upvotes}
    assert votes and {f["platform"] for f in votes} == with_upvotes
    assert all(f["author"] is not None for f in votes)


def test_spam_burst_raises_the_chat_rate_in_its_window(demo: Scenario) -> None:
    burst = demo.spam_bursts[0]
    chat = [(t, f) for t, f in chat_of(script(demo).timeline()) if f["platform"] == burst.platform]

    def count(start: float) -> int:
        return sum(start <= t < start + burst.for_s for t, _ in chat)

    extra = count(burst.at_s) - count(burst.at_s - burst.for_s)
    assert extra > 0.5 * burst.rate * burst.for_s
    spam = [(t, f) for t, f in chat if f["raw"]["simulated"] == "spam"]
    assert all(burst.at_s <= t < burst.at_s + burst.for_s for t, _ in spam)
    assert {f["author"].name for _, f in spam} <= set(burst.accounts)
    assert all(any(f["text"].startswith(x) for x in burst.texts) for _, f in spam)


def test_stream_drop_lowers_viewers_and_emits_down_then_up(demo: Scenario) -> None:
    drop = demo.stream_drops[0]
    items = list(script(demo).timeline())
    end = drop.at_s + drop.for_s
    assert drop.platforms
    for platform in drop.platforms:
        states = [
            (t, f["data"]["state"])
            for t, f in items
            if f["kind"] == Kind.stream_state and f["platform"] == platform
        ]
        assert (drop.at_s, "down") in states and (end, "up") in states
        assert states.index((drop.at_s, "down")) < states.index((end, "up"))

        def viewers(start: float, stop: float, platform: str = platform) -> list[int]:
            return [
                f["data"]["count"]
                for t, f in items
                if f["kind"] == Kind.viewers and f["platform"] == platform and start <= t < stop
            ]

        before, during = viewers(drop.at_s - 60, drop.at_s), viewers(drop.at_s, end)
        assert during and max(during) < 0.5 * min(before)

        def chat(start: float, stop: float, platform: str = platform) -> int:
            return sum(f["platform"] == platform and start <= t < stop for t, f in chat_of(items))

        assert chat(drop.at_s, end) < 0.25 * chat(drop.at_s - drop.for_s, drop.at_s)
    # a platform the drop leaves alone stays up
    spared = set(demo.platforms) - set(drop.platforms)
    assert spared
    assert not [
        f
        for _, f in items
        if f["kind"] == Kind.stream_state and f["platform"] in spared
        if f["data"]["state"] == "down"
    ]


def test_presence_only_on_configured_platforms(smoke: Scenario) -> None:
    assert smoke.presence
    presence = [f for _, f in script(smoke).timeline() if f["kind"] == Kind.presence]
    assert presence
    assert {f["platform"] for f in presence} <= set(smoke.presence.platforms)
    assert {f["data"]["action"] for f in presence} <= {"join", "leave"}
    assert all(f["author"] is not None for f in presence)


@pytest.mark.parametrize("rate_scale", [1.0, 5.0])
def test_people_chat_at_a_human_pace(demo: Scenario, rate_scale: float) -> None:
    """Nobody types a line every few seconds: a person writes at most once per min_gap_s,
    and more chat (rate_scale, as the console demo plays it) comes from more people. At
    the demo's 3x pace, a minute of the scenario is 20 s of the demo: under the demo's
    flood rule (6 lines in 20 s), as a real audience would be."""
    said: dict[tuple[str, str], list[float]] = {}
    lines = script(demo, rate_scale=rate_scale, crowd=rate_scale).timeline()
    for t, f in chat_of(lines):
        if f["raw"]["simulated"] != "spam":
            said.setdefault((f["platform"], f["author"].id), []).append(t)
    busiest = max(
        bisect.bisect_left(times, start + 60) - i
        for times in said.values()
        for i, start in enumerate(times)
    )
    assert busiest <= 60 // demo.chat.min_gap_s + 1
    assert len(said) > 0.8 * demo.chat.users.count * rate_scale


def test_presence_adds_up_to_the_audience(demo: Scenario) -> None:
    """Joins take someone not watching and leaves someone who is, so the present count
    follows the viewer curve; the audience outgrows the chatters (most viewers never write)."""
    assert demo.presence
    platform = demo.presence.platforms[0]
    lap = script(demo)
    watching: set[str] = set()
    seen: set[str] = set()
    chatters: set[str] = set()
    biggest = 0
    last_tick: float | None = None
    for t, f in lap.timeline():
        if f["platform"] == platform and f["kind"] == Kind.chat:
            chatters.add(f["author"].id)
        if f["platform"] != platform or f["kind"] != Kind.presence:
            continue
        who = f["author"].id
        if f["data"]["action"] == "join":
            assert who not in watching, f"{who} joined twice at {t:g} s"
            watching.add(who)
        else:
            assert who in watching, f"{who} left at {t:g} s without having joined"
            watching.remove(who)
        seen.add(who)
        biggest = max(biggest, len(watching))
        last_tick = t
    assert last_tick is not None
    expected = lap.curve.at(last_tick)[0] * demo.platforms[platform].share
    assert abs(len(watching) - expected) <= demo.presence.max_per_tick + 1
    peak = lap.curve.peak * demo.platforms[platform].share
    assert biggest >= 0.9 * peak
    assert len(seen) > 2 * len(chatters)


def test_long_messages_are_truncated_and_flagged(smoke: Scenario) -> None:
    long_group = smoke.chat.lines["long"]
    assert long_group.repeat_to and long_group.repeat_to > DEFAULT_MAX_TEXT
    envelopes = list(simulated_envelopes(EVENT, sources_for(smoke), None, scenario=smoke))
    long = [e for e in envelopes if e.text and e.text.startswith(tuple(long_group.texts))]
    assert long
    for envelope in long:
        assert envelope.truncated
        assert len(envelope.text or "") == DEFAULT_MAX_TEXT
        assert (envelope.original_length or 0) >= long_group.repeat_to
    assert not [e for e in envelopes if e.truncated and e not in long]

    # the connector's own limit applies too
    shorter = simulated_envelopes(EVENT, sources_for(smoke), None, scenario=smoke, max_text=100)
    assert max(len(e.text or "") for e in shorter) == 100


def test_hostile_markup_stays_verbatim_text(demo: Scenario) -> None:
    hostile = set(demo.chat.lines["hostile"].texts)
    found = [
        e
        for e in simulated_envelopes(EVENT, sources_for(demo), None, scenario=demo)
        if e.text in hostile
    ]
    texts = {e.text for e in found}
    assert "<script>alert(1)</script>" in texts and "<img src=x onerror=alert(1)>" in texts
    # and the bus payload carries it unchanged
    assert all(Envelope.from_json(e.to_json()).text == e.text for e in found)


def test_envelopes_helper_spaces_by_rate_and_keeps_ids_unique_across_laps(
    smoke: Scenario,
) -> None:
    one_lap = sum(1 for _ in script(smoke).timeline())
    count = one_lap * 2 + 10
    envelopes = list(
        simulated_envelopes(EVENT, sources_for(smoke), count, scenario=smoke, rate=500)
    )
    assert len(envelopes) == count
    assert len({e.dedupe_key for e in envelopes}) == count
    span = (envelopes[-1].platform_at - envelopes[0].platform_at).total_seconds()
    assert span == pytest.approx((count - 1) / 500, rel=1e-3)


# -- playback against the bus --


async def test_playback_reaches_the_bus_in_order_and_on_time(smoke: Scenario) -> None:
    clock = FakeClock()
    bus = RecordingBus(clock)
    speed = 100
    sim = simulator(bus, smoke, clock, speed=speed)
    due = {f["platform_message_id"]: t for t, f in sim.timeline()}

    await sim.produce()

    received = await drain_ingest(bus)
    assert [e.platform_message_id for e in received] == list(due)
    assert all(e.event_id == EVENT and e.platform != "simulator" for e in received)
    # batched: far fewer emit calls than envelopes
    assert len(bus.calls) < len(received) / 3
    for at, payloads in bus.calls:
        for payload in payloads:
            scenario_t = due[Envelope.from_json(payload).platform_message_id]
            assert at + 1e-9 >= scenario_t / speed  # never early
            assert at - scenario_t / speed < 0.1  # never far behind
    assert clock.now == pytest.approx(smoke.duration_s / speed)


async def test_playback_is_the_same_at_any_speed(smoke: Scenario) -> None:
    runs = []
    for speed in (5, 1000):
        clock = FakeClock()
        bus = MemoryBus()
        await simulator(bus, smoke, clock, speed=speed, seed=3).produce()
        runs.append(
            [
                (e.kind, e.platform, e.platform_message_id, e.author, e.text, e.data)
                for e in await drain_ingest(bus)
            ]
        )
    assert runs[0] == runs[1]
    assert runs[0]


async def test_playback_truncates_to_the_connector_limit(smoke: Scenario) -> None:
    clock = FakeClock()
    bus = MemoryBus()
    await simulator(bus, smoke, clock, speed=1000, max_text=100).produce()
    received = await drain_ingest(bus)
    truncated = [e for e in received if e.truncated]
    assert truncated and all(len(e.text or "") == 100 for e in truncated)
    assert all((e.original_length or 0) > 100 for e in truncated)
    hostile = set(smoke.chat.lines["hostile"].texts)
    assert hostile & {e.text for e in received}  # verbatim through the bus


async def test_real_clock_playback_at_high_speed(smoke: Scenario) -> None:
    bus = MemoryBus()
    speed = 600
    sim = Simulator(
        bus=bus, event_id=EVENT, sources=sources_for(smoke), scenario=smoke, speed=speed
    )
    started = time.monotonic()
    await asyncio.wait_for(sim.produce(), timeout=10)
    assert time.monotonic() - started >= smoke.duration_s / speed * 0.95
    assert len(await drain_ingest(bus)) == sum(1 for _ in sim.timeline())


class _Stop(Exception):
    pass


async def test_loop_restarts_with_fresh_ids(smoke: Scenario) -> None:
    clock = FakeClock()
    bus = MemoryBus()
    speed = 1000
    sim = simulator(bus, smoke, clock, speed=speed, loop=True)
    one_lap = sum(1 for _ in sim.timeline())

    async def sleep(seconds: float) -> None:
        await clock.sleep(seconds)
        if clock.now * speed > 1.5 * smoke.duration_s:
            raise _Stop

    sim._sleep = sleep
    with pytest.raises(_Stop):
        await sim.produce()
    received = await drain_ingest(bus)
    assert len(received) > one_lap
    assert len({e.platform_message_id for e in received}) == len(received)


# -- actions --


async def test_delete_known_and_unknown_messages(smoke: Scenario) -> None:
    clock = FakeClock()
    bus = MemoryBus()
    sim = simulator(bus, smoke, clock, speed=1000)
    await sim.produce()
    chat = next(e for e in await drain_ingest(bus) if e.kind == Kind.chat)
    delete = Action("a1", "delete", chat.source_id, {"message_id": chat.platform_message_id})
    assert (await sim.perform(delete)).status == "done"
    assert (await sim.perform(delete)).status == "done"  # redelivered command
    unknown = Action("a2", "delete", chat.source_id, {"message_id": "never-sent"})
    assert await sim.perform(unknown) == ActionResult("failed", "unknown message")
    other_source = next(s for s in sim.source_ids() if s != chat.source_id)
    wrong = Action("a3", "delete", other_source, {"message_id": chat.platform_message_id})
    assert (await sim.perform(wrong)).reason == "unknown message"
    assert (await sim.perform(Action("a4", "delete", chat.source_id, {}))).status == "failed"


async def test_unsupported_and_malformed_actions(smoke: Scenario) -> None:
    bus = MemoryBus()
    sim = simulator(bus, smoke, FakeClock())
    result = await sim.perform(Action("a1", "pin_message", "src-twitch", {"text": "hi"}))
    assert result.status == "not_supported"
    assert (await sim.perform(Action("a0", "send_message", "src-twitch", {}))).status == "failed"
    sent = await sim.perform(Action("a5", "send_message", "src-twitch", {"text": "Welcome!"}))
    assert sent.status == "done"
    [line] = [
        Envelope.from_json(e.payload) for e in await bus.read_ingest("t", [sim.event_id], 10, 0)
    ]
    assert (line.text, line.author and line.author.name, line.platform) == (
        "Welcome!",
        "Host",
        "twitch",
    ), "a message the host sent shows in that platform's chat"
    bad = Action("a2", "timeout", "src-twitch", {"author_id": "1", "duration_s": "soon"})
    assert (await sim.perform(bad)).status == "failed"
    assert (await sim.perform(Action("a3", "ban", "src-twitch", {}))).status == "failed"


@pytest.mark.parametrize("action", ["timeout", "ban"])
async def test_timeout_and_ban_mute_the_author_for_the_rest_of_the_run(
    smoke: Scenario, action: str
) -> None:
    clock = FakeClock()
    bus = MemoryBus()
    speed = 10
    sim = simulator(bus, smoke, clock, speed=speed)
    chat = chat_of(sim.timeline())
    # the busiest chatter who writes both before and after halfway, muted halfway through
    mute_at = smoke.duration_s / 2
    author = next(
        a
        for a, _ in Counter(f["author"] for _, f in chat).most_common()
        if any(t < mute_at - 1 for t, f in chat if f["author"] == a)
        and any(t > mute_at + 1 for t, f in chat if f["author"] == a)
    )
    params = (
        {"author_id": author.id, "duration_s": 600}
        if action == "timeout"
        else {"author_id": author.id}
    )
    source = sim.sources[next(f["platform"] for _, f in chat if f["author"] == author)]
    results = []

    async def sleep(seconds: float) -> None:
        await clock.sleep(seconds)
        if not results and clock.now * speed >= mute_at:
            results.append(await sim.perform(Action("m1", action, source, params)))

    sim._sleep = sleep
    await sim.produce()

    assert results and results[0].status == "done"
    due = {f["platform_message_id"]: t for t, f in chat}
    received = await drain_ingest(bus)
    theirs = [
        due[e.platform_message_id] for e in received if e.author == author and e.kind == Kind.chat
    ]
    planned = [t for t, f in chat if f["author"] == author]
    assert any(t < mute_at for t in planned) and any(t > mute_at + 1 for t in planned)
    assert theirs and max(theirs) < mute_at + 1
    assert [t for t in planned if t < mute_at - 1] == [t for t in theirs if t < mute_at - 1]


async def test_run_serves_commands_on_every_source(smoke: Scenario) -> None:
    clock = FakeClock()
    bus = MemoryBus()
    sim = simulator(bus, smoke, clock, speed=1000)
    assert sorted(sim.source_ids()) == sorted(sources_for(smoke).values())
    task = asyncio.create_task(sim.run())
    for source in sim.source_ids():
        action = Action(f"act-{source}", "ban", source, {"author_id": "someone"})
        await bus.add_command(EVENT, source, action.to_json())
    results: list[Envelope] = []
    deadline = time.monotonic() + 5
    while len(results) < len(sim.source_ids()) and time.monotonic() < deadline:
        results += [e for e in await drain_ingest(bus) if e.kind == Kind.moderation_result]
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert sorted(e.source_id for e in results) == sorted(sim.source_ids())
    assert {e.data["status"] for e in results} == {"done"}
