"""Run-of-show on both stacks: GO with a controllable clock, races, order, import/export."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.auth import service as auth
from app.auth.models import Role
from app.connectors.clock import Clock
from app.cues import service
from app.events import service as events
from app.main import create_app
from app.polls.models import Poll, PollKind
from app.questions.models import Question
from tests.conftest import Seeded, Stack

T0 = datetime(2026, 11, 26, 18, 0, 0, tzinfo=UTC)


class ManualClock(Clock):
    """Time moves only when the test says so."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@dataclass
class Show:
    host: httpx.AsyncClient
    host2: httpx.AsyncClient
    mod: httpx.AsyncClient
    clock: ManualClock
    base: str


@pytest.fixture
async def show(stack: Stack, seeded: Seeded) -> AsyncIterator[Show]:
    async with stack.db.sessions() as session:
        for name in ("host", "host2"):
            user = await auth.create_user(session, name, f"{name}-pass", Role.host)
            await events.add_member(session, seeded.event, user.id, Role.host.value)
        # What SHEET_YAML's actions name (a cue may only name the event's own).
        session.add(Poll(id="p1", event_id=seeded.event.id, title="Best?", kind=PollKind.single))
        session.add(
            Question(
                id="q1",
                event_id=seeded.event.id,
                source_id=seeded.sources[3].id,
                platform="qa",
                platform_message_id="q1",
                author_id="a1",
                author_name="Ana",
                text="Why?",
                platform_at=T0,
                received_at=T0,
            )
        )
        await session.commit()
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    clock = ManualClock(T0)
    app.state.clock = clock
    async with app.router.lifespan_context(app):
        made = []
        for user, password in (("host", "host-pass"), ("host2", "host2-pass"), ("mod", "mod-pass")):
            c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
            assert (
                await c.post("/api/auth/login", json={"username": user, "password": password})
            ).status_code == 200
            made.append(c)
        try:
            yield Show(*made, clock, f"/api/events/{seeded.event.id}/cues")
        finally:
            for c in made:
                await c.aclose()


async def add(show: Show, title: str, **fields: Any) -> dict[str, Any]:
    resp = await show.host.post(show.base, json={"title": title, **fields})
    assert resp.status_code == 200, resp.text
    return next(c for c in resp.json()["cues"] if c["title"] == title)


async def sheet(show: Show) -> dict[str, Any]:
    resp = await show.host.get(show.base)
    assert resp.status_code == 200
    return dict(resp.json())


async def go(
    show: Show, expected: str | None, client: httpx.AsyncClient | None = None
) -> httpx.Response:
    return await (client or show.host).post(f"{show.base}/go", json={"expected_live": expected})


async def live_items(stack: Stack, event_id: str, since: int) -> list[dict[str, Any]]:
    batches = await stack.bus.read_live(event_id, since, block_ms=100)
    return [orjson.loads(i) for b in batches for i in b.items]


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def same_time(value: str | None, seconds: float) -> bool:
    return value is not None and datetime.fromisoformat(value) == T0 + timedelta(seconds=seconds)


async def test_go_records_actual_times_counts_down_and_flags_an_overrun_once(
    stack: Stack, seeded: Seeded, show: Show
) -> None:
    e = seeded.event.id
    opening = await add(show, "Opening", planned_duration_s=60)
    keynote = await add(show, "Keynote", planned_duration_s=30)
    await add(show, "Outro")
    assert [c["state"] for c in (await sheet(show))["cues"]] == ["pending"] * 3

    started = await go(show, None)
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["live"]["id"] == opening["id"] and body["next"]["id"] == keynote["id"]
    assert same_time(body["live"]["actual_start_at"], 0)
    assert same_time(body["server_time"], 0)

    show.clock.advance(45)
    now = await sheet(show)
    first = now["cues"][0]
    assert first["state"] == "live" and first["remaining_s"] == 15 and not first["overrun"]
    async with stack.db.sessions() as session:
        assert await service.overruns(session, e, show.clock.now()) == []
    assert await service.flag_overruns(stack.db, stack.bus, e, show.clock.now()) == []

    second = await go(show, opening["id"])
    assert second.status_code == 200, second.text
    ended = second.json()["ended"]
    assert ended["state"] == "done" and same_time(ended["actual_end_at"], 45)
    assert same_time(ended["actual_start_at"], 0) and ended["overrun_s"] == 0
    assert same_time(second.json()["live"]["actual_start_at"], 45)

    show.clock.advance(40)  # keynote planned 30 s: 10 s over
    now = await sheet(show)
    assert now["cues"][1]["remaining_s"] == -10 and now["cues"][1]["overrun_s"] == 10
    assert now["cues"][1]["overrun"] is True
    async with stack.db.sessions() as session:
        assert [c.id for c in await service.overruns(session, e, show.clock.now())] == [
            keynote["id"]
        ]
    since = await stack.bus.live_seq(e)
    assert await service.flag_overruns(stack.db, stack.bus, e, show.clock.now()) == [keynote["id"]]
    show.clock.advance(5)
    assert await service.flag_overruns(stack.db, stack.bus, e, show.clock.now()) == []
    overruns = [i for i in await live_items(stack, e, since) if i["type"] == "cue.overrun"]
    assert [(i["topic"], i["data"]["id"], i["data"]["overrun_s"]) for i in overruns] == [
        ("cues", keynote["id"], 10)
    ]
    async with stack.db.sessions() as session:
        rows = (
            await session.scalars(select(AuditLog).where(AuditLog.action == "cue.overrun"))
        ).all()
    assert [(r.target_id, r.actor) for r in rows] == [(keynote["id"], "system")]

    assert (await go(show, keynote["id"])).status_code == 200
    last = await go(show, (await sheet(show))["live_cue_id"])
    assert last.status_code == 200 and last.json()["live"] is None
    final = await sheet(show)
    assert [c["state"] for c in final["cues"]] == ["done"] * 3 and final["live_cue_id"] is None
    assert same_time(final["cues"][1]["actual_end_at"], 90)
    assert final["cues"][1]["overrun_s"] == 15  # played from 45 s to 90 s, planned 30
    nothing = await go(show, None)
    assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "nothing_to_go"


async def test_two_hosts_press_go_at_once_one_wins_the_other_gets_409_with_the_live_cue(
    stack: Stack, seeded: Seeded, show: Show
) -> None:
    first = await add(show, "First", planned_duration_s=60)
    await add(show, "Second", planned_duration_s=60)
    ra, rb = await asyncio.gather(go(show, None), go(show, None, show.host2))
    assert sorted([ra.status_code, rb.status_code]) == [200, 409]
    winner, loser = (ra, rb) if ra.status_code == 200 else (rb, ra)
    assert winner.json()["live"]["id"] == first["id"]
    err = loser.json()["error"]
    assert err["code"] == "live_cue_changed"
    assert err["current"]["live"]["id"] == first["id"] and "First" in err["message"]
    # The same race one step later: both saw "First" live.
    ra, rb = await asyncio.gather(go(show, first["id"]), go(show, first["id"], show.host2))
    assert sorted([ra.status_code, rb.status_code]) == [200, 409]
    live = await sheet(show)
    assert [c["state"] for c in live["cues"]] == ["done", "live"]
    async with stack.db.sessions() as session:
        starts = (
            await session.scalars(select(AuditLog).where(AuditLog.action == "cue.start"))
        ).all()
    assert len(starts) == 2


async def test_moving_a_cue_shifts_the_others_and_keeps_positions_dense(show: Show) -> None:
    cues = [await add(show, title) for title in "ABCDE"]
    moved = await show.host.patch(
        f"{show.base}/{cues[4]['id']}", json={"version": 1, "position": 1}
    )
    assert moved.status_code == 200, moved.text
    rows = moved.json()["cues"]
    assert [c["title"] for c in rows] == list("AEBCD")
    assert [c["position"] for c in rows] == [0, 1, 2, 3, 4]
    back = await show.host.patch(
        f"{show.base}/{cues[4]['id']}", json={"version": 2, "position": 99}
    )
    assert [c["title"] for c in back.json()["cues"]] == list("ABCDE")
    stale = await show.host.patch(f"{show.base}/{cues[4]['id']}", json={"version": 2, "notes": "x"})
    assert stale.status_code == 409 and stale.json()["error"]["current"]["version"] == 3
    gone = await show.host.delete(f"{show.base}/{cues[1]['id']}")
    assert gone.status_code == 200
    assert [(c["title"], c["position"]) for c in gone.json()["cues"]] == [
        ("A", 0),
        ("C", 1),
        ("D", 2),
        ("E", 3),
    ]
    inserted = await show.host.post(show.base, json={"title": "Z", "position": 0})
    assert [c["title"] for c in inserted.json()["cues"]] == list("ZACDE")
    assert [c["position"] for c in inserted.json()["cues"]] == [0, 1, 2, 3, 4]


async def test_the_live_and_played_cues_are_fixed(show: Show) -> None:
    a = await add(show, "A")
    await add(show, "B")
    await go(show, None)
    cur = await sheet(show)
    moved = await show.host.patch(
        f"{show.base}/{a['id']}", json={"version": cur["cues"][0]["version"], "position": 1}
    )
    assert moved.status_code == 409 and moved.json()["error"]["code"] == "cue_locked"
    retimed = await show.host.patch(
        f"{show.base}/{a['id']}",
        json={"version": cur["cues"][0]["version"], "planned_duration_s": 90},
    )
    assert retimed.status_code == 200 and retimed.json()["cues"][0]["planned_duration_s"] == 90
    assert (await show.host.delete(f"{show.base}/{a['id']}")).status_code == 409


SHEET_YAML = """\
cues:
  - title: Opening
    planned_start_at: "2026-11-26T18:00:00+00:00"
    planned_duration_s: 300
    owner_role: host
    notes: "Welcome, sponsors"
    actions:
      - {type: open_qa}
      - {type: show_checklist, title: Before we start, items: [mics, slides]}
  - title: Poll time
    planned_duration_s: 120
    owner_role: ops_lead
    actions:
      - {type: open_poll, poll_id: p1}
      - {type: close_poll, poll_id: p1}
      - {type: show_question, question_id: q1}
      - {type: close_qa}
  - title: Outro
"""


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
async def test_export_then_import_gives_the_same_sheet(show: Show, fmt: str) -> None:
    imported = await show.host.post(
        f"{show.base}/import", content=SHEET_YAML, headers={"Content-Type": "application/yaml"}
    )
    assert imported.status_code == 200, imported.text
    first = await show.host.get(f"{show.base}/export", params={"format": fmt})
    assert first.status_code == 200
    kind = "text/csv" if fmt == "csv" else "application/yaml"
    assert first.headers["content-type"].startswith(kind)
    plan_fields = (
        "title",
        "planned_start_at",
        "planned_duration_s",
        "owner_role",
        "notes",
        "actions",
    )
    before = [{k: c[k] for k in plan_fields} for c in (await sheet(show))["cues"]]
    assert before[1]["actions"][0] == {"type": "open_poll", "poll_id": "p1"}
    again = await show.host.post(
        f"{show.base}/import", content=first.text, headers={"Content-Type": kind}
    )
    assert again.status_code == 200, again.text
    after = [{k: c[k] for k in plan_fields} for c in (await sheet(show))["cues"]]
    assert after == before and len(after) == 3
    second = await show.host.get(f"{show.base}/export", params={"format": fmt})
    assert second.text == first.text


async def test_import_replaces_only_the_pending_cues(show: Show) -> None:
    a = await add(show, "Played")
    await add(show, "Old plan")
    await go(show, None)
    resp = await show.host.post(
        f"{show.base}/import", content=SHEET_YAML, headers={"Content-Type": "application/yaml"}
    )
    rows = resp.json()["cues"]
    assert [c["title"] for c in rows] == ["Played", "Opening", "Poll time", "Outro"]
    assert rows[0]["id"] == a["id"] and [c["position"] for c in rows] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("kind", "text", "line", "field", "words"),
    [
        (
            "application/yaml",
            "cues:\n  - title: Fine\n  - title: Bad\n    notes: ok\n    planned_duration_s: soon\n",
            5,
            "planned_duration_s",
            "integer",
        ),
        (
            "application/yaml",
            "cues:\n  - title: A\n    actions:\n      - {type: launch_rocket}\n",
            4,  # the action's own line, not its list's
            "actions.0",
            "launch_rocket",
        ),
        ("application/yaml", "cues:\n  - title: A\n  - [oops\n", 4, "", "YAML"),
        ("application/yaml", "cues:\n  - title: A\n    title: B\n", 3, "", "duplicate key"),
        (
            "text/csv",
            'title,planned_duration_s,actions\nFine,10,\n"Two\nlines",20,\nBad,30,[{"type": "open_poll"}]\n',
            5,
            "actions.0.open_poll.poll_id",
            "required",
        ),
        ("text/csv", "title,notes\nA,x\nB,y\n,z\n", 4, "title", "required"),
        ("text/csv", "title,colour\nA,red\n", 1, "", "colour"),
        ("text/csv", "title,actions\nA,{not json\n", 2, "actions", "JSON"),
    ],
)
async def test_import_errors_name_the_line_and_field(
    show: Show, kind: str, text: str, line: int, field: str, words: str
) -> None:
    await add(show, "Kept")
    resp = await show.host.post(f"{show.base}/import", content=text, headers={"Content-Type": kind})
    assert resp.status_code == 422, resp.text
    err = resp.json()["error"]
    assert err["code"] == "invalid_sheet"
    first = err["details"][0]
    assert (first["line"], first["field"]) == (line, field), err
    assert words in first["problem"]
    assert f"line {line}" in err["message"]
    assert [c["title"] for c in (await sheet(show))["cues"]] == ["Kept"]


async def test_a_malformed_action_is_a_clear_422(show: Show) -> None:
    resp = await show.host.post(
        show.base, json={"title": "X", "actions": [{"type": "show_checklist", "items": []}]}
    )
    assert resp.status_code == 422
    assert "actions.0.show_checklist.items" in resp.json()["error"]["message"]
    unsupported = await show.host.post(
        f"{show.base}/import", content="title\nA\n", headers={"Content-Type": "text/plain"}
    )
    assert unsupported.status_code == 415


async def test_go_fires_the_cue_actions_and_records_each_result(
    stack: Stack, seeded: Seeded, show: Show, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    async def stub(ctx: service.ActionContext, action: dict[str, Any]) -> dict[str, Any]:
        calls.append((ctx.cue.title, action))
        return {"status": "done"}

    async def broken(ctx: service.ActionContext, action: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("poll service down")

    monkeypatch.setitem(service.ACTION_HANDLERS, "open_poll", stub)
    monkeypatch.setitem(service.ACTION_HANDLERS, "close_poll", broken)
    await show.host.post(
        f"{show.base}/import", content=SHEET_YAML, headers={"Content-Type": "application/yaml"}
    )
    since = await stack.bus.live_seq(seeded.event.id)
    first = await go(show, None)
    fired = first.json()["live"]["actions_fired"]
    assert [(f["type"], f["status"]) for f in fired] == [
        ("open_qa", "done"),
        ("show_checklist", "done"),
    ]
    items = await live_items(stack, seeded.event.id, since)
    assert [i["type"] for i in items if i["type"] != "cue.updated"] == [
        "cue.live",
        "cue.action",
        "cue.action",
    ]
    checklist = [i for i in items if i["type"] == "cue.action"][1]["data"]["action"]
    assert checklist == {
        "type": "show_checklist",
        "title": "Before we start",
        "items": ["mics", "slides"],
    }
    assert calls == []

    second = await go(show, first.json()["live"]["id"])
    assert second.status_code == 200
    fired = second.json()["live"]["actions_fired"]
    assert [(f["type"], f["status"]) for f in fired] == [
        ("open_poll", "done"),
        ("close_poll", "failed"),
        ("show_question", "done"),
        ("close_qa", "done"),
    ]
    assert "poll service down" in fired[1]["detail"]
    assert calls == [("Poll time", {"type": "open_poll", "poll_id": "p1"})]


async def test_open_poll_launches_the_real_poll(stack: Stack, seeded: Seeded, show: Show) -> None:
    from app.polls import service as polls
    from app.polls.models import Poll, PollKind, PollState

    async with stack.db.sessions() as session:
        poll = await polls.create(
            session,
            seeded.event.id,
            title="Best talk?",
            kind=PollKind.single,
            options=["A", "B"],
            duration_s=None,
            cue_id=None,
            actor="system",
        )
        await session.commit()
    await add(show, "Vote", actions=[{"type": "open_poll", "poll_id": poll.id}])
    await add(show, "Results", actions=[{"type": "close_poll", "poll_id": poll.id}])
    await add(show, "Again", actions=[{"type": "open_poll", "poll_id": poll.id}])
    missing = await show.host.post(
        show.base, json={"title": "X", "actions": [{"type": "open_poll", "poll_id": "nope"}]}
    )
    assert missing.status_code == 422, "a wrong poll id is found when planning, not on air"
    assert "no poll nope in this event" in missing.json()["error"]["message"]
    first = await go(show, None)
    assert first.json()["live"]["actions_fired"][0]["status"] == "done", first.text
    async with stack.db.sessions() as session:
        assert (await session.get(Poll, poll.id)).state == PollState.open  # type: ignore[union-attr]
    second = await go(show, first.json()["live"]["id"])
    assert second.json()["live"]["actions_fired"][0]["status"] == "done"
    async with stack.db.sessions() as session:
        assert (await session.get(Poll, poll.id)).state == PollState.closed  # type: ignore[union-attr]
    third = await go(show, second.json()["live"]["id"])
    assert third.status_code == 200
    again = third.json()["live"]["actions_fired"][0]
    assert again["status"] == "failed" and "only a draft can be launched" in again["detail"]


async def test_moderators_may_read_but_not_write_and_writes_are_audited(
    stack: Stack, seeded: Seeded, show: Show
) -> None:
    cue = await add(show, "A")
    assert (await show.mod.get(show.base)).status_code == 200
    for method, path, body in (
        ("POST", show.base, {"title": "B"}),
        ("PATCH", f"{show.base}/{cue['id']}", {"version": 1, "notes": "n"}),
        ("DELETE", f"{show.base}/{cue['id']}", None),
        ("POST", f"{show.base}/go", {"expected_live": None}),
        ("POST", f"{show.base}/import", {"cues": [{"title": "C"}]}),
    ):
        resp = await show.mod.request(method, path, json=body)
        assert resp.status_code == 403, (method, path, resp.text)
    await show.host.patch(f"{show.base}/{cue['id']}", json={"version": 1, "notes": "n"})
    await go(show, None)
    async with stack.db.sessions() as session:
        rows = (await session.scalars(select(AuditLog).order_by(AuditLog.id))).all()
    assert [(r.action, r.actor) for r in rows] == [
        ("cue.create", "user:host"),
        ("cue.edit", "user:host"),
        ("cue.start", "user:host"),
    ]
    assert rows[1].before["notes"] == "" and rows[1].after["notes"] == "n"  # type: ignore[index]


async def test_a_cue_to_come_cannot_move_before_the_live_one(show: Show) -> None:
    a = await add(show, "Opening")
    b = await add(show, "Talk")
    await go(show, None)  # Opening is live
    resp = await show.host.patch(f"{show.base}/{b['id']}", json={"version": 1, "position": 0})
    assert resp.status_code == 422
    assert "position 1 or later" in resp.json()["error"]["message"]
    early = await show.host.post(show.base, json={"title": "Late add", "position": 0})
    assert early.status_code == 422, "nor be inserted there"
    rows = (await sheet(show))["cues"]
    assert [c["id"] for c in rows] == [a["id"], b["id"]]


async def test_an_import_naming_a_question_the_event_lacks_is_refused(show: Show) -> None:
    body = {"cues": [{"title": "Ok"}, {"title": "Ask", "actions": [
        {"type": "show_question", "question_id": "q-missing"}]}]}  # fmt: skip
    resp = await show.host.post(f"{show.base}/import", json=body)
    assert resp.status_code == 422
    message = resp.json()["error"]["message"]
    assert "cue 2 ('Ask'), action 1 (show_question): no question q-missing" in message
    assert (await sheet(show))["cues"] == [], "nothing imported"
