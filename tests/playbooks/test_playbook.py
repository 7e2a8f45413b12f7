"""The playbook on both stacks: the default, versions, YAML round trip, errors that name
the line, roles and the audit row."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from app.audit.models import AuditLog
from app.auth import service as auth
from app.auth.models import Role
from app.main import create_app
from app.playbooks import service
from app.playbooks.models import Playbook
from app.playbooks.schemas import CATEGORIES, SIGNALS
from app.yaml_lines import load, locate
from tests.conftest import Seeded, Stack

YAML = {"Content-Type": "application/yaml"}
DEFAULT = service.default_text()
# What the default must cover: slug → (category, the signal that detects it).
COVERED = {
    "stream-down": ("stream", "viewers_drop"),
    "audio-loss": ("audio", "manual"),
    "connector-stale": ("connector", "connector_stale"),
    "chat-raid": ("chat", "chat_raid"),
    "speaker-late": ("speaker", "manual"),
    "segment-overrun": ("schedule", "cue_overrun"),
    "content-conflict": ("content", "manual"),
    "platform-outage": ("platform", "viewers_drop"),
    "engagement-drop": ("engagement", "engagement_drop"),
    "question-backlog": ("questions", "question_backlog"),
}


@dataclass
class Team:
    admin: httpx.AsyncClient
    ops: httpx.AsyncClient
    mod: httpx.AsyncClient
    viewer: httpx.AsyncClient
    anonymous: httpx.AsyncClient


@pytest.fixture
async def team(stack: Stack, seeded: Seeded) -> AsyncIterator[Team]:
    async with stack.db.sessions() as session:
        await auth.create_user(session, "ops", "ops-pass", Role.ops_lead)
        await auth.create_user(session, "watcher", "watcher-pass", Role.viewer)
        await session.commit()
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    async with app.router.lifespan_context(app):
        made = []
        logins = ["admin", "ops", "mod", "watcher", None]
        for user in logins:
            c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
            if user is not None:
                login = {"username": user, "password": f"{user}-pass"}
                assert (await c.post("/api/auth/login", json=login)).status_code == 200
            made.append(c)
        try:
            yield Team(*made)
        finally:
            for c in made:
                await c.aclose()


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """The 1-based line of the nth occurrence of `needle`."""
    at = -1
    for _ in range(nth):
        at = text.index(needle, at + 1)
    return text[:at].count("\n") + 1


def without_ids(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "id"} for e in entries]


def without_ids_and_positions(book: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k not in ("id", "position")} for e in book["entries"]]


async def versions_in_db(stack: Stack) -> int:
    async with stack.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Playbook)) or 0)


async def test_the_default_playbook_loads_as_version_1_and_covers_the_ten_cases(
    stack: Stack, team: Team
) -> None:
    assert await versions_in_db(stack) == 0
    # Two first readers at once: one loads the default, the other reads it.
    first, second = await asyncio.gather(
        team.mod.get("/api/playbook"), team.ops.get("/api/playbook")
    )
    assert first.status_code == second.status_code == 200, first.text
    assert await versions_in_db(stack) == 1
    book = first.json()
    assert (book["version"], book["created_by"], book["active"]) == (1, "system", True)
    entries = {e["slug"]: e for e in book["entries"]}
    assert set(entries) == set(COVERED)
    assert {e["category"] for e in book["entries"]} == set(CATEGORIES)
    assert [e["position"] for e in book["entries"]] == list(range(len(COVERED)))
    for slug, (category, signal) in COVERED.items():
        entry = entries[slug]
        assert entry["category"] == category, slug
        assert signal in {d["signal"] for d in entry["detection"]}, slug
        assert 3 <= len(entry["steps"]) <= 6, slug
        assert all(
            s["owner_role"] in {"admin", "ops_lead", "moderator", "host"} for s in entry["steps"]
        )
        assert entry["targets"]["acknowledge_s"] <= entry["targets"]["mitigate_s"]
        assert {d["signal"] for d in entry["detection"]} <= set(SIGNALS)
    assert entries["engagement-drop"]["detection"][0]["mode"] == "suggest"
    assert any(e["escalation"] for e in book["entries"])
    assert any(e["templates"].get("audience_notice") for e in book["entries"])
    assert any(e["templates"].get("speaker_message") for e in book["entries"])
    # One entry opens an incident per (signal, scope): the others only suggest.
    openers = [
        (d["signal"], d.get("scope"))
        for e in book["entries"]
        for d in e["detection"]
        if d["mode"] == "open_incident" and d["signal"] != "manual"
    ]
    assert len(openers) == len(set(openers))
    versions = (await team.mod.get("/api/playbook/versions")).json()
    assert [(v["version"], v["entry_count"], v["active"]) for v in versions] == [(1, 10, True)]


async def test_the_default_round_trips_through_yaml_unchanged(stack: Stack, team: Team) -> None:
    v1 = (await team.mod.get("/api/playbook")).json()
    first = await team.mod.get("/api/playbook/export")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/yaml")
    assert 'filename="playbook-v1.yaml"' in first.headers["content-disposition"]
    # The export says what the hand-written file says, every default spelled out.
    assert load(first.text)[0] == {"name": v1["name"], "entries": without_ids_and_positions(v1)}
    again = await team.admin.post("/api/playbook/import", content=first.text, headers=YAML)
    assert again.status_code == 200, again.text
    v2 = again.json()
    assert (v2["version"], v2["active"], v2["created_by"]) == (2, True, "user:admin")
    assert without_ids(v2["entries"]) == without_ids(v1["entries"])
    second = await team.mod.get("/api/playbook/export")
    assert 'filename="playbook-v2.yaml"' in second.headers["content-disposition"]
    assert second.content == first.content
    # The original text, comments and all, stays with its version.
    original = await team.mod.get("/api/playbook/export", params={"version": 1, "original": True})
    assert original.text == DEFAULT and "# Control Room" in original.text


def broken(replace: str, by: str) -> str:
    """The default with the first `replace` swapped for `by`."""
    assert replace in DEFAULT
    return DEFAULT.replace(replace, by, 1)


# Each case: the broken file, the text on the line the error must name (in that file),
# the field, and words the problem must say. entries[3] is chat-raid.
WRONG = {
    "syntax": (
        broken("    category: chat\n", "    category: [chat\n"),
        "default_severity: sev2",  # where the open bracket turns out unclosed
        "",
        "not valid YAML",
    ),
    "severity": (
        broken("default_severity: sev2", "default_severity: sev0"),
        "default_severity: sev0",
        "entries[3].default_severity",
        "'sev1', 'sev2', 'sev3' or 'sev4'",
    ),
    "signal": (
        broken("signal: chat_raid", "signal: chat_storm"),
        "signal: chat_storm",
        "entries[3].detection[0].signal",
        "unknown signal 'chat_storm'",
    ),
    "condition": (
        broken("{drop_pct: 40}", "{drop_pct: 400}"),
        "{drop_pct: 400}",
        "entries[0].detection[0].condition.drop_pct",
        "must be between 1 and 100",
    ),
    "ratio": (
        broken("duplicate_ratio: 0.5}", "duplicate_ratio: 2}"),
        "duplicate_ratio: 2}",
        "entries[3].detection[0].condition.duplicate_ratio",
        "must be between 0 and 1",
    ),
    "condition-key": (
        broken("{stale_s: 90}", "{stale_s: 90, drop_pct: 5}"),
        "{stale_s: 90, drop_pct: 5}",
        "entries[2].detection[0].condition.drop_pct",
        "unknown field",
    ),
    "automatic-step": (
        broken("        action: {type: chat_slow_mode, seconds: 30}\n", ""),
        "- text: Turn on slow mode",
        "entries[3].steps[0]",
        "automatic step needs an action",
    ),
    "escalation": (
        broken("raise_severity_to: sev1", "raise_severity_to: sev3"),
        "raise_severity_to: sev3",
        "entries[3].escalation[1].raise_severity_to",
        "worse than the entry's default_severity sev2",
    ),
    "scope": (
        broken("scope: per_platform", "scope: per_source"),
        "scope: per_source",
        "entries[0].detection[1].scope",
        "per platform",
    ),
    "duplicate-key": (
        broken("    category: chat\n", "    category: chat\n    category: stream  # again\n"),
        "category: stream  # again",
        "entries[3].category",
        "duplicate key 'category'",
    ),
}


@pytest.mark.parametrize(("text", "at", "field", "words"), WRONG.values(), ids=list(WRONG))
async def test_a_wrong_playbook_is_refused_naming_the_line(
    stack: Stack, team: Team, text: str, at: str, field: str, words: str
) -> None:
    line = line_of(text, at)
    resp = await team.admin.post("/api/playbook/import", content=text, headers=YAML)
    assert resp.status_code == 422, resp.text
    err = resp.json()["error"]
    assert err["code"] == "invalid_playbook"
    first = err["details"][0]
    assert (first["line"], first["field"]) == (line, field), err
    assert words in first["problem"]
    assert err["message"].startswith(f"fix the playbook: line {line}, column ")
    assert await versions_in_db(stack) == 1, "the default, and nothing imported"


async def test_a_duplicate_slug_names_both_lines(team: Team) -> None:
    text = broken("slug: platform-outage", "slug: stream-down")
    line = line_of(text, "slug: stream-down", nth=2)
    resp = await team.ops.post("/api/playbook/import", content=text, headers=YAML)
    assert resp.status_code == 422
    first = resp.json()["error"]["details"][0]
    assert first["field"] == "entries[7].slug"
    assert (first["line"], first["first_line"]) == (line, line_of(DEFAULT, "slug: stream-down"))
    assert f"line {first['first_line']}" in first["problem"]


async def test_errors_point_at_the_node_in_a_small_file(team: Team) -> None:
    text = """\
name: Small
entries:
  - slug: one
    title: One
    category: stream
    default_severity: sev1
    owner_role: ops_lead
    detection:
      - signal: viewers_drop
        window_s: 60
        condition:
          drop_pct: 0
    steps:
      - {text: Look, owner_role: host}
    targets: {acknowledge_s: 60, mitigate_s: 30}
"""
    resp = await team.admin.post("/api/playbook/import", content=text, headers=YAML)
    assert resp.status_code == 422
    details = resp.json()["error"]["details"]
    # The viewers_drop tag pydantic puts in the path is not a key: it is left out.
    assert [(d["line"], d["column"], d["field"]) for d in details] == [
        (12, 11, "entries[0].detection[0].condition.drop_pct"),
    ]
    fixed = text.replace("drop_pct: 0", "drop_pct: 30")
    resp = await team.admin.post("/api/playbook/import", content=fixed, headers=YAML)
    details = resp.json()["error"]["details"]
    assert [(d["line"], d["field"]) for d in details] == [(15, "entries[0].targets.mitigate_s")]
    missing = fixed.replace("    targets: {acknowledge_s: 60, mitigate_s: 30}\n", "")
    details = (await team.admin.post("/api/playbook/import", content=missing, headers=YAML)).json()[
        "error"
    ]["details"]
    assert [(d["line"], d["field"], d["problem"]) for d in details] == [
        (3, "entries[0].targets", "required")
    ]


def test_locate_follows_keys_and_indexes_and_skips_union_tags() -> None:
    _, root = load("a:\n  - x: 1\n  - y:\n      z: 2\n")
    assert (locate(root, ("a", 1, "y", "z")).line, locate(root, ("a", 1, "y", "z")).column) == (
        4,
        7,
    )
    assert locate(root, ("a", 1, "tag", "y")).path == ("a", 1, "y")
    assert locate(root, ("a", 0, "missing")).line == 2
    assert locate(root, ("a", 5)).line == 1


async def test_an_import_is_the_next_version_and_the_old_one_stays_readable(
    stack: Stack, team: Team
) -> None:
    changed = DEFAULT.replace("title: Stream down or black screen", "title: Programme feed lost")
    changed = changed.replace("drop_pct: 40", "drop_pct: 35")
    resp = await team.ops.post("/api/playbook/import", content=changed, headers=YAML)
    assert resp.status_code == 200, resp.text
    assert resp.json()["version"] == 2
    now = (await team.mod.get("/api/playbook")).json()
    assert now["version"] == 2 and now["entries"][0]["title"] == "Programme feed lost"
    old = (await team.mod.get("/api/playbook", params={"version": 1})).json()
    assert (old["version"], old["active"]) == (1, False)
    assert old["entries"][0]["title"] == "Stream down or black screen"
    entry = (await team.mod.get("/api/playbook/entries/stream-down", params={"version": 1})).json()
    assert entry["playbook_version"] == 1
    assert entry["detection"][0]["condition"] == {"drop_pct": 40}
    latest = (await team.mod.get("/api/playbook/entries/stream-down")).json()
    assert (latest["playbook_version"], latest["detection"][0]["condition"]) == (
        2,
        {"drop_pct": 35},
    )
    assert yaml.safe_load((await team.mod.get("/api/playbook/export?version=1")).text)["entries"][
        0
    ]["title"] == ("Stream down or black screen")
    versions = (await team.mod.get("/api/playbook/versions")).json()
    assert [(v["version"], v["active"], v["created_by"]) for v in versions] == [
        (2, True, "user:ops"),
        (1, False, "system"),
    ]
    missing = await team.mod.get("/api/playbook", params={"version": 9})
    assert missing.status_code == 404 and "1 to 2" in missing.json()["error"]["message"]
    no_entry = await team.mod.get("/api/playbook/entries/alien-invasion")
    assert no_entry.status_code == 404
    # Versions are kept whole: the old version's entries are all still there.
    assert len(old["entries"]) == len(now["entries"]) == 10


async def test_two_imports_at_once_never_share_a_version(stack: Stack, team: Team) -> None:
    assert (await team.mod.get("/api/playbook")).status_code == 200  # the default is in
    a, b = await asyncio.gather(
        team.admin.post("/api/playbook/import", content=DEFAULT, headers=YAML),
        team.ops.post("/api/playbook/import", content=DEFAULT, headers=YAML),
    )
    statuses = sorted([a.status_code, b.status_code])
    # Whoever read version 1 second either saw the first import (and made 3) or lost the
    # race for 2 and was told so; never a 500, never two version 2s.
    assert statuses in ([200, 200], [200, 409]), (a.text, b.text)
    made = sorted(r.json()["version"] for r in (a, b) if r.status_code == 200)
    assert made == ([2, 3] if statuses == [200, 200] else [2])
    loser = next((r for r in (a, b) if r.status_code == 409), None)
    if loser is not None:
        assert loser.json()["error"]["code"] == "playbook_version_taken"
    assert await versions_in_db(stack) == 1 + len(made)


async def test_the_import_is_audited_with_the_version_before_and_after(
    stack: Stack, team: Team
) -> None:
    resp = await team.admin.post("/api/playbook/import", content=DEFAULT, headers=YAML)
    assert resp.status_code == 200
    async with stack.db.sessions() as session:
        rows = (await session.scalars(select(AuditLog))).all()
    assert [(r.action, r.actor, r.target_type) for r in rows] == [
        ("playbook_import", "user:admin", "playbook")
    ]
    assert rows[0].target_id == resp.json()["id"]
    assert rows[0].before == {"version": 1, "name": "Default live-event playbook"}
    assert rows[0].after is not None and rows[0].after["version"] == 2
    assert rows[0].after["entries"][0] == "stream-down"


async def test_moderators_read_but_only_admins_and_ops_leads_import(
    stack: Stack, team: Team
) -> None:
    assert (await team.mod.get("/api/playbook")).status_code == 200
    assert (await team.mod.get("/api/playbook/entries/chat-raid")).status_code == 200
    refused = await team.mod.post("/api/playbook/import", content=DEFAULT, headers=YAML)
    assert refused.status_code == 403
    assert "admin, ops_lead" in refused.json()["error"]["message"]
    assert (await team.viewer.get("/api/playbook")).status_code == 403
    assert (await team.anonymous.get("/api/playbook")).status_code == 401
    assert (await team.anonymous.post("/api/playbook/import", content=DEFAULT)).status_code == 401
    assert await versions_in_db(stack) == 1
    assert (
        await team.ops.post("/api/playbook/import", content=DEFAULT, headers=YAML)
    ).status_code == 200


async def test_json_is_accepted_other_types_are_not_and_a_retry_imports_once(
    stack: Stack, team: Team
) -> None:
    plain = await team.admin.post(
        "/api/playbook/import", content=DEFAULT, headers={"Content-Type": "text/plain"}
    )
    assert plain.status_code == 415
    as_json = await team.admin.post("/api/playbook/import", json=yaml.safe_load(DEFAULT))
    assert as_json.status_code == 200 and as_json.json()["version"] == 2
    key = {"Idempotency-Key": uuid.uuid4().hex, **YAML}
    once = await team.admin.post("/api/playbook/import", content=DEFAULT, headers=key)
    twice = await team.admin.post("/api/playbook/import", content=DEFAULT, headers=key)
    assert once.json() == twice.json() and once.json()["version"] == 3
    assert await versions_in_db(stack) == 3


async def test_other_domains_get_the_active_entries_typed(stack: Stack) -> None:
    async with stack.db.sessions() as session:
        from app.db import utcnow
        from app.playbooks import repository

        playbook = await service.active(session, utcnow())
        await session.commit()
        entries = await repository.entries(session, playbook.id)
        raid = service.spec_of(next(e for e in entries if e.slug == "chat-raid"))
    assert raid.detection[0].signal == "chat_raid"
    assert raid.detection[0].condition.model_dump(exclude_none=True) == {
        "rate_factor": 4.0,
        "duplicate_ratio": 0.5,
    }
    assert raid.steps[0].action is not None and raid.steps[0].action.type == "chat_slow_mode"
