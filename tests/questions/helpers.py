"""What the triage tests share: questions made through the real pipeline, the question URL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from app.envelope import Author, Kind, make_envelope
from app.pipeline.worker import PipelineWorker
from tests.conftest import Seeded, Stack


async def make_questions(stack: Stack, seeded: Seeded, n: int) -> list[str]:
    envs = [
        make_envelope(
            event_id=seeded.event.id,
            source_id=seeded.sources[i % 3].id,
            platform=seeded.sources[i % 3].config["plays"],
            kind=Kind.chat,
            platform_message_id=f"q{i}-{uuid.uuid4().hex[:6]}",
            platform_at=datetime.now(UTC),
            author=Author(id=f"u{i}", name=f"Asker {i}"),
            text=f"How does feature number {i} work in production?",
        )
        for i in range(n)
    ]
    await stack.bus.add_ingest(seeded.event.id, [e.to_json() for e in envs])
    worker = PipelineWorker(stack.bus, stack.db, consumer="seed")
    while entries := await stack.bus.read_ingest("seed", [seeded.event.id], 500, block_ms=50):
        await worker.process(entries)
    return [e.row_id for e in envs]


def url(seeded: Seeded, qid: str, suffix: str = "") -> str:
    return f"/api/events/{seeded.event.id}/questions/{qid}{suffix}"
