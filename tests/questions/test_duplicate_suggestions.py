"""The pipeline offers re-asked questions as merge suggestions, across sources."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from app.envelope import Author, Kind, make_envelope
from app.pipeline.worker import PipelineWorker
from app.questions.models import Question
from tests.conftest import Seeded, Stack


def ask(seeded: Seeded, source: int, text: str) -> bytes:
    return make_envelope(
        event_id=seeded.event.id,
        source_id=seeded.sources[source].id,
        platform=seeded.sources[source].config.get("plays", "qa"),
        kind=Kind.chat,
        platform_message_id=uuid.uuid4().hex,
        platform_at=datetime.now(UTC),
        author=Author(id=uuid.uuid4().hex[:8], name="someone"),
        text=text,
    ).to_json()


async def test_reasked_questions_point_at_the_first_one(stack: Stack, seeded: Seeded) -> None:
    event_id = seeded.event.id
    first = "Will the slides be shared after the talk?"
    lines = [
        ask(seeded, 0, first),
        ask(seeded, 1, "are the slides going to be shared after the talk??"),
        ask(seeded, 2, "How much does the enterprise plan cost?"),
        ask(seeded, 3, "pls will you share the slides after the talk? thanks"),
    ]
    worker = PipelineWorker(stack.bus, stack.db, consumer="w")
    await stack.bus.add_ingest(event_id, lines)
    while entries := await stack.bus.read_ingest("w", [event_id], 500, block_ms=50):
        await worker.process(entries)
    async with stack.db.sessions() as session:
        rows = {q.text: q for q in (await session.scalars(select(Question))).all()}
    original = rows[first]
    assert original.duplicate_of_id is None
    assert rows["are the slides going to be shared after the talk??"].duplicate_of_id == original.id
    assert rows["pls will you share the slides after the talk? thanks"].duplicate_of_id in {
        original.id,
        rows["are the slides going to be shared after the talk??"].id,
    }
    assert rows["How much does the enterprise plan cost?"].duplicate_of_id is None
    score = rows["are the slides going to be shared after the talk??"].duplicate_score
    assert score is not None and 0.6 < score <= 1.0
