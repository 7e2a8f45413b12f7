"""Presence envelopes (joins and leaves) are stored for the report: once each, in the
platform's time, and one without a viewer or an action is set aside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.envelope import Author, Kind, make_envelope
from app.pipeline.worker import PipelineWorker
from app.presence.models import PresenceEvent
from tests.conftest import Seeded, Stack
from tests.pipeline.harness import drain

AT = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def presence(seeded: Seeded, pmid: str, data: dict[str, object], author: str | None) -> bytes:
    zoom = seeded.sources[2]
    return make_envelope(
        event_id=seeded.event.id,
        source_id=zoom.id,
        platform="zoom",
        kind=Kind.presence,
        platform_message_id=pmid,
        platform_at=AT,
        ingest_at=AT + timedelta(seconds=3),
        author=Author(id=author, name=author) if author else None,
        data=data,
    ).to_json()


async def test_presence_is_stored_once(stack: Stack, seeded: Seeded) -> None:
    event_id = seeded.event.id
    worker = PipelineWorker(stack.bus, stack.db, consumer="w1")
    good = presence(seeded, "j1", {"action": "join", "stale": True}, "p1")
    await stack.bus.add_ingest(event_id, [good, presence(seeded, "x", {"action": "wave"}, "p2")])
    await stack.bus.add_ingest(event_id, [presence(seeded, "y", {"action": "leave"}, None)])
    await drain(stack, worker, event_id)
    await stack.bus.add_ingest(event_id, [good])  # redelivered
    await drain(stack, worker, event_id)
    async with stack.db.sessions() as session:
        rows = (await session.scalars(select(PresenceEvent))).all()
    # Zoom's "stale" (older than what its headcount knew) is kept: pairing is by time.
    assert [(r.viewer_id, r.action, r.at, r.platform) for r in rows] == [("p1", "join", AT, "zoom")]
    reasons = sorted(d.reason for d in await stack.bus.dead_letters(event_id))
    assert reasons == ["presence without a viewer or a join/leave action"] * 2
