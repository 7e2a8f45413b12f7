"""Sources over REST: list with health, add, edit, pause/resume, dead letters, and
credentials that never come back out."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.auth import service as auth
from app.auth.models import Role, User
from app.events import service as events
from app.main import create_app
from tests.conftest import Seeded, Stack

# Standard Webhooks secrets (whsec_ + base64), as the generic webhook platform wants.
SECRET = "whsec_" + base64.b64encode(b"s3cr3t-Zebra-9931-key-material").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"hunter2-Okapi-7710-key-material").decode()


class Consoles:
    """Logged-in clients by role, and every answer they got (to look for secrets in)."""

    def __init__(self) -> None:
        self.by_role: dict[str, httpx.AsyncClient] = {}
        self.seen: list[httpx.Response] = []

    def __getitem__(self, role: str) -> httpx.AsyncClient:
        return self.by_role[role]


@pytest.fixture
async def consoles(stack: Stack, seeded: Seeded) -> AsyncIterator[Consoles]:
    """Bearer tokens rather than password logins: argon2 would cost a second per test."""
    async with stack.db.sessions() as session:
        ops = User(username="ops", display_name="Ops Lead", password_hash="-", role=Role.viewer)
        session.add(ops)
        await session.flush()
        await events.add_member(session, seeded.event, ops.id, Role.ops_lead.value)
        tokens = {
            role: await auth.create_api_token(session, user)
            for role, user in (("admin", seeded.admin), ("ops", ops), ("mod", seeded.member))
        }
        await session.commit()
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    found = Consoles()

    async def keep(response: httpx.Response) -> None:
        await response.aread()
        found.seen.append(response)

    async with app.router.lifespan_context(app):
        for role, token in tokens.items():
            found.by_role[role] = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://t",
                headers={"Authorization": f"Bearer {token}"},
                event_hooks={"response": [keep]},
            )
        try:
            yield found
        finally:
            for client in found.by_role.values():
                await client.aclose()


def base(seeded: Seeded) -> str:
    return f"/api/events/{seeded.event.id}"


async def add_webhook(consoles: Consoles, seeded: Seeded, **extra: Any) -> dict[str, Any]:
    body = {
        "platform": "webhook",
        "name": "Partner feed",
        "config": {"note": "from the partner CMS"},
        "credentials": {"secret": SECRET},
        **extra,
    }
    resp = await consoles["admin"].post(f"{base(seeded)}/sources", json=body)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def deltas_since(stack: Stack, seeded: Seeded, since: int) -> list[dict[str, Any]]:
    batches = await stack.bus.live_since(seeded.event.id, since)
    assert batches is not None
    return [orjson.loads(item) for b in batches for item in b.items]


async def test_everyone_on_the_event_lists_sources_with_health_merged(
    consoles: Consoles, seeded: Seeded, stack: Stack
) -> None:
    twitch = seeded.sources[0]
    health = {
        "state": "connected",
        "last_event_at": "2024-05-29T17:00:03+00:00",
        "reconnects": 2,
        "lag_s": 0.4,
        "quota_left": 9000,
        "quota_note": "YouTube units left today",
        "malformed": 1,
        "errors": [{"at": "2024-05-29T16:59:00+00:00", "message": "socket closed"}],
        "platform": "simulator",
    }
    await stack.bus.put_health(seeded.event.id, twitch.id, orjson.dumps(health))

    resp = await consoles["mod"].get(f"{base(seeded)}/sources")
    assert resp.status_code == 200
    listed = {s["id"]: s for s in resp.json()}
    assert list(listed) == [s.id for s in seeded.sources]
    first = listed[twitch.id]
    assert first["health"] == health
    assert first["platform"] == "simulator" and first["enabled"] and first["version"] == 1
    assert first["config"] == {"plays": "twitch"} and first["credentials_set"] == []
    assert first["webhook_url"] is None
    assert listed[seeded.sources[1].id]["health"] is None  # never reported
    assert listed[seeded.sources[3].id]["capabilities"] == []  # no connector for "qa"
    assert "credentials" not in first


async def test_add_a_webhook_source_answers_its_url_and_credential_names_only(
    consoles: Consoles, seeded: Seeded, stack: Stack
) -> None:
    since = await stack.bus.live_seq(seeded.event.id)
    created = await add_webhook(consoles, seeded)
    assert created["platform"] == "webhook" and created["kind"] == "chat"
    assert created["webhook_url"] == f"/hooks/{created['id']}"
    assert created["credentials_set"] == ["secret"]
    assert created["version"] == 1 and created["health"] is None

    listed = (await consoles["ops"].get(f"{base(seeded)}/sources")).json()
    assert created["id"] in {s["id"] for s in listed}

    published = await deltas_since(stack, seeded, since)
    assert [(d["topic"], d["type"]) for d in published] == [("sources", "source.updated")]
    assert published[0]["data"]["id"] == created["id"]
    assert SECRET not in orjson.dumps(published).decode()


async def test_the_same_idempotency_key_adds_one_source(consoles: Consoles, seeded: Seeded) -> None:
    body = {"platform": "webhook", "name": "Once", "credentials": {"secret": SECRET}}
    headers = {"Idempotency-Key": "add-once"}
    first = await consoles["admin"].post(f"{base(seeded)}/sources", json=body, headers=headers)
    again = await consoles["admin"].post(f"{base(seeded)}/sources", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    names = [s["name"] for s in (await consoles["admin"].get(f"{base(seeded)}/sources")).json()]
    assert names.count("Once") == 1


async def test_bad_sources_are_422_saying_what_to_set(consoles: Consoles, seeded: Seeded) -> None:
    admin = consoles["admin"]
    unknown = await admin.post(f"{base(seeded)}/sources", json={"platform": "myspace", "name": "x"})
    assert unknown.status_code == 422
    error = unknown.json()["error"]
    assert error["code"] == "unknown_platform"
    for platform in ("simulator", "twitch", "youtube", "zoom", "owncast", "webhook"):
        assert platform in error["message"]

    no_secret = await admin.post(f"{base(seeded)}/sources", json={"platform": "zoom", "name": "Z"})
    assert no_secret.status_code == 422
    message = no_secret.json()["error"]["message"]
    assert "webhook_secret" in message and "credentials" in message
    assert no_secret.json()["error"]["details"][0]["field"] == "credentials.webhook_secret"

    not_whsec = await admin.post(
        f"{base(seeded)}/sources",
        json={"platform": "webhook", "name": "W", "credentials": {"secret": "plain words!"}},
    )
    assert not_whsec.status_code == 422
    assert "whsec_" in not_whsec.json()["error"]["message"]
    assert "plain words" not in not_whsec.text

    # Owncast before 0.3.0 does not sign: such a source needs no secret.
    unsigned = await admin.post(
        f"{base(seeded)}/sources",
        json={"platform": "owncast", "name": "Old Owncast", "config": {"signed": False}},
    )
    assert unsigned.status_code == 201, unsigned.text
    assert unsigned.json()["webhook_url"] == f"/hooks/{unsigned.json()['id']}"

    leaky = await admin.post(
        f"{base(seeded)}/sources",
        json={
            "platform": "webhook",
            "name": "W",
            "config": {"client_secret": SECRET},
            "credentials": {"secret": SECRET},
        },
    )
    assert leaky.status_code == 422
    assert "move client_secret to credentials" in leaky.json()["error"]["message"]

    bad_env = await admin.post(
        f"{base(seeded)}/sources",
        json={"platform": "webhook", "name": "W", "credentials": {"secret": "env:"}},
    )
    assert bad_env.status_code == 422
    assert bad_env.json()["error"]["details"][0]["field"] == "credentials.secret"

    no_name = await admin.post(f"{base(seeded)}/sources", json={"platform": "twitch"})
    assert no_name.status_code == 422
    assert no_name.json()["error"]["details"][0]["field"] == "name"

    nothing = await admin.patch(
        f"{base(seeded)}/sources/{seeded.sources[0].id}", json={"version": 1}
    )
    assert nothing.status_code == 422 and "nothing to change" in nothing.json()["error"]["message"]


async def test_edit_merges_config_and_credentials_and_bumps_the_version(
    consoles: Consoles, seeded: Seeded, stack: Stack
) -> None:
    created = await add_webhook(consoles, seeded, credentials={"secret": SECRET, "old": "x"})
    since = await stack.bus.live_seq(seeded.event.id)
    resp = await consoles["ops"].patch(
        f"{base(seeded)}/sources/{created['id']}",
        json={
            "version": 1,
            "name": "Partner feed (EU)",
            "config": {"note": None, "region": "eu"},
            "credentials": {"old": None, "secret": OTHER_SECRET},
        },
    )
    assert resp.status_code == 200, resp.text
    edited = resp.json()
    assert edited["version"] == 2 and edited["name"] == "Partner feed (EU)"
    assert edited["config"] == {"region": "eu"}
    assert edited["credentials_set"] == ["secret"]
    assert edited["updated_at"] > created["updated_at"]
    published = await deltas_since(stack, seeded, since)
    assert [d["data"]["version"] for d in published if d["type"] == "source.updated"] == [2]

    from app.events.models import Source

    async with stack.db.sessions() as session:
        row = await session.get(Source, created["id"])
        assert row is not None and row.credentials == {"secret": OTHER_SECRET}

    removing_the_secret = await consoles["ops"].patch(
        f"{base(seeded)}/sources/{created['id']}",
        json={"version": 2, "credentials": {"secret": None}},
    )
    assert removing_the_secret.status_code == 422
    assert "secret" in removing_the_secret.json()["error"]["message"]


async def test_a_stale_version_is_409_with_the_current_source(
    consoles: Consoles, seeded: Seeded, stack: Stack
) -> None:
    source = seeded.sources[1]
    url = f"{base(seeded)}/sources/{source.id}"
    assert (
        await consoles["admin"].patch(url, json={"version": 1, "name": "YT"})
    ).status_code == 200
    await stack.bus.put_health(seeded.event.id, source.id, orjson.dumps({"state": "connected"}))

    for stale in (
        consoles["ops"].patch(url, json={"version": 1, "name": "Mine"}),
        consoles["ops"].post(f"{url}/pause", json={"version": 1}),
    ):
        resp = await stale
        assert resp.status_code == 409
        error = resp.json()["error"]
        assert error["code"] == "version_conflict" and "version 2" in error["message"]
        assert error["current"]["name"] == "YT" and error["current"]["version"] == 2
        assert error["current"]["health"] == {"state": "connected"}


async def test_pause_and_resume_flip_enabled_and_show_paused(
    consoles: Consoles, seeded: Seeded, stack: Stack
) -> None:
    source = seeded.sources[0]
    url = f"{base(seeded)}/sources/{source.id}"
    await stack.bus.put_health(seeded.event.id, source.id, orjson.dumps({"state": "connected"}))
    since = await stack.bus.live_seq(seeded.event.id)

    paused = await consoles["ops"].post(f"{url}/pause", json={"version": 1})
    assert paused.status_code == 200
    assert paused.json()["enabled"] is False and paused.json()["version"] == 2
    assert paused.json()["health"]["state"] == "paused"
    listed = {s["id"]: s for s in (await consoles["mod"].get(f"{base(seeded)}/sources")).json()}
    assert listed[source.id]["health"]["state"] == "paused"

    resumed = await consoles["ops"].post(f"{url}/resume", json={"version": 2})
    assert resumed.status_code == 200
    assert resumed.json()["enabled"] is True and resumed.json()["health"]["state"] == "connected"

    published = await deltas_since(stack, seeded, since)
    assert [(d["type"], d["data"]["enabled"]) for d in published] == [
        ("source.updated", False),
        ("source.updated", True),
    ]
    missing = await consoles["ops"].post(f"{base(seeded)}/sources/nope/pause", json={"version": 1})
    assert missing.status_code == 404


async def test_moderators_may_read_but_not_change_sources(
    consoles: Consoles, seeded: Seeded
) -> None:
    mod = consoles["mod"]
    source_url = f"{base(seeded)}/sources/{seeded.sources[0].id}"
    assert (await mod.get(f"{base(seeded)}/sources")).status_code == 200
    assert (await mod.get(f"{base(seeded)}/dead-letters")).status_code == 200
    for resp in (
        await mod.patch(source_url, json={"version": 1, "name": "mine"}),
        await mod.post(f"{source_url}/pause", json={"version": 1}),
        await mod.post(
            f"{base(seeded)}/sources",
            json={"platform": "webhook", "name": "W", "credentials": {"secret": SECRET}},
        ),
    ):
        assert resp.status_code == 403
        assert "admin" in resp.json()["error"]["message"]
        assert "ops_lead" in resp.json()["error"]["message"]


async def test_credentials_never_leave_in_answers_or_the_audit_log(
    consoles: Consoles, seeded: Seeded, stack: Stack
) -> None:
    created = await add_webhook(consoles, seeded)
    url = f"{base(seeded)}/sources/{created['id']}"
    await consoles["ops"].patch(url, json={"version": 1, "credentials": {"secret": OTHER_SECRET}})
    await consoles["ops"].patch(url, json={"version": 1, "name": "stale"})  # 409 with current
    await consoles["ops"].post(f"{url}/pause", json={"version": 2})
    await consoles["ops"].post(f"{url}/resume", json={"version": 3})
    await consoles["mod"].get(f"{base(seeded)}/sources")
    await consoles["mod"].get(f"{base(seeded)}/audit")

    assert any(r.status_code == 409 for r in consoles.seen)
    for resp in consoles.seen:
        assert SECRET not in resp.text and OTHER_SECRET not in resp.text, resp.request.url

    async with stack.db.sessions() as session:
        rows = (
            await session.scalars(select(AuditLog).where(AuditLog.target_id == created["id"]))
        ).all()
    assert [r.action for r in rows] == ["create", "edit", "pause", "resume"]
    for row in rows:
        dumped = orjson.dumps({"before": row.before, "after": row.after}).decode()
        assert SECRET not in dumped and OTHER_SECRET not in dumped
    assert rows[1].before is not None and rows[1].before["credentials"] == ["secret"]
    assert rows[2].after is not None and rows[2].after["enabled"] is False

    live = orjson.dumps(await deltas_since(stack, seeded, 0)).decode()
    assert SECRET not in live and OTHER_SECRET not in live


async def test_dead_letters_newest_first_with_a_source_filter_and_total(
    consoles: Consoles, seeded: Seeded, stack: Stack
) -> None:
    twitch, youtube = seeded.sources[0].id, seeded.sources[1].id
    bus, event_id = stack.bus, seeded.event.id
    await bus.add_dead_letter(event_id, b'{"oops": 1}', "no author", twitch)
    await bus.add_dead_letter(event_id, b"\xff\xfe<b>not utf-8</b>", "bad bytes", youtube)
    await bus.add_dead_letter(event_id, ("é" * 3000).encode(), "too long", twitch)

    resp = await consoles["mod"].get(f"{base(seeded)}/dead-letters")
    assert resp.status_code == 200 and resp.headers["x-total-count"] == "3"
    letters = resp.json()
    assert [d["reason"] for d in letters] == ["too long", "bad bytes", "no author"]
    longest, bad_bytes, first = letters
    assert longest["truncated"] is True and longest["size"] == 6000
    assert len(longest["payload"].encode()) <= 4096 and "\ufffd" not in longest["payload"]
    assert bad_bytes["payload"] == "\ufffd\ufffd<b>not utf-8</b>" and not bad_bytes["truncated"]
    assert first == {
        "at": first["at"],
        "source_id": twitch,
        "reason": "no author",
        "payload": '{"oops": 1}',
        "truncated": False,
        "size": 11,
    }

    filtered = await consoles["mod"].get(
        f"{base(seeded)}/dead-letters", params={"source_id": twitch, "limit": 1}
    )
    assert filtered.headers["x-total-count"] == "2"
    assert [d["reason"] for d in filtered.json()] == ["too long"]
    limited = await consoles["mod"].get(f"{base(seeded)}/dead-letters", params={"limit": 2})
    assert len(limited.json()) == 2 and limited.headers["x-total-count"] == "3"
    listed = {
        s["id"]: s["dead_letters"]
        for s in (await consoles["mod"].get(base(seeded) + "/sources")).json()
    }
    assert listed[twitch] == 2 and listed[youtube] == 1 and listed[seeded.sources[2].id] == 0
