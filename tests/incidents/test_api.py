"""Incidents over REST on both stacks: open, move, steps, notes, roles, 409s, deltas,
the hello snapshot, and who may do what."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.auth import service as auth
from app.auth.models import Role
from app.events import service as events
from app.main import create_app
from tests.conftest import Seeded, Stack
from tests.pipeline.harness import deltas

T0 = datetime(2026, 11, 26, 19, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return (self.at - T0).total_seconds()


@pytest.fixture
async def ops(stack: Stack, seeded: Seeded) -> AsyncIterator[tuple[httpx.AsyncClient, Clock]]:
    async with stack.db.sessions() as session:
        lead = await auth.create_user(session, "lead", "lead-pass", Role.ops_lead, "Lee")
        await events.add_member(session, seeded.event, lead.id, Role.ops_lead.value)
        await session.commit()
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    clock = Clock()
    app.state.clock = clock
    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        resp = await client.post(
            "/api/auth/login", json={"username": "lead", "password": "lead-pass"}
        )
        assert resp.status_code == 200
        yield client, clock
        await client.aclose()


def url(seeded: Seeded, suffix: str = "") -> str:
    return f"/api/events/{seeded.event.id}/incidents{suffix}"


async def test_open_work_and_resolve_an_incident_by_hand(
    ops: tuple[httpx.AsyncClient, Clock], stack: Stack, seeded: Seeded
) -> None:
    client, clock = ops
    bad = await client.post(url(seeded), json={"severity": "sev2"})
    assert bad.status_code == 422 and "title and a category" in bad.json()["error"]["message"]
    made = await client.post(
        url(seeded),
        json={
            "title": "Speaker's mic is muted",
            "category": "audio",
            "severity": "sev2",
            "note": "Noticed by the host",
        },
    )
    assert made.status_code == 200, made.text
    incident = made.json()
    assert (incident["number"], incident["state"], incident["severity"]) == (1, "triage", "sev2")
    assert incident["declared_at"].startswith("2026-11-26T19:00:00")

    clock.at = T0 + timedelta(seconds=12)
    ack = await client.post(
        url(seeded, f"/{incident['id']}/transition"),
        json={"to": "acknowledged", "version": incident["version"]},
    )
    assert ack.status_code == 200 and ack.json()["acknowledged_at"].startswith(
        "2026-11-26T19:00:12"
    )
    stale = await client.post(
        url(seeded, f"/{incident['id']}/transition"),
        json={"to": "resolved", "version": incident["version"]},
    )
    assert stale.status_code == 409 and stale.json()["error"]["current"]["state"] == "acknowledged"

    step = await client.post(
        url(seeded, f"/{incident['id']}/steps"), json={"text": "Ask the speaker to unmute"}
    )
    assert step.status_code == 200
    [added] = step.json()["steps"]
    assert added["from_playbook"] is False
    done = await client.patch(
        url(seeded, f"/{incident['id']}/steps/{added['id']}"), json={"state": "done"}
    )
    assert done.json()["steps"][0]["state"] == "done"

    clock.at = T0 + timedelta(seconds=40)
    resolved = await client.post(
        url(seeded, f"/{incident['id']}/transition"),
        json={"to": "resolved", "version": done.json()["version"]},
    )
    assert resolved.status_code == 200
    body = resolved.json()
    assert body["mitigated_at"].startswith("2026-11-26T19:00:40") and body["state"] == "resolved"

    full = (await client.get(url(seeded, f"/{incident['id']}"))).json()
    assert [t["kind"] for t in full["timeline"]] == [
        "opened",
        "note",
        "state",
        "step",
        "step",
        "state",
    ]
    assert full["timeline"][1]["text"] == "Noticed by the host"
    assert full["timeline"][-1]["actor"] == "user:lead"
    assert (await client.get(url(seeded))).json() == [], "resolved is no longer open"
    assert len((await client.get(url(seeded), params={"state": "all"})).json()) == 1

    published = [d for d in await deltas(stack, seeded.event.id) if d["topic"] == "incidents"]
    updates = [d["data"]["state"] for d in published if d["type"] == "incident.updated"]
    assert updates[0] == "triage" and updates[-1] == "resolved"
    assert sum(d["type"] == "incident.timeline" for d in published) == 6


async def test_a_viewer_may_not_act_and_an_unknown_incident_is_404(
    ops: tuple[httpx.AsyncClient, Clock], stack: Stack, seeded: Seeded
) -> None:
    client, _ = ops
    async with stack.db.sessions() as session:
        viewer = await auth.create_user(session, "vic", "vic-pass-1", Role.viewer)
        await events.add_member(session, seeded.event, viewer.id, Role.viewer.value)
        await session.commit()
    made = (await client.post(url(seeded), json={"title": "x", "category": "chat"})).json()
    transport = client._transport  # type: ignore[attr-defined]
    watcher = httpx.AsyncClient(transport=transport, base_url="http://t")
    await watcher.post("/api/auth/login", json={"username": "vic", "password": "vic-pass-1"})
    assert (await watcher.get(url(seeded))).status_code == 200
    refused = await watcher.post(
        url(seeded, f"/{made['id']}/notes"), json={"text": "I can see it too"}
    )
    assert refused.status_code == 403
    assert (await client.get(url(seeded, "/nope"))).status_code == 404
    await watcher.aclose()
