"""Question triage over REST on both stacks: lifecycle, 409s, idempotency, claims, undo, audit."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import uuid
from csv import DictReader
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
import yaml
from sqlalchemy import func, select, update

from app.audit.models import AuditLog
from app.auth import service as auth
from app.auth.models import Role, User
from app.chat.models import ChatMessage
from app.cues.models import Cue
from app.errors import VersionConflict
from app.events import service as events
from app.incidents import service as incidents
from app.main import create_app
from app.overlays import service as overlays
from app.playbooks import service as playbooks
from app.polls import service as polls
from app.polls.models import PollKind
from app.questions import service
from app.questions.models import Question, QuestionState
from app.questions.service import TRANSITIONS
from tests.conftest import Seeded, Stack
from tests.questions.helpers import make_questions, url

STATES = list(QuestionState)


async def current(client: httpx.AsyncClient, seeded: Seeded, qid: str) -> dict:
    rows = (await client.get(f"/api/events/{seeded.event.id}/questions?state=all")).json()
    found = [r for r in rows if r["id"] == qid]
    assert found, qid
    return found[0]


async def move(client: httpx.AsyncClient, seeded: Seeded, qid: str, to: str) -> httpx.Response:
    q = await current(client, seeded, qid)
    return await client.post(
        url(seeded, qid, "/transition"),
        json={"to": to, "version": q["version"]},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )


# Reaching each state from pending by a legal path.
PATHS = {
    QuestionState.pending: [],
    QuestionState.approved: ["approved"],
    QuestionState.on_deck: ["on_deck"],
    QuestionState.answered: ["on_deck", "answered"],
    QuestionState.rejected: ["rejected"],
    QuestionState.archived: ["archived"],
}


# The legal moves as docs/PROTOCOL.md states them: written out here, not imported, so a
# wrong entry in the service's table fails this test.
LEGAL = {
    "pending": {"approved", "rejected", "on_deck", "archived"},
    "approved": {"on_deck", "rejected", "pending", "archived"},
    "on_deck": {"answered", "approved", "archived"},
    "answered": {"archived", "on_deck"},
    "rejected": {"pending", "archived"},
    "archived": {"pending"},
}


def test_the_transition_table_is_the_documented_one() -> None:
    assert {s.value: {t.value for t in to} for s, to in TRANSITIONS.items()} == LEGAL


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_every_transition_legal_and_illegal(
    stack: Stack, seeded: Seeded, clients: tuple[httpx.AsyncClient, ...]
) -> None:
    mod, _ = clients
    pairs = list(itertools.product(STATES, STATES))
    qids = await make_questions(stack, seeded, len(pairs))
    for (start, to), qid in zip(pairs, qids, strict=True):
        for step in PATHS[start]:
            assert (await move(mod, seeded, qid, step)).status_code == 200
        resp = await move(mod, seeded, qid, to.value)
        if to.value in LEGAL[start.value]:
            assert resp.status_code == 200, (start, to, resp.text)
            assert resp.json()["state"] == to.value
        else:
            assert resp.status_code == 422, (start, to)
            err = resp.json()["error"]
            assert err["code"] == "illegal_transition"
            assert err["current"]["state"] == start.value
            allowed = ", ".join(sorted(TRANSITIONS[start]))
            assert allowed in err["message"]


async def test_two_moderators_at_once_one_wins_the_other_gets_409_with_the_winner(
    stack: Stack, seeded: Seeded, clients: tuple[httpx.AsyncClient, ...]
) -> None:
    mod, ana = clients
    (qid,) = await make_questions(stack, seeded, 1)
    body_a = {"to": "approved", "version": 1}
    body_b = {"to": "rejected", "version": 1}
    ra, rb = await asyncio.gather(
        mod.post(url(seeded, qid, "/transition"), json=body_a),
        ana.post(url(seeded, qid, "/transition"), json=body_b),
    )
    statuses = sorted([ra.status_code, rb.status_code])
    assert statuses == [200, 409]
    winner, loser = (ra, rb) if ra.status_code == 200 else (rb, ra)
    err = loser.json()["error"]
    assert err["code"] == "version_conflict"
    assert err["current"]["state"] == winner.json()["state"]
    assert err["current"]["version"] == 2
    async with stack.db.sessions() as session:
        n = await session.scalar(select(func.count()).select_from(AuditLog))
    assert n == 1


async def test_the_database_refuses_a_write_read_at_a_version_that_is_gone(
    stack: Stack, seeded: Seeded
) -> None:
    # Both moderators have read version 1 before either writes: the Python check passes
    # for both, so only the conditional UPDATE can refuse the second.
    (qid,) = await make_questions(stack, seeded, 1)
    async with stack.db.sessions() as first, stack.db.sessions() as second:
        mod = await first.get(User, seeded.member.id)
        ana = await second.get(User, seeded.member.id)
        assert mod is not None and ana is not None
        mine = await service.get(first, seeded.event.id, qid)
        theirs = await service.get(second, seeded.event.id, qid)
        await service.transition(first, mine, QuestionState.approved, 1, mod)
        await first.commit()
        assert theirs.version == 1  # what the second moderator still believes
        with pytest.raises(VersionConflict, match="someone else changed it first") as lost:
            await service.transition(second, theirs, QuestionState.rejected, 1, ana)
        assert lost.value.extra["current"]["state"] == "approved"


async def test_a_retried_click_with_the_same_key_acts_once(
    stack: Stack, seeded: Seeded, clients: tuple[httpx.AsyncClient, ...]
) -> None:
    mod, _ = clients
    (qid,) = await make_questions(stack, seeded, 1)
    headers = {"Idempotency-Key": "click-1"}
    first = await mod.post(
        url(seeded, qid, "/boost"), json={"version": 1, "amount": 1}, headers=headers
    )
    again = await mod.post(
        url(seeded, qid, "/boost"), json={"version": 1, "amount": 1}, headers=headers
    )
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert (await current(mod, seeded, qid))["boost"] == 1
    other_route = await mod.post(
        url(seeded, qid, "/transition"), json={"to": "approved", "version": 2}, headers=headers
    )
    assert other_route.status_code == 422
    assert other_route.json()["error"]["code"] == "idempotency_key_reused"


async def test_the_same_click_sent_twice_at_once_acts_once(
    stack: Stack, seeded: Seeded, clients: tuple[httpx.AsyncClient, ...]
) -> None:
    mod, _ = clients
    (qid,) = await make_questions(stack, seeded, 1)
    headers = {"Idempotency-Key": "double-click"}
    body = {"version": 1, "amount": 1}
    a, b = await asyncio.gather(
        mod.post(url(seeded, qid, "/boost"), json=body, headers=headers),
        mod.post(url(seeded, qid, "/boost"), json=body, headers=headers),
    )
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    assert a.json() == b.json()
    assert (await current(mod, seeded, qid))["boost"] == 1
    async with stack.db.sessions() as session:
        n = await session.scalar(select(func.count()).select_from(AuditLog))
    assert n == 1


async def test_edit_keeps_the_original_and_pin_tags_anonymous(
    stack: Stack, seeded: Seeded, clients: tuple[httpx.AsyncClient, ...]
) -> None:
    mod, _ = clients
    (qid,) = await make_questions(stack, seeded, 1)
    original = (await current(mod, seeded, qid))["text"]
    resp = await mod.patch(
        url(seeded, qid),
        json={"version": 1, "text": "How does feature 0 behave in production?", "tags": ["infra"]},
    )
    assert resp.status_code == 200
    q = resp.json()
    assert q["original_text"] == original and q["tags"] == ["infra"] and q["version"] == 2
    q = (
        await mod.patch(url(seeded, qid), json={"version": 2, "pinned": True, "anonymous": True})
    ).json()
    assert q["pinned"] and q["anonymous"] and q["author_name"] == "Anonymous"
    stale = await mod.patch(url(seeded, qid), json={"version": 2, "host_note": "ask Bo"})
    assert stale.status_code == 409 and stale.json()["error"]["current"]["pinned"] is True
    empty = await mod.patch(url(seeded, qid), json={"version": 3})
    assert empty.status_code == 400 and "nothing to change" in empty.json()["error"]["message"]


async def test_claims_are_visible_exclusive_and_released(
    stack: Stack, seeded: Seeded, clients: tuple[httpx.AsyncClient, ...]
) -> None:
    mod, ana = clients
    (qid,) = await make_questions(stack, seeded, 1)
    claimed = (await ana.post(url(seeded, qid, "/claim"), json={"version": 1})).json()
    assert claimed["claimed_by_name"] == "Ana" and claimed["claimed_until"]
    refused = await mod.post(url(seeded, qid, "/claim"), json={"version": 2})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "claimed"
    assert "Ana" in refused.json()["error"]["message"]
    released = (await ana.delete(url(seeded, qid, "/claim"))).json()
    assert released["claimed_by"] is None
    assert (await mod.post(url(seeded, qid, "/claim"), json={"version": 3})).status_code == 200


async def test_a_claim_expires_on_its_own(
    stack: Stack, seeded: Seeded, clients: tuple[httpx.AsyncClient, ...]
) -> None:
    mod, ana = clients
    (qid,) = await make_questions(stack, seeded, 1)
    assert (await ana.post(url(seeded, qid, "/claim"), json={"version": 1})).status_code == 200
    async with stack.db.sessions() as session:  # Ana walked away: her claim runs out
        lapsed = datetime.now(UTC) - timedelta(seconds=1)
        await session.execute(
            update(Question).where(Question.id == qid).values(claimed_until=lapsed)
        )
        await session.commit()
    taken = await mod.post(url(seeded, qid, "/claim"), json={"version": 2})
    assert taken.status_code == 200, taken.text
    assert taken.json()["claimed_by_name"] != "Ana"


async def test_undo_restores_the_last_action_unless_someone_changed_it_since(
    stack: Stack, seeded: Seeded, clients: tuple[httpx.AsyncClient, ...]
) -> None:
    mod, ana = clients
    q1, q2 = await make_questions(stack, seeded, 2)
    await move(mod, seeded, q1, "approved")
    await move(mod, seeded, q1, "on_deck")
    undone = await mod.post(f"/api/events/{seeded.event.id}/undo")
    assert undone.status_code == 200 and undone.json()["state"] == "approved"
    undone = await mod.post(f"/api/events/{seeded.event.id}/undo")
    assert undone.json()["state"] == "pending"
    nothing = await mod.post(f"/api/events/{seeded.event.id}/undo")
    assert nothing.status_code == 404 and nothing.json()["error"]["code"] == "nothing_to_undo"

    await move(mod, seeded, q2, "approved")
    await move(ana, seeded, q2, "rejected")
    blocked = await mod.post(f"/api/events/{seeded.event.id}/undo")
    assert blocked.status_code == 409 and blocked.json()["error"]["current"]["state"] == "rejected"


async def test_bulk_reports_what_it_could_not_do(
    stack: Stack, seeded: Seeded, clients: tuple[httpx.AsyncClient, ...]
) -> None:
    mod, _ = clients
    qids = await make_questions(stack, seeded, 3)
    await move(mod, seeded, qids[0], "on_deck")
    await move(mod, seeded, qids[0], "answered")
    resp = await mod.post(
        f"/api/events/{seeded.event.id}/questions/bulk", json={"ids": qids, "to": "rejected"}
    )
    body = resp.json()
    assert {q["id"] for q in body["done"]} == set(qids[1:])
    assert [f["id"] for f in body["failed"]] == [qids[0]]
    counts = (await mod.get(f"/api/events/{seeded.event.id}/questions/counts")).json()
    assert counts["rejected"] == 2 and counts["answered"] == 1


@pytest.mark.parametrize("backend", ["real"], indirect=True)
async def test_a_race_lost_inside_bulk_keeps_the_other_moves(stack: Stack, seeded: Seeded) -> None:
    # Only PostgreSQL lets another writer commit between bulk's read and its UPDATE.
    q1, q2 = await make_questions(stack, seeded, 2)
    async with stack.db.sessions() as session:
        mod = await session.get(User, seeded.member.id)
        assert mod is not None
        async with session.begin_nested():
            first = await service.get(session, seeded.event.id, q1)
            await service.transition(session, first, QuestionState.approved, 1, mod)
        second = await service.get(session, seeded.event.id, q2)  # read at version 1
        async with stack.db.sessions() as other:  # someone else moves it meanwhile
            await other.execute(update(Question).where(Question.id == q2).values(version=2))
            await other.commit()
        with pytest.raises(VersionConflict) as lost:
            async with session.begin_nested():
                await service.transition(session, second, QuestionState.approved, 1, mod)
        assert lost.value.extra["current"]["version"] == 2
        await session.commit()
    async with stack.db.sessions() as session:
        kept = await session.get(Question, q1)
        assert kept is not None and kept.state == QuestionState.approved


async def test_a_tag_filter_fills_the_page_it_asks_for(
    stack: Stack, seeded: Seeded, clients: tuple[httpx.AsyncClient, ...]
) -> None:
    mod, _ = clients
    qids = await make_questions(stack, seeded, 4)
    tagged = qids[-1]  # the newest: last in age order, beyond a page of one without the filter
    resp = await mod.patch(url(seeded, tagged), json={"version": 1, "tags": ["infra"]})
    assert resp.status_code == 200
    page = (
        await mod.get(
            f"/api/events/{seeded.event.id}/questions",
            params={"tag": "infra", "sort": "age", "limit": 1},
        )
    ).json()
    assert [q["id"] for q in page] == [tagged]


async def test_changes_reach_the_live_stream_after_commit(
    stack: Stack, seeded: Seeded, clients: tuple[httpx.AsyncClient, ...]
) -> None:
    mod, _ = clients
    (qid,) = await make_questions(stack, seeded, 1)
    before = await stack.bus.live_seq(seeded.event.id)
    await move(mod, seeded, qid, "approved")
    batches = await stack.bus.read_live(seeded.event.id, before, block_ms=100)
    items = [orjson.loads(i) for b in batches for i in b.items]
    assert [(i["type"], i["data"]["state"], i["data"]["version"]) for i in items] == [
        ("question.updated", "approved", 2)
    ]


async def test_every_mutating_route_leaves_an_audit_row(
    stack: Stack, seeded: Seeded, clients: tuple[httpx.AsyncClient, ...]
) -> None:
    """Walks the app's routes: each POST/PATCH/PUT/DELETE must write to the audit log."""
    mod, _ = clients
    qids = await make_questions(stack, seeded, 10)
    e = seeded.event.id
    source = seeded.sources[0].id
    async with stack.db.sessions() as session:  # a draft poll, and a host to run it
        poll = await polls.create(
            session,
            e,
            title="Best talk?",
            kind=PollKind.single,
            options=["A", "B"],
            duration_s=None,
            cue_id=None,
            actor="test",
        )
        spare = await polls.create(
            session,
            e,
            title="Spare",
            kind=PollKind.rating,
            options=[],
            duration_s=None,
            cue_id=None,
            actor="test",
        )
        host_user = await auth.create_user(session, "host", "host-pass", Role.host)
        await events.add_member(session, seeded.event, host_user.id, Role.host.value)
        _, overlay_token = overlays.create_token(session, e, host_user)  # one to revoke
        await session.commit()
    await overlays.store_token(stack.bus, e, overlay_token)
    async with stack.db.sessions() as session:  # an incident with a step, an ops lead
        opened = await incidents.open_incident(
            session,
            e,
            actor="test",
            now=datetime.now(UTC),
            entry={
                "slug": "chat-raid",
                "title": "Chat raid",
                "category": "chat",
                "default_severity": "sev3",
                "steps": [{"text": "Turn on slow mode", "owner_role": "moderator"}],
            },
        )
        assert opened.incident is not None
        incident_id = opened.incident["id"]
        step_id = opened.incident["steps"][0]["id"]
        lead_user = await auth.create_user(session, "lead", "lead-pass", Role.ops_lead)
        await events.add_member(session, seeded.event, lead_user.id, Role.ops_lead.value)
        await session.commit()
    async with stack.db.sessions() as session:  # two cues on the run-of-show
        cue_ids = []
        for i, title in enumerate(("Opening", "Spare")):
            cue = Cue(event_id=e, position=i, title=title, actions=[], actions_fired=[])
            session.add(cue)
            await session.flush()
            cue_ids.append(cue.id)
        await session.commit()
    calls = {
        ("POST", "/api/events/{event_id}/questions/{question_id}/transition"): (
            f"/api/events/{e}/questions/{qids[0]}/transition",
            {"to": "approved", "version": 1},
        ),
        ("PATCH", "/api/events/{event_id}/questions/{question_id}"): (
            f"/api/events/{e}/questions/{qids[1]}",
            {"version": 1, "tags": ["x"]},
        ),
        ("POST", "/api/events/{event_id}/questions/{question_id}/boost"): (
            f"/api/events/{e}/questions/{qids[2]}/boost",
            {"version": 1, "amount": 1},
        ),
        ("POST", "/api/events/{event_id}/questions/{question_id}/claim"): (
            f"/api/events/{e}/questions/{qids[3]}/claim",
            {"version": 1},
        ),
        ("DELETE", "/api/events/{event_id}/questions/{question_id}/claim"): (
            f"/api/events/{e}/questions/{qids[3]}/claim",
            None,
        ),
        ("POST", "/api/events/{event_id}/questions/bulk"): (
            f"/api/events/{e}/questions/bulk",
            {"ids": [qids[4]], "to": "rejected"},
        ),
        ("POST", "/api/events/{event_id}/undo"): (f"/api/events/{e}/undo", None),
        ("POST", "/api/events"): ("/api/events", {"slug": "audited", "title": "Audited"}),
        ("POST", "/api/events/{event_id}/chat/{message_id}/hide"): (
            f"/api/events/{e}/chat/{qids[5]}/hide",
            {"version": 1},
        ),
        ("POST", "/api/events/{event_id}/chat/{message_id}/unhide"): (
            f"/api/events/{e}/chat/{qids[5]}/unhide",
            {"version": 2},
        ),
        ("POST", "/api/events/{event_id}/chat/{message_id}/release"): (
            f"/api/events/{e}/chat/{qids[6]}/release",
            {"version": 1},
        ),
        ("POST", "/api/events/{event_id}/chat/{message_id}/reject"): (
            f"/api/events/{e}/chat/{qids[7]}/reject",
            {"version": 1},
        ),
        ("POST", "/api/events/{event_id}/chat/{message_id}/actions"): (
            f"/api/events/{e}/chat/{qids[5]}/actions",
            {"type": "delete"},
        ),
        ("POST", "/api/events/{event_id}/questions/{question_id}/merge"): (
            f"/api/events/{e}/questions/{qids[8]}/merge",
            {"into": qids[9], "version": 1},
        ),
        ("POST", "/api/events/{event_id}/questions/{question_id}/unmerge"): (
            f"/api/events/{e}/questions/{qids[8]}/unmerge",
            None,
        ),
        ("PUT", "/api/events/{event_id}/moderation/rules"): (
            f"/api/events/{e}/moderation/rules",
            {"version": 0, "rules": {"banned_terms": [], "flood": None, "spam": None}},
        ),
        ("POST", "/api/events/{event_id}/sources"): (
            f"/api/events/{e}/sources",
            {"platform": "simulator", "name": "rehearsal", "config": {"plays": "twitch"}},
        ),
        ("PATCH", "/api/events/{event_id}/sources/{source_id}"): (
            f"/api/events/{e}/sources/{source}",
            {"version": 1, "name": "Twitch main"},
        ),
        ("POST", "/api/events/{event_id}/sources/{source_id}/pause"): (
            f"/api/events/{e}/sources/{source}/pause",
            {"version": 2},
        ),
        ("POST", "/api/events/{event_id}/sources/{source_id}/resume"): (
            f"/api/events/{e}/sources/{source}/resume",
            {"version": 3},
        ),
        ("POST", "/api/events/{event_id}/polls"): (
            f"/api/events/{e}/polls",
            {"title": "Lunch?", "options": ["Pizza", "Salad"]},
        ),
        ("PATCH", "/api/events/{event_id}/polls/{poll_id}"): (
            f"/api/events/{e}/polls/{poll.id}",
            {"version": 1, "title": "Best talk today?"},
        ),
        ("POST", "/api/events/{event_id}/polls/{poll_id}/launch"): (
            f"/api/events/{e}/polls/{poll.id}/launch",
            {"version": 2},
        ),
        ("DELETE", "/api/events/{event_id}/polls/{poll_id}"): (
            f"/api/events/{e}/polls/{spare.id}",
            None,
        ),
        ("POST", "/api/events/{event_id}/polls/{poll_id}/close"): (
            f"/api/events/{e}/polls/{poll.id}/close",
            {"version": 3},
        ),
        ("POST", "/api/events/{event_id}/cues"): (f"/api/events/{e}/cues", {"title": "Q&A"}),
        ("PATCH", "/api/events/{event_id}/cues/{cue_id}"): (
            f"/api/events/{e}/cues/{cue_ids[0]}",
            {"version": 1, "notes": "wave"},
        ),
        ("POST", "/api/events/{event_id}/cues/go"): (
            f"/api/events/{e}/cues/go",
            {"expected_live": None},
        ),
        ("DELETE", "/api/events/{event_id}/cues/{cue_id}"): (
            f"/api/events/{e}/cues/{cue_ids[1]}",
            None,
        ),
        ("POST", "/api/events/{event_id}/cues/import"): (
            f"/api/events/{e}/cues/import",
            {"cues": [{"title": "Imported"}]},
        ),
        ("POST", "/api/events/{event_id}/overlays"): (f"/api/events/{e}/overlays", None),
        ("POST", "/api/events/{event_id}/audience"): (f"/api/events/{e}/audience", None),
        ("POST", "/api/events/{event_id}/incidents"): (
            f"/api/events/{e}/incidents",
            {"title": "Slides frozen", "category": "stream", "severity": "sev3"},
        ),
        ("POST", "/api/events/{event_id}/incidents/{incident_id}/notes"): (
            f"/api/events/{e}/incidents/{incident_id}/notes",
            {"text": "looking"},
        ),
        ("POST", "/api/events/{event_id}/incidents/{incident_id}/steps"): (
            f"/api/events/{e}/incidents/{incident_id}/steps",
            {"text": "Ban the raiders"},
        ),
        ("PATCH", "/api/events/{event_id}/incidents/{incident_id}/steps/{step_id}"): (
            f"/api/events/{e}/incidents/{incident_id}/steps/{step_id}",
            {"state": "done"},
        ),
        ("POST", "/api/events/{event_id}/incidents/{incident_id}/roles"): (
            f"/api/events/{e}/incidents/{incident_id}/roles",
            {"role": "lead", "user_id": seeded.member.id},
        ),
        ("PATCH", "/api/events/{event_id}/incidents/{incident_id}"): (
            f"/api/events/{e}/incidents/{incident_id}",
            {"version": 5, "severity": "sev2"},
        ),
        ("POST", "/api/events/{event_id}/incidents/{incident_id}/match"): (
            f"/api/events/{e}/incidents/{incident_id}/match",
            {"version": 6, "entry_slug": "platform-outage"},
        ),
        ("POST", "/api/events/{event_id}/incidents/{incident_id}/transition"): (
            f"/api/events/{e}/incidents/{incident_id}/transition",
            {"to": "acknowledged", "version": 7},
        ),
        ("POST", "/api/events/{event_id}/drills"): (
            f"/api/events/{e}/drills",
            {"scenario": "spam_raid", "speed": 20},
        ),
        ("DELETE", "/api/events/{event_id}/drills"): (f"/api/events/{e}/drills", None),
        ("POST", "/api/events/{event_id}/preflight"): (f"/api/events/{e}/preflight", {}),
        ("POST", "/api/events/{event_id}/audience/rotate"): (
            f"/api/events/{e}/audience/rotate",
            None,
        ),
        ("DELETE", "/api/events/{event_id}/overlays/{token_id}"): (
            f"/api/events/{e}/overlays/{overlay_token['id']}",
            None,
        ),
        # Organisation-wide: audited with no event, so it is not in this event's log.
        ("POST", "/api/playbook/import"): (
            "/api/playbook/import",
            yaml.safe_load(playbooks.default_text()),
        ),
    }
    async with stack.db.sessions() as session:  # two messages held for review
        await session.execute(
            update(ChatMessage).where(ChatMessage.id.in_(qids[6:8])).values(held=True)
        )
        await session.commit()
    # Platforms' webhook deliveries are signed input, not a person's action.
    exempt = {
        ("POST", "/api/auth/login"),
        ("POST", "/api/auth/logout"),
        ("POST", "/hooks/{source_id}"),
        # The audience's own input (questions, votes, upvotes): anonymous by design, and
        # it reaches the record through the pipeline like any platform's.
        ("POST", "/api/a/{code}/questions"),
        ("POST", "/api/a/{code}/votes"),
        ("POST", "/api/a/{code}/upvotes"),
    }
    paths = create_app(stack.settings).openapi()["paths"]
    app_routes = {
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if method.upper() in {"POST", "PATCH", "PUT", "DELETE"}
    }
    assert app_routes - exempt == set(calls), "a new mutating route needs an entry here"

    admin = httpx.AsyncClient(transport=mod._transport, base_url="http://t")  # type: ignore[attr-defined]
    await admin.post("/api/auth/login", json={"username": "admin", "password": "admin-pass"})
    host = httpx.AsyncClient(transport=mod._transport, base_url="http://t")  # type: ignore[attr-defined]
    await host.post("/api/auth/login", json={"username": "host", "password": "host-pass"})
    lead = httpx.AsyncClient(transport=mod._transport, base_url="http://t")  # type: ignore[attr-defined]
    await lead.post("/api/auth/login", json={"username": "lead", "password": "lead-pass"})
    for (method, template), (path, body) in calls.items():
        admin_only = template == "/api/events" or "/sources" in template or "/playbook" in template
        client = admin if admin_only else mod
        on_air = ("/polls", "/cues", "/overlays", "/audience")
        client = host if any(p in template for p in on_air) else client
        client = lead if "/drills" in template or "/preflight" in template else client
        async with stack.db.sessions() as session:
            before = await session.scalar(select(func.max(AuditLog.id))) or 0
        resp = await client.request(method, path, json=body)
        assert resp.status_code in (200, 201), (template, resp.text)
        async with stack.db.sessions() as session:
            rows = (await session.scalars(select(AuditLog).where(AuditLog.id > before))).all()
        assert rows, f"{method} {template} left no audit row"
        assert all(r.actor.startswith("user:") for r in rows)
    everything = (await mod.get(f"/api/events/{e}/audit")).json()
    csv = await mod.get(f"/api/events/{e}/audit?format=csv")
    assert csv.status_code == 200 and csv.text.startswith("id,at,actor,action")
    csv_rows = list(DictReader(io.StringIO(csv.text)))
    assert sorted(r["id"] for r in csv_rows) == sorted(str(r["id"]) for r in everything)
    by_id = {str(r["id"]): r for r in everything}
    for row in csv_rows:  # before/after read back as the JSON the API gives
        assert (json.loads(row["after"]) if row["after"] else None) == by_id[row["id"]]["after"]
    # The event created by the walk is another event: its row is not in this one's log.
    assert "audited" not in {(r.get("after") or {}).get("slug") for r in everything}
    by_actor = (await mod.get(f"/api/events/{e}/audit", params={"actor": "user:mod"})).json()
    assert by_actor and all(r["actor"] == "user:mod" for r in by_actor)
    # admin acted here only on sources (and created the other event, not logged here)
    by_admin = (await mod.get(f"/api/events/{e}/audit", params={"actor": "user:admin"})).json()
    assert {r["target_type"] for r in by_admin} == {"source"}
    per_author = (await mod.get(f"/api/events/{e}/audit?author_id=u0")).json()
    assert {r["target_id"] for r in per_author} == {qids[0]}, "Asker 0 wrote qids[0] only"
    per_question = (await mod.get(f"/api/events/{e}/audit?target_id={qids[0]}")).json()
    assert [r["action"] for r in per_question] == ["transition"]
    assert per_question[0]["before"]["state"] == "pending"
    assert per_question[0]["after"]["state"] == "approved"
    await admin.aclose()
    await host.aclose()
