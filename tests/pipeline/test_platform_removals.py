"""Lines removed on the platform itself (a deletion, a user's chat cleared) leave the console too."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from app.chat.models import ChatMessage
from app.envelope import Kind, make_envelope
from app.pipeline.worker import PipelineWorker
from tests.conftest import Seeded, Stack
from tests.pipeline.harness import chat, deltas, drain


def removal(seeded: Seeded, pmid: str, source: int = 0, **data: str) -> bytes:
    return make_envelope(
        event_id=seeded.event.id,
        source_id=seeded.sources[source].id,
        platform="twitch",
        kind=Kind.stream_state,
        platform_message_id=pmid,
        platform_at=datetime.now(UTC),
        data=data,
    ).to_json()


async def hidden_lines(stack: Stack) -> dict[str, tuple[bool, int]]:
    async with stack.db.sessions() as session:
        rows = (await session.scalars(select(ChatMessage))).all()
        return {(r.platform_message_id): (r.hidden, r.version) for r in rows}


async def test_platform_deletion_and_user_clear_hide_the_lines(
    stack: Stack, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    worker = PipelineWorker(stack.bus, stack.db, consumer="w1")
    await stack.bus.add_ingest(
        event_id,
        [
            chat(seeded, "m1", "hello", author="alice"),
            chat(seeded, "m2", "buy followers", author="spammer"),
            chat(seeded, "m3", "more spam", author="spammer"),
            chat(seeded, "m4", "spam elsewhere", author="spammer", source=1),
            # A deletion riding in the same batch as its line still finds it.
            removal(seeded, "del-1", event="message_deleted", message_id="m1"),
        ],
    )
    await drain(stack, worker, event_id)
    await stack.bus.add_ingest(
        event_id,
        [
            removal(seeded, "clear-1", event="user_cleared", user_id="spammer"),
            removal(seeded, "clear-all", event="chat_cleared"),
        ],
    )
    await drain(stack, worker, event_id)

    lines = await hidden_lines(stack)
    assert lines["m1"] == (True, 2)
    assert lines["m2"] == (True, 2) and lines["m3"] == (True, 2)
    assert lines["m4"] == (False, 1), "another source's user of the same id is not touched"
    updated = [d["data"] for d in await deltas(stack, event_id) if d["type"] == "chat.updated"]
    assert len({u["id"] for u in updated}) == len(updated) == 3, "each line changed once"
    assert all(u["hidden"] and "removed on the platform" in u["moderation_reason"] for u in updated)
