"""A drill end to end on the real pipeline: the simulator plays the spam-raid (or
stream-drop) scenario into the event, the worker files it and runs the default
playbook's detectors on a controllable clock, an incident opens marked as a drill, the
team works its steps and resolves it, and the metrics leave it out."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.connectors.simulator import simulated_envelopes
from app.drills import service as drills
from app.events.models import Source
from app.incidents import metrics, service
from app.incidents.models import Incident, IncidentState, StepState
from app.pipeline.worker import PipelineWorker
from tests.conftest import Seeded, Stack
from tests.pipeline.harness import deltas

TICK_S = 5.0


async def play(stack: Stack, seeded: Seeded, scenario: str) -> tuple[PipelineWorker, float]:
    """Starts the drill, then feeds its scenario through the pipeline tick by tick, the
    detectors judging each tick at the scenario's own time."""
    async with stack.db.sessions() as session:
        user = seeded.admin
        drill = await drills.start(
            session, stack.bus, seeded.event, scenario, user, datetime.now(UTC)
        )
        await session.commit()
    await drills.announce(stack.bus, seeded.event.id, drill)
    async with stack.db.sessions() as session:
        source = await session.get(Source, drill["source_id"])
        assert source is not None and source.config["drill"] is True
    # The scenario's five minutes end now: activity minutes, viewers and the detector
    # history all line up on this clock.
    start = time.time() - 300
    envelopes = [
        env.model_copy(update={"ingest_at": env.platform_at})
        for env in simulated_envelopes(
            seeded.event.id,
            {"drill": drill["source_id"]},
            None,
            scenario=drills.SCENARIOS[scenario],
            start_at=datetime.fromtimestamp(start, UTC),
        )
    ]
    worker = PipelineWorker(stack.bus, stack.db, consumer="drill")
    t, i = 0.0, 0
    while t <= 300:
        t += TICK_S
        batch = []
        while i < len(envelopes) and envelopes[i].platform_at.timestamp() < start + t:
            batch.append(envelopes[i].to_json())
            i += 1
        if batch:
            await stack.bus.add_ingest(seeded.event.id, batch)
            while entries := await stack.bus.read_ingest("drill", [seeded.event.id], 500, 10):
                await worker.process(entries)
        await worker.detection.tick(seeded.event.id, start + t)
    return worker, start


@pytest.mark.parametrize(
    ("scenario", "signal", "slug"),
    [("spam_raid", "chat_raid", "chat-raid"), ("stream_drop", "viewers_drop", "stream-down")],
)
async def test_a_drill_runs_from_scenario_to_resolved_and_stays_out_of_the_metrics(
    stack: Stack, seeded: Seeded, scenario: str, signal: str, slug: str
) -> None:
    _, start = await play(stack, seeded, scenario)
    async with stack.db.sessions() as session:
        opened = (await session.scalars(select(Incident).where(Incident.signal == signal))).all()
    assert len(opened) == 1, "the detector opened exactly one incident for the drill"
    incident = opened[0]
    assert incident.drill is True and incident.suggested_slug == slug
    assert incident.state == IncidentState.triage and incident.explanation
    if signal == "chat_raid":
        # The raid starts at 190 s in the scenario; the detector needs its minute.
        fired = incident.detected_at.timestamp() - start  # type: ignore[union-attr]
        assert 190 < fired <= 190 + 60, fired
    else:
        assert "fell" in incident.explanation and incident.impact_started_at is not None

    # The team works it: confirms the entry, does or skips every step, resolves.
    now = datetime.now(UTC)
    async with stack.db.sessions() as session:
        found = await service.get(session, seeded.event.id, incident.id)
        await service.transition(session, found, IncidentState.acknowledged, seeded.admin, now)
        entry = {"slug": slug, "title": found.title, "category": found.category, "steps": []}
        await service.confirm_match(session, found, entry, 1, seeded.admin, now)
        for step in await service.steps_of(session, found.id):
            if step.state == StepState.todo:
                await service.update_step(
                    session, found, step.id, StepState.done, seeded.admin, now
                )
        resolved = await service.transition(
            session, found, IncidentState.resolved, seeded.admin, now + timedelta(seconds=30)
        )
        await session.commit()
        assert resolved.incident is not None and resolved.incident["state"] == "resolved"
        assert all(s["state"] in ("done", "skipped") for s in resolved.incident["steps"])
        figures = await metrics.for_event(session, seeded.event.id)
    assert figures["drills"] >= 1
    assert figures["response"]["incidents"] == 0, "a drill says nothing about the response"
    assert figures["adherence"]["playbook_steps"] == 0

    published = [d["type"] for d in await deltas(stack, seeded.event.id)]
    assert "incident.updated" in published and "incident.timeline" in published


async def test_no_incident_without_the_drill(stack: Stack, seeded: Seeded) -> None:
    """The near miss of the same pipeline: ordinary chat and a steady audience open nothing."""
    worker = PipelineWorker(stack.bus, stack.db, consumer="quiet")
    start = time.time() - 120
    async with stack.db.sessions() as session:
        source = Source(
            event_id=seeded.event.id, platform="simulator", name="steady", config={"plays": "drill"}
        )
        session.add(source)
        await session.commit()
    envelopes = [
        env.model_copy(update={"ingest_at": env.platform_at})
        for env in simulated_envelopes(
            seeded.event.id,
            {"drill": source.id},
            None,
            scenario="drill-stream-drop",
            start_at=datetime.fromtimestamp(start, UTC),
        )
        if env.platform_at.timestamp() < start + 80  # before the drop at 90 s
    ]
    await stack.bus.add_ingest(seeded.event.id, [e.to_json() for e in envelopes])
    while entries := await stack.bus.read_ingest("quiet", [seeded.event.id], 500, 10):
        await worker.process(entries)
    for t in range(5, 80, 5):
        await worker.detection.tick(seeded.event.id, start + t)
    async with stack.db.sessions() as session:
        signals = (
            await session.scalars(
                select(Incident.signal).where(Incident.signal.in_(("chat_raid", "viewers_drop")))
            )
        ).all()
    assert signals == []
