"""The pipeline records each minute's distinct texts: repeated lines raise the duplicate ratio."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.detectors.signals import collect
from app.envelope import Author, Kind, make_envelope
from app.pipeline.worker import PipelineWorker
from tests.conftest import Seeded, Stack
from tests.pipeline.harness import drain

# Two minutes ten minutes apart; each is judged half-way through, the minute before it empty.
FIRST = 1_900_000_050.0  # 1_900_000_020 starts a minute
SECOND = FIRST + 600


def line(seeded: Seeded, pmid: str, text: str, ingest_ts: float, author: str) -> bytes:
    at = datetime.fromtimestamp(ingest_ts, UTC)
    return make_envelope(
        event_id=seeded.event.id,
        source_id=seeded.sources[0].id,
        platform="twitch",
        kind=Kind.chat,
        platform_message_id=pmid,
        platform_at=at,
        ingest_at=at,
        author=Author(id=author, name=author),
        text=text,
    ).to_json()


async def test_repeated_lines_raise_the_duplicate_ratio(stack: Stack, seeded: Seeded) -> None:
    event_id = seeded.event.id
    worker = PipelineWorker(stack.bus, stack.db, consumer="w1")
    varied = ["hello all", "great talk", "where are the slides?", "sound is fine", "hi", "wow"]
    raid = [
        "Follow me at spam.example",
        "FOLLOW ME at spam.example!!!",
        "follow   me at spam.example",
        "f0llow me at spam.example",
        "hello all",
        "great talk",
    ]
    await stack.bus.add_ingest(
        event_id,
        [line(seeded, f"v{i}", t, FIRST, f"u{i}") for i, t in enumerate(varied)]
        + [line(seeded, f"r{i}", t, SECOND, f"r{i}") for i, t in enumerate(raid)],
    )
    await drain(stack, worker, event_id)

    assert await stack.bus.read_activity(event_id, int(FIRST // 60)) == (6, 6)
    assert await stack.bus.read_distinct_texts(event_id, int(FIRST // 60)) == 6
    assert await stack.bus.read_distinct_texts(event_id, int(SECOND // 60)) == 3

    calm = await collect(stack.db, stack.bus, event_id, FIRST)
    raided = await collect(stack.db, stack.bus, event_id, SECOND)
    assert (calm.messages_last_min, calm.duplicate_ratio) == (6, 0)
    # Four copies of one line: three of the six repeat an earlier one.
    assert raided.messages_last_min == 6
    assert raided.duplicate_ratio == pytest.approx(0.5)
