"""The incident lifecycle: every move and its milestone stamps, the timeline, steps,
roles, severity and escalation, with a controllable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.auth import service as auth
from app.auth.models import Role
from app.incidents import lifecycle, metrics, service
from app.incidents.models import Incident, IncidentState, IncidentStep, StepState, TimelineEntry
from tests.conftest import Seeded, Stack

T0 = datetime(2026, 11, 26, 19, 0, tzinfo=UTC)
S = IncidentState
MILESTONES = ("acknowledged_at", "mitigated_at", "resolved_at", "closed_at")

ENTRY: dict[str, Any] = {
    "slug": "stream-down",
    "title": "Stream down",
    "category": "stream",
    "default_severity": "sev2",
    "owner_role": "ops_lead",
    "steps": [
        {"text": "Switch to the backup stream", "owner_role": "ops_lead", "kind": "manual"},
        {"text": "Post the audience notice", "owner_role": "moderator", "kind": "manual"},
    ],
    "escalation": [
        {"after_s": 60, "notify_role": "ops_lead"},
        {"after_s": 180, "notify_role": "admin", "raise_severity_to": "sev1"},
    ],
    "targets": {"acknowledge_s": 60, "mitigate_s": 300},
    "templates": {"audience_notice": "We are back shortly."},
}


async def open_one(stack: Stack, seeded: Seeded, **kw: Any) -> str:
    async with stack.db.sessions() as session:
        change = await service.open_incident(
            session, seeded.event.id, actor="test", now=kw.pop("now", T0), **kw
        )
        await session.commit()
    assert change.incident is not None
    return str(change.incident["id"])


async def move(
    stack: Stack, seeded: Seeded, incident_id: str, to: IncidentState, at: datetime, **kw: Any
) -> Incident:
    async with stack.db.sessions() as session:
        incident = await service.get(session, seeded.event.id, incident_id)
        await service.transition(session, incident, to, "test", at, **kw)
        await session.commit()
        return incident


async def load(stack: Stack, incident_id: str) -> Incident:
    async with stack.db.sessions() as session:
        found = await session.get(Incident, incident_id)
        assert found is not None
        return found


def stamped(incident: Incident) -> dict[str, datetime | None]:
    return {m: getattr(incident, m) for m in MILESTONES}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # Each path from triage, and the milestones it stamps (seconds after T0).
        ([S.acknowledged], {"acknowledged_at": 1}),
        ([S.acknowledged, S.mitigating], {"acknowledged_at": 1}),
        ([S.acknowledged, S.mitigating, S.monitoring], {"acknowledged_at": 1, "mitigated_at": 3}),
        (
            [S.acknowledged, S.mitigating, S.monitoring, S.resolved],
            {"acknowledged_at": 1, "mitigated_at": 3, "resolved_at": 4},
        ),
        (
            [S.acknowledged, S.mitigating, S.monitoring, S.resolved, S.closed],
            {"acknowledged_at": 1, "mitigated_at": 3, "resolved_at": 4, "closed_at": 5},
        ),
        # Skipping ahead stamps what was skipped at the same instant.
        ([S.resolved], {"acknowledged_at": 1, "mitigated_at": 1, "resolved_at": 1}),
        ([S.monitoring], {"acknowledged_at": 1, "mitigated_at": 1}),
        # It came back: mitigating again keeps the first mitigated time.
        (
            [S.mitigating, S.monitoring, S.mitigating, S.monitoring],
            {"acknowledged_at": 1, "mitigated_at": 2},
        ),
        # Reopened after resolving: the first resolved time stays.
        (
            [S.resolved, S.mitigating, S.resolved],
            {"acknowledged_at": 1, "mitigated_at": 1, "resolved_at": 1},
        ),
    ],
)
async def test_every_move_stamps_its_milestones_once(
    stack: Stack, seeded: Seeded, path: list[IncidentState], expected: dict[str, int]
) -> None:
    iid = await open_one(stack, seeded, entry=ENTRY, playbook_version=1)
    for n, to in enumerate(path, start=1):
        incident = await move(stack, seeded, iid, to, T0 + timedelta(seconds=n))
    assert incident.state == path[-1]
    want = {m: (T0 + timedelta(seconds=expected[m]) if m in expected else None) for m in MILESTONES}
    assert stamped(await load(stack, iid)) == want
    async with stack.db.sessions() as session:
        kinds = (
            await session.scalars(
                select(TimelineEntry.text)
                .where(TimelineEntry.incident_id == iid)
                .order_by(TimelineEntry.id)
            )
        ).all()
    assert len(kinds) == 1 + len(path), "one timeline line per move, after the opening"
    assert kinds[-1].endswith(f"→ {path[-1]}")


async def test_moves_the_lifecycle_does_not_allow_are_409_with_the_options(
    stack: Stack, seeded: Seeded
) -> None:
    iid = await open_one(stack, seeded, entry=ENTRY)
    await move(stack, seeded, iid, S.resolved, T0 + timedelta(seconds=1))
    await move(stack, seeded, iid, S.closed, T0 + timedelta(seconds=2))
    with pytest.raises(service.TransitionNotAllowed) as closed:
        await move(stack, seeded, iid, S.mitigating, T0 + timedelta(seconds=3))
    assert "it can go to none" in str(closed.value)
    other = await open_one(stack, seeded, title="Speaker late", category="speaker")
    with pytest.raises(service.TransitionNotAllowed) as back:
        await move(stack, seeded, other, S.triage, T0)
    assert "acknowledged" in str(back.value) and "not triage" in str(back.value)
    with pytest.raises(service.InvalidIncident):
        await move(stack, seeded, other, S.cancelled, T0)  # no reason
    cancelled = await move(stack, seeded, other, S.cancelled, T0, reason="false alarm")
    assert cancelled.state == S.cancelled and cancelled.acknowledged_at is None


async def test_a_stale_version_is_409_with_the_current_incident(
    stack: Stack, seeded: Seeded
) -> None:
    iid = await open_one(stack, seeded, entry=ENTRY)
    await move(stack, seeded, iid, S.acknowledged, T0, version=1)
    with pytest.raises(service.VersionConflict) as stale:
        await move(stack, seeded, iid, S.mitigating, T0, version=1)
    assert stale.value.extra["current"]["state"] == "acknowledged"


async def test_steps_come_from_the_entry_and_ad_hoc_ones_are_counted_apart(
    stack: Stack, seeded: Seeded
) -> None:
    iid = await open_one(stack, seeded, entry=ENTRY, playbook_version=3)
    async with stack.db.sessions() as session:
        incident = await service.get(session, seeded.event.id, iid)
        steps = await service.steps_of(session, iid)
        assert [s.text for s in steps] == [
            "Switch to the backup stream",
            "Post the audience notice",
        ]
        await service.update_step(session, incident, steps[0].id, StepState.done, "test", T0)
        with pytest.raises(service.InvalidIncident):
            await service.update_step(session, incident, steps[1].id, StepState.skipped, "t", T0)
        await service.update_step(
            session, incident, steps[1].id, StepState.skipped, "test", T0, reason="chat is off"
        )
        await service.add_step(session, incident, "Call the CDN", "ops_lead", "test", T0)
        await session.commit()
        found = (await session.scalars(select(IncidentStep))).all()
        assert metrics.adherence(
            [s for s in found if s.from_playbook], [s for s in found if not s.from_playbook]
        ) == {
            "playbook_steps": 2,
            "done": 1,
            "skipped": 1,
            "open": 0,
            "ad_hoc": 1,
            "ad_hoc_done": 0,
            "done_ratio": 0.5,
        }
        assert (await load(stack, iid)).playbook_version == 3


async def test_roles_keep_their_history(stack: Stack, seeded: Seeded) -> None:
    async with stack.db.sessions() as session:
        ana = await auth.create_user(session, "ana", "pw-ana-1234", Role.ops_lead, "Ana")
        bo = await auth.create_user(session, "bo", "pw-bo-12345", Role.ops_lead, "Bo")
        await session.commit()
    iid = await open_one(stack, seeded, entry=ENTRY)
    async with stack.db.sessions() as session:
        incident = await service.get(session, seeded.event.id, iid)
        await service.assign_role(session, incident, "lead", ana, "test", T0)
        change = await service.assign_role(
            session, incident, "lead", bo, "test", T0 + timedelta(seconds=30)
        )
        await session.commit()
        rows = await service.roles_of(session, iid)
    assert change.incident is not None
    assert change.incident["roles"] == [{"role": "lead", "user_id": bo.id, "user_name": "Bo"}]
    assert [(r.user_name, r.ended_at) for r in rows] == [
        ("Ana", T0 + timedelta(seconds=30)),
        ("Bo", None),
    ]


async def test_escalation_after_the_timeout_and_none_after_acknowledgement(
    stack: Stack, seeded: Seeded
) -> None:
    quiet = await open_one(stack, seeded, entry=ENTRY)
    acked = await open_one(stack, seeded, entry=ENTRY, title="Stream down (YouTube)")
    await move(stack, seeded, acked, S.acknowledged, T0 + timedelta(seconds=30))

    async def tick(at: float) -> list[service.Change]:
        async with stack.db.sessions() as session:
            changes = await service.escalate_due(session, T0 + timedelta(seconds=at))
            await session.commit()
        return changes

    assert await tick(59) == [], "not yet"
    first = await tick(61)
    assert [c.incident["id"] for c in first if c.incident] == [quiet]
    assert [n["role"] for n in first[0].notify] == ["ops_lead"]
    assert (await load(stack, quiet)).severity == "sev2"
    assert await tick(62) == [], "each rule once"
    second = await tick(181)
    assert second[0].notify[0]["role"] == "admin"
    escalated = await load(stack, quiet)
    assert (escalated.severity, escalated.escalations_done) == ("sev1", 2)
    assert await tick(3600) == [], "no rules left"
    untouched = await load(stack, acked)
    assert (untouched.severity, untouched.escalations_done) == ("sev2", 0)


async def test_a_severity_set_by_hand_is_not_overridden_by_escalation(
    stack: Stack, seeded: Seeded
) -> None:
    iid = await open_one(stack, seeded, entry=ENTRY)
    async with stack.db.sessions() as session:
        incident = await service.get(session, seeded.event.id, iid)
        await service.escalate_due(session, T0 + timedelta(seconds=61))  # rule 1: notify
        await service.set_severity(session, incident, "sev1", "test", T0 + timedelta(seconds=90))
        await session.commit()
    refreshed = await load(stack, iid)
    # Rule 2 would raise to sev1: it already is, so the rule no longer applies.
    assert (refreshed.severity, refreshed.escalations_done) == ("sev1", 2)
    assert service.next_escalation_at(refreshed) is None


async def test_a_detector_signal_opens_one_incident_per_scope(stack: Stack, seeded: Seeded) -> None:
    first = await open_one(
        stack, seeded, entry=ENTRY, signal="viewers_drop", scope="total", explanation="fell"
    )
    with pytest.raises(service.AlreadyOpen) as again:
        await open_one(stack, seeded, entry=ENTRY, signal="viewers_drop", scope="total")
    assert again.value.extra["current"]["id"] == first
    other_scope = await open_one(
        stack, seeded, entry=ENTRY, signal="viewers_drop", scope="platform:twitch"
    )
    assert other_scope != first
    await move(stack, seeded, first, S.resolved, T0)
    reopened = await open_one(stack, seeded, entry=ENTRY, signal="viewers_drop", scope="total")
    numbers = [(await load(stack, i)).number for i in (first, other_scope, reopened)]
    assert numbers == [1, 2, 3]


async def test_a_suggested_match_is_confirmed_or_corrected(stack: Stack, seeded: Seeded) -> None:
    iid = await open_one(stack, seeded, entry=ENTRY, playbook_version=1, confirmed=False)
    assert (await load(stack, iid)).suggested_slug == "stream-down"
    other = {**ENTRY, "slug": "platform-outage", "steps": [{"text": "Check the status page"}]}
    async with stack.db.sessions() as session:
        incident = await service.get(session, seeded.event.id, iid)
        steps = await service.steps_of(session, iid)
        await service.update_step(session, incident, steps[0].id, StepState.done, "test", T0)
        change = await service.confirm_match(session, incident, other, 2, "test", T0)
        await session.commit()
    assert change.incident is not None
    assert (change.incident["entry_slug"], change.incident["match_confirmed"]) == (
        "platform-outage",
        True,
    )
    # The step already done stays; the untouched one gives way to the new entry's.
    assert [(s["text"], s["state"]) for s in change.incident["steps"]] == [
        ("Switch to the backup stream", "done"),
        ("Check the status page", "todo"),
    ]


async def test_response_metrics_by_category_and_severity_leave_drills_out(
    stack: Stack, seeded: Seeded
) -> None:
    # Three real stream incidents acknowledged after 10, 20 and 90 s; one drill after 5 s.
    for ack_s, drill in ((10, False), (20, False), (90, False), (5, True)):
        iid = await open_one(
            stack, seeded, entry=ENTRY, drill=drill, impact_started_at=T0 - timedelta(seconds=30)
        )
        await move(stack, seeded, iid, S.acknowledged, T0 + timedelta(seconds=ack_s))
        await move(stack, seeded, iid, S.resolved, T0 + timedelta(seconds=ack_s + 100))
    async with stack.db.sessions() as session:
        found = await metrics.for_event(session, seeded.event.id)
    stream = found["response"]["category"]["stream"]
    assert stream["acknowledge"] == {"count": 3, "median_s": 20.0, "p90_s": 90.0}
    assert stream["resolve"]["median_s"] == 120.0 and stream["detect"]["median_s"] == 30.0
    assert found["response"]["severity"]["sev2"]["acknowledge"]["count"] == 3
    assert found["drills"] == 1 and found["response"]["incidents"] == 3


def test_lifecycle_table_is_closed_under_its_states() -> None:
    for state, targets in lifecycle.ALLOWED.items():
        assert state not in targets
        assert targets <= set(IncidentState)
    assert lifecycle.ALLOWED[S.closed] == frozenset() == lifecycle.ALLOWED[S.cancelled]


def _path_to(state: IncidentState) -> list[IncidentState]:
    """The shortest allowed path from triage to `state` (triage itself: none)."""
    paths: dict[IncidentState, list[IncidentState]] = {S.triage: []}
    frontier = [S.triage]
    while frontier:
        here = frontier.pop(0)
        for there in sorted(lifecycle.ALLOWED[here]):
            if there not in paths:
                paths[there] = [*paths[here], there]
                frontier.append(there)
    return paths[state]


@pytest.mark.parametrize(
    ("frm", "to"),
    [(f, t) for f, targets in lifecycle.ALLOWED.items() for t in sorted(targets)],
    ids=lambda s: str(s),
)
async def test_every_allowed_move_stamps_what_it_reaches_and_nothing_else(
    stack: Stack, seeded: Seeded, frm: IncidentState, to: IncidentState
) -> None:
    iid = await open_one(stack, seeded, entry=ENTRY)
    reason = {"reason": "false alarm"}
    for n, step in enumerate(_path_to(frm), start=1):
        await move(stack, seeded, iid, step, T0 + timedelta(seconds=n), **(
            reason if step == S.cancelled else {}))  # fmt: skip
    before = stamped(await load(stack, iid))
    at = T0 + timedelta(seconds=100)
    after = await move(stack, seeded, iid, to, at, **(reason if to == S.cancelled else {}))
    assert after.state == to
    now = stamped(await load(stack, iid))
    newly = {m for m in MILESTONES if before[m] is None and now[m] is not None}
    expected = {m for m in lifecycle.stamps(to) if before[m] is None}
    assert newly == expected and all(now[m] == at for m in newly)
    assert all(now[m] == before[m] for m in MILESTONES if before[m] is not None), "kept"


async def test_automatic_steps_wait_for_a_person_when_a_detector_opened_it(
    stack: Stack, seeded: Seeded
) -> None:
    """A detector's incident is a guess until someone acknowledges it: only then is the
    audience notice posted in the chats that can post."""
    from app.events import service as events

    entry = {
        **ENTRY,
        "steps": [
            {"text": "Tell the audience", "owner_role": "moderator", "kind": "automatic",
             "action": {"type": "post_audience_notice"}},
            {"text": "Switch to the backup", "owner_role": "ops_lead"},
        ],
    }  # fmt: skip
    async with stack.db.sessions() as session:
        await events.add_source(session, seeded.event, "owncast", "Own", config={})
        lead = await auth.create_user(session, "lee", "pw-lee-1234", Role.ops_lead)
        opened = await service.open_incident(
            session, seeded.event.id, actor="detector:viewers_drop", now=T0, entry=entry,
            signal="viewers_drop", scope="total", confirmed=False,
        )  # fmt: skip
        await session.commit()
        assert opened.commands == [] and opened.incident is not None
        assert opened.incident["steps"][0]["state"] == "todo"
        incident = await service.get(session, seeded.event.id, opened.incident["id"])
        acked = await service.transition(session, incident, S.acknowledged, lead, T0)
        await session.commit()
    assert len(acked.commands) == 4, "every chat that can post: three simulated, Owncast"
    assert b"We are back shortly." in acked.commands[0][1]
    assert acked.incident is not None and acked.incident["steps"][0]["state"] == "done"
    assert any("audience notice posted" in t["text"] for t in acked.timeline)
