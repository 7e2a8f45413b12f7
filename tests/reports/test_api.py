"""The report over REST and the CLI: who may read it, CSV and JSON carrying the same
series, and the comparison with another event."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from app.auth import service as auth
from app.auth.models import Role
from app.events import service as events
from app.main import create_app
from app.pipeline import persist
from app.reports import figures, render
from tests.conftest import Seeded, Stack
from tests.reports.scenario import at, play

VOLATILE = ("generated_at", "build")  # when and how fast it was built


def stable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in VOLATILE}


async def add_event(
    stack: Stack, slug: str, starts_at: datetime, member: str | None, peaks: list[float] = ()
) -> str:
    """An event with twitch viewer samples `peaks` (one a minute) and `member` on its team."""
    async with stack.db.sessions() as session:
        event = await events.create_event(session, slug, slug.title())
        event.starts_at = starts_at
        if member is not None:
            await events.add_member(session, event, member, Role.moderator.value)
        await persist.upsert_metric_samples(
            session,
            [
                {
                    "event_id": event.id,
                    "metric": "viewers",
                    "dimension": "twitch",
                    "bucket_at": at(60 * i),
                    "value": float(v),
                }
                for i, v in enumerate(peaks)
            ],
        )
        await session.commit()
        return event.id


async def test_members_get_the_report(stack: Stack, seeded: Seeded, mod: httpx.AsyncClient) -> None:
    await play(stack, seeded)
    resp = await mod.get(f"/api/events/{seeded.event.id}/report")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    async with stack.db.sessions() as session:
        built = await figures.build(session, seeded.event.id)
    assert stable(resp.json()) == stable(built)
    assert resp.json()["kpis"]["viewers"]["peak"]["total"] == 300


async def test_who_may_read_it(stack: Stack, seeded: Seeded, mod: httpx.AsyncClient) -> None:
    event_id = seeded.event.id
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    async with stack.db.sessions() as session:
        watcher = await auth.create_user(session, "watcher", "watch-pass", Role.viewer)
        await events.add_member(session, seeded.event, watcher.id, Role.viewer.value)
        await session.commit()

    async def client(username: str | None, password: str = "") -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        if username:
            login = {"username": username, "password": password}
            assert (await c.post("/api/auth/login", json=login)).status_code == 200
        return c

    paths = [
        f"/api/events/{event_id}/report",
        f"/api/events/{event_id}/report.csv?series=chat",
        f"/api/events/{event_id}/report/compare?with={event_id}",
    ]
    async with app.router.lifespan_context(app):
        for who, password, status in (
            ("watcher", "watch-pass", 200),  # any role on the team, a viewer too
            ("outsider", "out-pass", 403),
            (None, "", 401),
        ):
            c = await client(who, password)
            try:
                for path in paths:
                    resp = await c.get(path)
                    assert resp.status_code == status, (who, path, resp.text)
            finally:
                await c.aclose()
    resp = await mod.get("/api/events/nope/report")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"


async def test_csv_round_trips_the_json(
    stack: Stack, seeded: Seeded, mod: httpx.AsyncClient
) -> None:
    await play(stack, seeded)
    report = (await mod.get(f"/api/events/{seeded.event.id}/report")).json()
    for series in render.TABLE_NAMES:
        resp = await mod.get(f"/api/events/{seeded.event.id}/report.csv", params={"series": series})
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/csv")
        assert f"launch-{series}.csv" in resp.headers["content-disposition"]
        parsed = render.read_csv(resp.text)
        expected = render.tables(report)[series]
        assert parsed["columns"] == expected["columns"], series
        assert parsed["rows"] == expected["rows"], series
        assert parsed["rows"], f"the scenario has rows for {series}"
        if series in report["series"]:
            assert parsed == report["series"][series]


async def test_csv_guards_against_formulas() -> None:
    table = {"columns": ["text", "n"], "rows": [["=HYPERLINK(1)", -3], ["ok", 1.5]]}
    assert render.csv_text(table) == "text,n\n'=HYPERLINK(1),-3\nok,1.5\n"


async def test_unknown_series(seeded: Seeded, mod: httpx.AsyncClient) -> None:
    resp = await mod.get(f"/api/events/{seeded.event.id}/report.csv?series=nope")
    assert resp.status_code == 422
    assert "audience" in resp.text  # the error lists what may be asked for


async def test_compare_with_an_explicit_event(
    stack: Stack, seeded: Seeded, mod: httpx.AsyncClient
) -> None:
    await play(stack, seeded)
    other = await add_event(stack, "other-1", at(-86400), seeded.member.id, [100, 200])
    resp = await mod.get(f"/api/events/{seeded.event.id}/report/compare", params={"with": other})
    assert resp.status_code == 200
    body = resp.json()
    assert body["basis"] == "explicit"
    assert (body["event"]["id"], body["other"]["id"]) == (seeded.event.id, other)
    metrics = {m["key"]: m for m in body["metrics"]}
    # peak 300 against 200: +100, +50 %
    assert metrics["kpis.viewers.peak.total"] == {
        "key": "kpis.viewers.peak.total",
        "label": "peak concurrent viewers",
        "this": 300,
        "other": 200,
        "delta": 100,
        "delta_pct": 50.0,
    }
    # average 208.33 against 150
    average = metrics["kpis.viewers.average.total"]
    assert (average["delta"], average["delta_pct"]) == (58.33, 38.89)
    # 11 participants against none: the change has no percentage
    assert metrics["kpis.participants.total"]["delta"] == 11
    assert metrics["kpis.participants.total"]["delta_pct"] is None
    # a figure the other event does not have (no presence there): no delta at all
    assert metrics["kpis.watch_time.average_s"]["delta"] is None
    assert metrics["kpis.viewers.peak.by_platform.youtube"]["other"] is None
    assert metrics["kpis.viewers.peak.by_platform.twitch"]["delta"] == -20


async def test_compare_with_the_last_of_the_series(
    stack: Stack, seeded: Seeded, mod: httpx.AsyncClient
) -> None:
    member = seeded.member.id
    day = lambda d: datetime(2026, 3, d, 18, tzinfo=UTC)  # noqa: E731
    first = await add_event(stack, "webinar-1", day(1), member, [50])
    await add_event(stack, "webinar-extra-1", day(10), member, [70])  # series webinar-extra
    this = await add_event(stack, "webinar-2", day(15), member, [80])
    await add_event(stack, "webinar-3", day(29), member, [90])  # later: not the last one
    resp = await mod.get(f"/api/events/{this}/report/compare")
    assert resp.status_code == 200
    body = resp.json()
    assert (body["basis"], body["other"]["id"]) == ("series", first)
    assert body["rule"].startswith("the most recent earlier event")
    peak = next(m for m in body["metrics"] if m["key"] == "kpis.viewers.peak.total")
    assert (peak["this"], peak["other"], peak["delta"], peak["delta_pct"]) == (80, 50, 30, 60.0)


async def test_compare_needs_access_to_both(
    stack: Stack, seeded: Seeded, mod: httpx.AsyncClient
) -> None:
    hidden = await add_event(stack, "secret-1", at(-3600), None, [10])
    this = await add_event(stack, "secret-2", at(0), seeded.member.id, [20])
    resp = await mod.get(f"/api/events/{this}/report/compare", params={"with": hidden})
    assert resp.status_code == 403
    # …and the series rule does not reveal it either.
    resp = await mod.get(f"/api/events/{this}/report/compare")
    assert resp.status_code == 403
    resp = await mod.get(f"/api/events/{this}/report/compare", params={"with": "missing"})
    assert resp.status_code == 404
    # "launch" has no '-': no series, and the answer says how to name an event instead.
    resp = await mod.get(f"/api/events/{seeded.event.id}/report/compare")
    assert resp.status_code == 404
    assert "?with=" in resp.json()["error"]["message"]


async def _cli(stack: Stack, *args: str) -> tuple[int, bytes, bytes]:
    env = {**os.environ, "CONTROLROOM_DATABASE_URL": stack.settings.database_url}
    controlroom = Path(sys.executable).parent / "controlroom"
    proc = await asyncio.create_subprocess_exec(
        str(controlroom), "report", *args, env=env, stdout=-1, stderr=-1
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out, err


async def test_cli_writes_json_and_csv(
    stack: Stack, seeded: Seeded, mod: httpx.AsyncClient, tmp_path: Path
) -> None:
    await play(stack, seeded)
    report = (await mod.get(f"/api/events/{seeded.event.id}/report")).json()
    # By slug, CSV to stdout: the same table the API serves.
    code, out, err = await _cli(stack, "launch", "--format", "csv", "--series", "chat")
    assert code == 0, err.decode()
    assert render.read_csv(out.decode()) == report["series"]["chat"]
    # By id, JSON to a file.
    target = tmp_path / "report.json"
    code, _, err = await _cli(stack, seeded.event.id, "--out", str(target))
    assert code == 0, err.decode()
    assert stable(orjson.loads(target.read_bytes())) == stable(report)
    code, _, err = await _cli(stack, "no-such-event")
    assert code != 0
    assert b"no event with id or slug 'no-such-event'" in err
