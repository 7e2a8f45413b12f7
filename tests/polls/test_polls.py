"""Polls on both stacks: counting (duplicates, changes, late, platforms), launch/close/timer,
409s, roles, audit, and chat votes through the real pipeline."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from app.audit.models import AuditLog
from app.auth import service as auth
from app.auth.models import Role
from app.envelope import Author, Kind, make_envelope
from app.errors import AppError
from app.events import service as events
from app.main import create_app
from app.pipeline.worker import PipelineWorker
from app.polls import service
from app.polls.models import Poll, PollKind, Vote
from app.polls.service import Ballot
from tests.conftest import Seeded, Stack
from tests.pipeline.harness import chat, deltas, drain

T0 = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)


async def make_poll(
    stack: Stack,
    seeded: Seeded,
    kind: PollKind = PollKind.single,
    options: list[str] | None = None,
    *,
    launch: bool = True,
    duration_s: int | None = None,
    now: datetime = T0,
) -> str:
    async with stack.db.sessions() as session:
        poll = await service.create(
            session,
            seeded.event.id,
            title="Best talk?",
            kind=kind,
            options=[] if kind is PollKind.rating else (options or ["Keynote", "Panel", "Demo"]),
            duration_s=duration_s,
            cue_id=None,
            actor="test",
        )
        change = await service.launch(session, poll, "test", now=now) if launch else None
        await session.commit()
    if change is not None:
        await change.publish(stack.bus)
    return poll.id


def ballot(
    poll: str, voter: str, choices: object, at: datetime, platform: str = "twitch"
) -> Ballot:
    return Ballot(poll, f"{platform}:{voter}", platform, None, choices, at)


async def record(stack: Stack, seeded: Seeded, ballots: list[Ballot]) -> service.VoteOutcome:
    async with stack.db.sessions() as session:
        outcome = await service.record_votes(session, seeded.event.id, ballots)
        await session.commit()
        return outcome


async def current_results(stack: Stack, poll_id: str) -> dict:
    async with stack.db.sessions() as session:
        poll = await session.get(Poll, poll_id)
        assert poll is not None
        return await service.results(session, poll)


def votes(results: dict) -> list[int]:
    return [o["votes"] for o in results["options"]]


async def test_duplicate_votes_count_once(stack: Stack, seeded: Seeded) -> None:
    pid = await make_poll(stack, seeded)
    at = T0 + timedelta(seconds=1)
    await record(stack, seeded, [ballot(pid, "u1", [2], at), ballot(pid, "u1", [2], at)])
    await record(stack, seeded, [ballot(pid, "u1", [2], at)])  # a redelivered batch
    found = await current_results(stack, pid)
    assert votes(found) == [0, 1, 0] and found["total_voters"] == 1


async def test_a_changed_vote_replaces_the_old_one(stack: Stack, seeded: Seeded) -> None:
    pid = await make_poll(stack, seeded)
    await record(stack, seeded, [ballot(pid, "u1", [1], T0 + timedelta(seconds=1))])
    await record(stack, seeded, [ballot(pid, "u1", [3], T0 + timedelta(seconds=2))])
    assert votes(await current_results(stack, pid)) == [0, 0, 1]
    # In one batch the later ballot wins, whatever the order; an older redelivery never undoes it.
    await record(
        stack,
        seeded,
        [
            ballot(pid, "u2", [2], T0 + timedelta(seconds=5)),
            ballot(pid, "u2", [1], T0 + timedelta(seconds=4)),
        ],
    )
    await record(stack, seeded, [ballot(pid, "u1", [1], T0 + timedelta(seconds=1))])
    found = await current_results(stack, pid)
    assert votes(found) == [0, 1, 1] and found["total_voters"] == 2


async def test_votes_after_close_are_counted_late_and_not_stored(
    stack: Stack, seeded: Seeded
) -> None:
    pid = await make_poll(stack, seeded)
    await record(stack, seeded, [ballot(pid, "u1", [1], T0 + timedelta(seconds=1))])
    async with stack.db.sessions() as session:
        poll = await session.get(Poll, pid)
        assert poll is not None
        await service.close(session, poll, "test", now=T0 + timedelta(seconds=10))
        await session.commit()
    outcome = await record(
        stack,
        seeded,
        [
            ballot(pid, "u2", [2], T0 + timedelta(seconds=11)),
            ballot(pid, "u1", [3], T0 + timedelta(seconds=12)),
        ],
    )
    assert outcome.late == 2 and outcome.counted == 0 and not outcome.rejected
    assert outcome.touched == [pid]  # late votes change the results too
    found = await current_results(stack, pid)
    assert votes(found) == [1, 0, 0] and found["late_votes"] == 2 and found["state"] == "closed"
    async with stack.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Vote)) == 1


async def test_votes_from_several_platforms_are_merged_and_broken_down(
    stack: Stack, seeded: Seeded
) -> None:
    pid = await make_poll(stack, seeded, PollKind.multiple, ["A", "B", "C", "D"])
    at = T0 + timedelta(seconds=1)
    await record(
        stack,
        seeded,
        [
            ballot(pid, "same-id", [1], at, "twitch"),
            ballot(pid, "same-id", [1, 3], at, "youtube"),  # another person on another platform
            ballot(pid, "y2", [3], at, "youtube"),
            ballot(pid, "z1", [4, 1], at, "zoom"),
            Ballot(pid, "audience:c1", "audience", None, [2], at),
        ],
    )
    found = await current_results(stack, pid)
    assert votes(found) == [3, 1, 2, 1]
    assert found["total_voters"] == 5
    assert found["by_platform"] == {
        "twitch": {"voters": 1, "counts": [1, 0, 0, 0]},
        "youtube": {"voters": 2, "counts": [1, 0, 2, 0]},
        "zoom": {"voters": 1, "counts": [1, 0, 0, 1]},
        "audience": {"voters": 1, "counts": [0, 1, 0, 0]},
    }


async def test_invalid_choices_are_rejected_with_the_reason(stack: Stack, seeded: Seeded) -> None:
    pid = await make_poll(stack, seeded)
    at = T0 + timedelta(seconds=1)
    outcome = await record(
        stack,
        seeded,
        [
            ballot(pid, "u1", [4], at),
            ballot(pid, "u2", [1, 2], at),
            ballot(pid, "u3", "2", at),
            ballot("nope", "u4", [1], at),
            ballot("current", "u5", [2], at),
        ],
    )
    reasons = dict(outcome.rejected)
    assert set(reasons) == {0, 1, 2, 3}
    assert "between 1 and 3" in reasons[0] and "single choice" in reasons[1]
    assert "no poll nope" in reasons[3]
    assert votes(await current_results(stack, pid)) == [0, 1, 0]  # "current" found the open one


async def test_rating_results_and_average(stack: Stack, seeded: Seeded) -> None:
    pid = await make_poll(stack, seeded, PollKind.rating)
    at = T0 + timedelta(seconds=1)
    await record(
        stack,
        seeded,
        [ballot(pid, "a", [5], at), ballot(pid, "b", [4], at), ballot(pid, "c", [6], at)],
    )
    found = await current_results(stack, pid)
    assert votes(found) == [0, 0, 0, 1, 1] and found["average"] == 4.5


async def test_create_validates_options(stack: Stack, seeded: Seeded) -> None:
    async with stack.db.sessions() as session:
        for kind, options, message in (
            (PollKind.single, ["only one"], "2 to 10 options"),
            (PollKind.multiple, [str(i) for i in range(11)], "2 to 10 options"),
            (PollKind.rating, ["1", "2"], "no options"),
            (PollKind.single, ["Yes", "yes"], "same label"),
            (PollKind.single, ["Yes", " "], "needs a label"),
        ):
            with pytest.raises(AppError, match=message) as err:
                await service.create(
                    session,
                    seeded.event.id,
                    title="t",
                    kind=kind,
                    options=options,
                    duration_s=None,
                    cue_id=None,
                    actor="test",
                )
            assert err.value.status_code == 422


async def test_timer_closes_the_poll_and_later_votes_are_late(stack: Stack, seeded: Seeded) -> None:
    pid = await make_poll(stack, seeded, duration_s=30)
    async with stack.db.sessions() as session:
        assert await service.close_due(session, T0 + timedelta(seconds=29)) == []
    # Past the timer but before the sweep: the vote is late already.
    outcome = await record(stack, seeded, [ballot(pid, "u1", [1], T0 + timedelta(seconds=31))])
    assert outcome.late == 1
    worker = PipelineWorker(stack.bus, stack.db, consumer="t")
    await worker.tick_polls(T0 + timedelta(seconds=32))
    found = await current_results(stack, pid)
    assert found["state"] == "closed" and found["late_votes"] == 1
    async with stack.db.sessions() as session:
        poll = await session.get(Poll, pid)
        assert poll is not None and poll.closes_at == T0 + timedelta(seconds=30)
        actors = (
            await session.scalars(select(AuditLog.actor).where(AuditLog.target_id == pid))
        ).all()
    assert "timer" in actors
    published = [d for d in await deltas(stack, seeded.event.id) if d["type"] == "poll.updated"]
    assert published[-1]["data"]["state"] == "closed"
    await worker.tick_polls(T0 + timedelta(seconds=40))  # nothing left to close
    after = [d for d in await deltas(stack, seeded.event.id) if d["type"] == "poll.updated"]
    assert [d["data"]["state"] for d in after] == ["open", "closed"]


async def test_chat_votes_through_the_pipeline(stack: Stack, seeded: Seeded) -> None:
    pid = await make_poll(stack, seeded, now=datetime.now(UTC))
    lines = [
        chat(seeded, "m1", "!vote 2", author="a"),
        chat(seeded, "m2", "!2nd place lol", author="b"),
        chat(seeded, "m3", "!b", source=1, author="c"),
        chat(seeded, "m4", "!vote 3", author="a"),  # a changes their mind
        chat(seeded, "m5", "I vote 1", source=2, author="d"),
        chat(seeded, "m6", "!1", source=2, author="e"),
        chat(seeded, "m7", "!vote 9", author="f"),  # out of range: stays chat, no vote
    ]
    native = make_envelope(
        event_id=seeded.event.id,
        source_id=seeded.sources[1].id,
        platform="youtube",
        kind=Kind.vote,
        platform_message_id="pv1",
        platform_at=datetime.now(UTC),
        author=Author(id="g", name="G"),
        data={"poll": "current", "choices": [1]},
    )
    bad = make_envelope(
        event_id=seeded.event.id,
        source_id=seeded.sources[1].id,
        platform="youtube",
        kind=Kind.vote,
        platform_message_id="pv2",
        platform_at=datetime.now(UTC),
        author=Author(id="h", name="H"),
        data={"poll": pid, "choices": [1, 2]},
    )
    await stack.bus.add_ingest(seeded.event.id, [*lines, native.to_json(), bad.to_json()])
    worker = PipelineWorker(stack.bus, stack.db, consumer="t")
    await drain(stack, worker, seeded.event.id)
    published = await deltas(stack, seeded.event.id)
    shown = [d["data"]["text"] for d in published if d["type"] == "chat.message"]
    assert len(shown) == 7 and "!vote 2" in shown  # vote lines stay chat
    assert not [d for d in published if d["type"] == "poll.results"], "counted by the ticker"
    await worker.tick_results()
    await worker.tick_results()  # nothing marked since: nothing more
    published = await deltas(stack, seeded.event.id)
    found = [d["data"] for d in published if d["type"] == "poll.results"]
    assert len(found) == 1, "one results delta per changed poll per tick"
    assert votes(found[0]) == [2, 1, 1] and found[0]["total_voters"] == 4
    assert found[0]["by_platform"]["youtube"] == {"voters": 2, "counts": [1, 1, 0]}
    assert found[0]["by_platform"]["zoom"] == {"voters": 1, "counts": [1, 0, 0]}
    assert worker.stats.dead_letters == 1
    letters = await stack.bus.dead_letters(seeded.event.id)
    assert any("single choice" in letter.reason for letter in letters)


# -- REST --


@pytest.fixture
async def host(stack: Stack, seeded: Seeded) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.db.sessions() as session:
        user = await auth.create_user(session, "host", "host-pass", Role.host, "Hana")
        await events.add_member(session, seeded.event, user.id, Role.host.value)
        await session.commit()
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        resp = await client.post(
            "/api/auth/login", json={"username": "host", "password": "host-pass"}
        )
        assert resp.status_code == 200
        yield client
        await client.aclose()


def purl(seeded: Seeded, suffix: str = "") -> str:
    return f"/api/events/{seeded.event.id}/polls{suffix}"


async def test_rest_lifecycle_409s_and_audit(
    stack: Stack, seeded: Seeded, host: httpx.AsyncClient
) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"title": "Lunch?", "kind": "single", "options": ["Pizza", "Salad"], "duration_s": 60}
    made = await host.post(purl(seeded), json=body, headers=key)
    again = await host.post(purl(seeded), json=body, headers=key)
    assert made.status_code == 200 and made.json() == again.json()
    poll = made.json()
    assert poll["state"] == "draft" and poll["options"] == ["Pizza", "Salad"]
    bad = await host.post(purl(seeded), json={"title": "x", "kind": "rating", "options": ["a"]})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_poll"

    pid = poll["id"]
    edited = await host.patch(
        purl(seeded, f"/{pid}"), json={"version": 1, "options": ["Pizza", "Soup", "Salad"]}
    )
    assert edited.status_code == 200 and edited.json()["version"] == 2
    stale = await host.patch(purl(seeded, f"/{pid}"), json={"version": 1, "title": "Dinner?"})
    assert stale.status_code == 409
    assert stale.json()["error"]["current"]["options"] == ["Pizza", "Soup", "Salad"]

    launched = await host.post(purl(seeded, f"/{pid}/launch"), json={"version": 2})
    assert launched.status_code == 200, launched.text
    assert launched.json()["state"] == "open" and launched.json()["closes_at"] is not None
    no_edit = await host.patch(purl(seeded, f"/{pid}"), json={"version": 3, "title": "x"})
    assert no_edit.status_code == 409 and no_edit.json()["error"]["code"] == "poll_state"

    second = (await host.post(purl(seeded), json={"title": "Next", "kind": "rating"})).json()
    blocked = await host.post(purl(seeded, f"/{second['id']}/launch"), json={"version": 1})
    assert blocked.status_code == 409
    assert blocked.json()["error"]["code"] == "poll_already_open"
    assert (
        pid in blocked.json()["error"]["message"] and "Lunch?" in blocked.json()["error"]["message"]
    )

    closed = await host.post(purl(seeded, f"/{pid}/close"), json={"version": 3})
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    assert (
        await host.post(purl(seeded, f"/{second['id']}/launch"), json={"version": 1})
    ).status_code == 200

    listed = (await host.get(purl(seeded))).json()
    assert [p["state"] for p in listed] == ["closed", "open"]
    async with stack.db.sessions() as session:
        actions = (
            await session.scalars(
                select(AuditLog.action).where(AuditLog.target_id == pid).order_by(AuditLog.id)
            )
        ).all()
    assert actions == ["poll_create", "poll_edit", "poll_launch", "poll_close"]
    updates = [d for d in await deltas(stack, seeded.event.id) if d["type"] == "poll.updated"]
    assert [u["data"]["state"] for u in updates if u["data"]["id"] == pid][-2:] == [
        "open",
        "closed",
    ]


async def test_a_moderator_may_read_but_not_run_polls(
    stack: Stack, seeded: Seeded, mod: httpx.AsyncClient
) -> None:
    pid = await make_poll(stack, seeded, launch=False)
    assert (await mod.get(purl(seeded, f"/{pid}"))).status_code == 200
    resp = await mod.post(purl(seeded, f"/{pid}/launch"), json={"version": 1})
    assert resp.status_code == 403 and "host" in resp.json()["error"]["message"]
    created = await mod.post(purl(seeded), json={"title": "t", "options": ["a", "b"]})
    assert created.status_code == 403


async def test_a_draft_can_be_deleted_unless_live_or_on_the_cue_sheet(
    stack: Stack, seeded: Seeded, host: httpx.AsyncClient
) -> None:
    async def draft(title: str) -> dict:
        body = {"title": title, "kind": "single", "options": ["Yes", "No"]}
        made = await host.post(purl(seeded), json=body)
        assert made.status_code == 200
        return dict(made.json())

    spare, cued, launched = await draft("Spare"), await draft("Cued"), await draft("Live")
    stale = await host.delete(purl(seeded, f"/{spare['id']}"), params={"version": 9})
    assert stale.status_code == 409 and stale.json()["error"]["current"]["id"] == spare["id"]
    gone = await host.delete(purl(seeded, f"/{spare['id']}"), params={"version": 1})
    assert gone.status_code == 200 and gone.json() == {"id": spare["id"], "deleted": True}
    assert (await host.get(purl(seeded, f"/{spare['id']}"))).status_code == 404
    published = [d for d in await deltas(stack, seeded.event.id) if d["type"] == "poll.deleted"]
    assert [d["data"] for d in published] == [{"id": spare["id"]}]

    cue = await host.post(
        f"/api/events/{seeded.event.id}/cues",
        json={"title": "Vote", "actions": [{"type": "open_poll", "poll_id": cued["id"]}]},
    )
    assert cue.status_code == 200, cue.text
    in_use = await host.delete(purl(seeded, f"/{cued['id']}"))
    assert in_use.status_code == 409 and in_use.json()["error"]["code"] == "poll_in_use"
    assert "“Vote”" in in_use.json()["error"]["message"]

    await host.post(purl(seeded, f"/{launched['id']}/launch"), json={"version": 1})
    on_air = await host.delete(purl(seeded, f"/{launched['id']}"))
    assert on_air.status_code == 409 and on_air.json()["error"]["code"] == "poll_state"
    async with stack.db.sessions() as session:
        audited = (
            await session.scalars(
                select(AuditLog.action)
                .where(AuditLog.target_id == spare["id"])
                .order_by(AuditLog.id)
            )
        ).all()
    assert audited == ["poll_create", "poll_delete"]
