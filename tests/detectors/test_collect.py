"""collect(): one snapshot of an event from the bus and the database, on both stacks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from app.chat.models import ChatMessage
from app.cues.models import Cue, CueState
from app.detectors.signals import SourceSignals, collect, text_key
from app.questions.models import Question, QuestionState
from tests.conftest import Seeded, Stack

# Half-way through a minute: the previous minute's bucket counts half.
NOW = 1_900_000_050.0  # 1_900_000_020 starts a minute
MINUTE = int(NOW // 60)


def at(seconds_ago: float) -> datetime:
    return datetime.fromtimestamp(NOW - seconds_ago, UTC)


def message(seeded: Seeded, pmid: str, seconds_ago: float, source: int = 0) -> dict[str, Any]:
    src = seeded.sources[source]
    return {
        "id": f"{pmid:0>32}"[-32:],
        "event_id": seeded.event.id,
        "source_id": src.id,
        "platform": src.platform,
        "platform_message_id": pmid,
        "author_id": f"a-{pmid}",
        "author_name": "A",
        "text": f"question {pmid}?",
        "platform_at": at(seconds_ago),
        "received_at": at(seconds_ago),
    }


async def test_collect_reads_every_signal_of_an_event(stack: Stack, seeded: Seeded) -> None:
    event_id = seeded.event.id
    bus = stack.bus
    await bus.set_viewers(event_id, "twitch", 120)
    await bus.set_viewers(event_id, "youtube", 80)
    # This minute: 10 lines by 4 people, 4 distinct texts (6 repeats); the last minute:
    # 20 lines by 5 people, all different.
    texts = ["raid", "raid", "raid", "raid", "raid", "raid", "raid", "hi", "yo", "ok"]
    await bus.record_activity(event_id, MINUTE, 10, ["a", "b", "c", "d"], texts)
    await bus.record_activity(
        event_id, MINUTE - 1, 20, ["a", "b", "c", "d", "e"], [f"t{i}" for i in range(20)]
    )
    connected = {"state": "connected", "last_event_at": at(12).isoformat(), "lag_s": 1.5}
    await bus.put_health(event_id, seeded.sources[0].id, orjson.dumps(connected))
    await bus.put_health(event_id, seeded.sources[2].id, orjson.dumps(connected))

    async with stack.db.sessions() as session:
        paused = await session.get(type(seeded.sources[2]), seeded.sources[2].id)
        assert paused is not None
        paused.enabled = False
        qa = 3  # the Q&A source: its questions come as questions, not chat lines
        session.add_all(
            [
                Question(**message(seeded, "old", 400, source=qa)),
                Question(**message(seeded, "new1", 20, source=qa)),
                Question(**message(seeded, "new2", 50, source=qa)),
                # Asked in chat: the chat line counts it, the question must not again.
                Question(**message(seeded, "chat1", 30)),
                ChatMessage(**message(seeded, "chat1", 30)),
                # Not waiting: answered, or merged into another.
                Question(**message(seeded, "done", 900, qa), state=QuestionState.answered),
                Question(**message(seeded, "merged", 800, qa), merged_into_id="x"),
            ]
        )
        session.add_all(
            [
                Cue(
                    event_id=event_id,
                    position=1,
                    title="Keynote",
                    planned_duration_s=600,
                    state=CueState.live,
                    actual_start_at=at(700),
                ),
                Cue(event_id=event_id, position=2, title="Q&A", planned_duration_s=300),
            ]
        )
        await session.commit()

    signals = await collect(stack.db, bus, event_id, NOW)

    assert signals.event_id == event_id
    assert signals.now == NOW
    assert signals.viewers == {"twitch": 120, "youtube": 80}
    assert signals.viewers_total == 200
    assert signals.messages_last_min == 20  # 10 + 20 / 2
    assert signals.chatters_last_min == 6.5  # 4 + 5 / 2
    assert signals.duplicate_ratio == pytest.approx(6 / 20)
    assert signals.interactions_last_min == 22  # 20 chat lines + 2 questions from Q&A
    assert signals.questions_pending == 4
    assert signals.oldest_pending_s == pytest.approx(400)
    [overrun] = signals.overruns
    assert (overrun.title, overrun.planned_s, overrun.over_s) == ("Keynote", 600, 100)
    # The Q&A source has no connector, so nothing to judge.
    assert signals.sources == (
        SourceSignals(
            source_id=seeded.sources[0].id,
            platform="simulator",
            state="connected",
            since_last_event_s=pytest.approx(12),
            lag_s=1.5,
            name="twitch",
        ),
        SourceSignals(
            source_id=seeded.sources[1].id,
            platform="simulator",
            state="unknown",
            name="youtube",
        ),
        SourceSignals(
            source_id=seeded.sources[2].id,
            platform="simulator",
            state="paused",
            since_last_event_s=pytest.approx(12),
            lag_s=1.5,
            name="zoom",
        ),
    )


async def test_collect_on_a_quiet_event(stack: Stack, seeded: Seeded) -> None:
    signals = await collect(stack.db, stack.bus, seeded.event.id, NOW)
    assert signals.viewers_total is None
    assert signals.messages_last_min == 0
    assert signals.duplicate_ratio == 0
    assert signals.questions_pending == 0
    assert signals.oldest_pending_s is None
    assert signals.overruns == ()
    assert {s.state for s in signals.sources} == {"unknown"}


def test_text_keys_ignore_case_spacing_punctuation_and_disguises() -> None:
    same = [
        "Follow me at spam.example",
        "FOLLOW  ME at spam.example!!!",
        "f0llow me @t spam example",
    ]
    assert len({text_key(t) for t in same}) == 1
    assert text_key("follow me") != text_key("follow you")
    assert len(text_key("x" * 2000)) == 16
