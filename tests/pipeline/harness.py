"""What the pipeline tests share: chat envelopes as a platform sends them, a worker run
until the ingest stream is empty, and the deltas the consoles were sent."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from app.envelope import Author, Kind, make_envelope
from app.pipeline.worker import PipelineWorker
from tests.conftest import Seeded, Stack


def chat(seeded: Seeded, pmid: str, text: str, *, source: int = 0, author: str = "u1") -> bytes:
    return make_envelope(
        event_id=seeded.event.id,
        source_id=seeded.sources[source].id,
        platform=seeded.sources[source].config.get("plays", "qa"),
        kind=Kind.chat,
        platform_message_id=pmid,
        platform_at=datetime.now(UTC),
        author=Author(id=author, name=author.upper()),
        text=text,
    ).to_json()


async def drain(stack: Stack, worker: PipelineWorker, event_id: str) -> None:
    while entries := await stack.bus.read_ingest(worker.consumer, [event_id], 500, block_ms=50):
        await worker.process(entries)


async def deltas(stack: Stack, event_id: str) -> list[dict]:
    batches = await stack.bus.read_live(event_id, 0, block_ms=10, count=10_000)
    return [orjson.loads(i) for b in batches for i in b.items]
