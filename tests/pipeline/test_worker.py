"""The pipeline on both stacks: idempotency, classification, batching, crash recovery."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from sqlalchemy import func, select

from app.chat.models import ChatMessage
from app.envelope import Kind, make_envelope
from app.pipeline.worker import PipelineWorker
from app.questions.models import Question
from tests.conftest import Seeded, Stack
from tests.pipeline.harness import chat, deltas, drain


async def count(stack: Stack, model: type) -> int:
    async with stack.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_same_platform_message_twice_gives_one_row_and_one_delta(
    stack: Stack, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    worker = PipelineWorker(stack.bus, stack.db, consumer="w1")
    await stack.bus.add_ingest(event_id, [chat(seeded, "m1", "hello")])
    await drain(stack, worker, event_id)
    # The platform redelivers it later, and twice within one batch.
    await stack.bus.add_ingest(event_id, [chat(seeded, "m1", "hello")] * 2)
    await drain(stack, worker, event_id)
    # A fresh worker (restart) sees it again: the database still dedupes.
    restarted = PipelineWorker(stack.bus, stack.db, consumer="w2")
    await stack.bus.add_ingest(event_id, [chat(seeded, "m1", "hello")])
    await drain(stack, restarted, event_id)

    assert await count(stack, ChatMessage) == 1
    chat_deltas = [d for d in await deltas(stack, event_id) if d["type"] == "chat.message"]
    assert len(chat_deltas) == 1
    assert chat_deltas[0]["data"]["text"] == "hello"
    assert await stack.bus.ingest_backlog(event_id) == 0


async def test_questions_are_classified_and_qa_sources_always_count(
    stack: Stack, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    worker = PipelineWorker(stack.bus, stack.db, consumer="w1")
    await stack.bus.add_ingest(
        event_id,
        [
            chat(seeded, "a", "How will the migration work for existing users?"),
            chat(seeded, "b", "slides: https://example.com/deck?page=2"),
            chat(seeded, "c", "love this"),
            chat(seeded, "d", "pricing for teams", source=3),  # the Q&A source
        ],
    )
    await drain(stack, worker, event_id)
    async with stack.db.sessions() as session:
        texts = set((await session.scalars(select(Question.text))).all())
    assert texts == {"How will the migration work for existing users?", "pricing for teams"}
    created = [d for d in await deltas(stack, event_id) if d["type"] == "question.created"]
    assert {d["data"]["state"] for d in created} == {"pending"}
    assert len(created) == 2


async def test_malformed_input_is_dead_lettered_and_the_rest_goes_through(
    stack: Stack, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    worker = PipelineWorker(stack.bus, stack.db, consumer="w1")
    good = chat(seeded, "ok", "fine message")
    unknown_source = orjson.loads(chat(seeded, "x", "who am i"))
    unknown_source["source_id"] = "nope"
    await stack.bus.add_ingest(
        event_id,
        [b"{not json", orjson.dumps({"kind": "chat"}), orjson.dumps(unknown_source), good],
    )
    await drain(stack, worker, event_id)
    assert await count(stack, ChatMessage) == 1
    dead = await stack.bus.dead_letters(event_id)
    assert len(dead) == 3
    assert any("unknown source" in d.reason for d in dead)
    assert worker.stats.dead_letters == 3
    assert await stack.bus.ingest_backlog(event_id) == 0


async def test_oversize_text_is_truncated_and_flagged_not_dropped(
    stack: Stack, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    worker = PipelineWorker(stack.bus, stack.db, consumer="w1")
    await stack.bus.add_ingest(event_id, [chat(seeded, "long", "x" * 5000)])
    await drain(stack, worker, event_id)
    async with stack.db.sessions() as session:
        row = await session.scalar(select(ChatMessage))
    assert row is not None and row.truncated and len(row.text) == 2000


async def test_a_killed_workers_pending_messages_are_reclaimed(
    stack: Stack, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    await stack.bus.add_ingest(event_id, [chat(seeded, f"m{i}", f"line {i}") for i in range(50)])
    # The first worker takes the entries and dies before acknowledging them.
    taken = await stack.bus.read_ingest("doomed", [event_id], 500, block_ms=100)
    assert len(taken) == 50
    successor = PipelineWorker(stack.bus, stack.db, consumer="next", claim_idle_ms=10)
    import asyncio

    await asyncio.sleep(0.05)
    reclaimed = await stack.bus.claim_stale_ingest("next", [event_id], 10, 500)
    await successor.process(reclaimed)
    assert await count(stack, ChatMessage) == 50
    assert await stack.bus.ingest_backlog(event_id) == 0
    texts = [d["data"]["text"] for d in await deltas(stack, event_id) if d["topic"] == "chat"]
    assert texts == [f"line {i}" for i in range(50)]


async def test_crash_after_commit_before_publish_still_publishes_on_reclaim(
    stack: Stack, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    await stack.bus.add_ingest(event_id, [chat(seeded, "m1", "committed, never published")])
    worker = PipelineWorker(stack.bus, stack.db, consumer="w1")
    entries = await stack.bus.read_ingest("w1", [event_id], 10, block_ms=100)

    async def die(*_args: object) -> None:
        raise ConnectionError("bus went away mid-publish")

    original = stack.bus.publish_live
    stack.bus.publish_live = die  # type: ignore[method-assign]
    try:
        await worker.process(entries)
    except ConnectionError:
        pass
    finally:
        stack.bus.publish_live = original  # type: ignore[method-assign]
    assert await count(stack, ChatMessage) == 1
    assert await deltas(stack, event_id) == []
    import asyncio

    await asyncio.sleep(0.05)
    reclaimed = await stack.bus.claim_stale_ingest("w2", [event_id], 10, 10)
    await PipelineWorker(stack.bus, stack.db, consumer="w2").process(reclaimed)
    published = [d["data"]["text"] for d in await deltas(stack, event_id)]
    assert published == ["committed, never published"]
    assert await count(stack, ChatMessage) == 1


async def test_gauges_from_viewers_and_activity(stack: Stack, seeded: Seeded) -> None:
    event_id = seeded.event.id
    worker = PipelineWorker(stack.bus, stack.db, consumer="w1")
    now = datetime.now(UTC)
    viewers = [
        make_envelope(
            event_id=event_id,
            source_id=seeded.sources[i].id,
            platform=p,
            kind=Kind.viewers,
            platform_message_id=f"v-{p}",
            platform_at=now,
            data={"count": n},
        ).to_json()
        for i, (p, n) in enumerate([("twitch", 120), ("youtube", 80)])
    ]
    lines = [chat(seeded, f"c{i}", "hi", author=f"user{i % 3}") for i in range(9)]
    await stack.bus.add_ingest(event_id, viewers + lines)
    await drain(stack, worker, event_id)
    await worker.tick_gauges(event_id)
    gauges = [d for d in await deltas(stack, event_id) if d["topic"] == "gauges"][-1]["data"]
    assert gauges["viewers"] == {"total": 200, "by_platform": {"twitch": 120, "youtube": 80}}
    assert gauges["messages_per_min"] >= 9
    assert gauges["unique_chatters_per_min"] >= 3
    from app.metrics.models import MetricSample

    minute_start = now.replace(second=0, microsecond=0)
    async with stack.db.sessions() as session:
        rows = (await session.scalars(select(MetricSample))).all()
    samples = {(s.metric, s.dimension): s.value for s in rows if s.bucket_at == minute_start}
    assert samples[("viewers", "total")] == 200
    assert samples[("messages_per_min", "total")] == 9
    assert samples[("unique_chatters_per_min", "total")] == 3
