"""Preflight: each check passes and fails on what it should (both stacks)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import orjson

from app.connectors.base import Action
from app.drills import preflight
from app.events import service as events
from app.pipeline.deltas import delta
from app.polls import service as polls
from app.polls.models import PollKind
from tests.conftest import Seeded, Stack


def health(state: str, *, event_ago: float | None = None, error: str | None = None) -> bytes:
    now = datetime.now(UTC)
    at = None if event_ago is None else (now - timedelta(seconds=event_ago)).isoformat()
    return orjson.dumps(
        {"state": state, "last_event_at": at, "last_keepalive_at": None, "last_error": error}
    )


async def test_the_checklist_passes_and_fails_on_what_it_should(
    stack: Stack, seeded: Seeded
) -> None:
    now = datetime.now(UTC)
    async with stack.db.sessions() as session:
        youtube = await events.add_source(session, seeded.event, "youtube", "YT", config={})
        for title, kind, options in (
            ("Which day?", PollKind.single, ["Mon", "Tue"]),
            ("Rate it", PollKind.rating, []),
            ("Pick a colour", PollKind.single, ["Red", "Green", "Blue", "Cyan", "Pink"]),
        ):
            await polls.create(
                session, seeded.event.id, title=title, kind=kind, options=options,
                duration_s=None, cue_id=None, actor="test",
            )  # fmt: skip
        await session.commit()
    twitch, yt_sim, zoom, _qa = seeded.sources
    await stack.bus.put_health(seeded.event.id, twitch.id, health("connected", event_ago=3))
    await stack.bus.put_health(seeded.event.id, yt_sim.id, health("connected", event_ago=400))
    await stack.bus.put_health(
        seeded.event.id, zoom.id, health("failed", error="401 from Zoom: refresh the token")
    )
    await stack.bus.put_health(seeded.event.id, youtube.id, health("connected"))
    async with stack.db.sessions() as session:
        found = await preflight.run(
            session, stack.bus, seeded.event.id, now, send_test_messages=False
        )
    by = {(c["name"], c["target"]): (c["status"], c["detail"]) for c in found["checks"]}
    assert by[("source", "twitch")][0] == "pass"
    assert by[("source", "youtube")] == ("fail", "connected but silent for 400 s")
    assert by[("source", "zoom")] == ("fail", "failed: 401 from Zoom: refresh the token")
    assert by[("source", "YT")] == ("warn", "connected, nothing received yet")
    assert by[("source", "slido")][0] == "fail", "no worker reports on it"
    assert by[("test message", "")][0] == "skip"
    assert by[("poll dry run", "Which day?")] == ("pass", "40/40 simulated votes counted")
    assert by[("poll dry run", "Rate it")][0] == "warn", "YouTube polls take 2 to 4 options"
    assert (
        "youtube would run it in chat (takes 2 to 4 options, not 5)"
        in (by[("poll dry run", "Pick a colour")][1])
    )
    assert by[("clock skew", "database")][0] == "pass"
    assert found["passed"] is False, "a failed source fails the preflight"


async def test_a_test_message_round_trip_waits_for_the_platforms_answer(
    stack: Stack, seeded: Seeded
) -> None:
    async with stack.db.sessions() as session:
        owncast = await events.add_source(session, seeded.event, "owncast", "Own", config={})
        await session.commit()

    async def platform() -> None:
        """Stands in for the connector and the pipeline: reads the command, answers."""
        while True:
            found = await stack.bus.read_commands(seeded.event.id, owncast.id, "t", 10, 200)
            for entry in found:
                action = Action.from_json(entry.payload)
                assert "Control Room preflight check" in action.params["text"]
                answer = {"action_id": action.id, "status": "done", "reason": None}
                await stack.bus.publish_live(
                    seeded.event.id, [delta("chat", "moderation.result", answer)]
                )
                return

    answering = asyncio.create_task(platform())
    async with stack.db.sessions() as session:
        checks = await preflight.round_trips(
            stack.bus, seeded.event.id, await preflight.live_sources(session, seeded.event.id),
            datetime.now(UTC),
        )  # fmt: skip
    await answering
    [sent] = [c for c in checks if c.target == "Own"]
    assert sent.status == "pass" and sent.detail.startswith("posted and confirmed in")
