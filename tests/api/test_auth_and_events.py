"""REST: login and the session cookie, membership, errors that say what to fix, probes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.main import create_app
from tests.conftest import Seeded, Stack


@pytest.fixture
async def client(stack: Stack, seeded: Seeded) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def test_login_sets_a_strict_httponly_session_cookie(client: httpx.AsyncClient) -> None:
    resp = await login(client, "mod", "mod-pass")
    assert resp.status_code == 200
    assert resp.json()["username"] == "mod"
    cookie = resp.headers["set-cookie"].lower()
    assert "cr_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    me = await client.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["role"] == "moderator"


async def test_wrong_password_is_401_with_a_reason(client: httpx.AsyncClient) -> None:
    resp = await login(client, "mod", "nope")
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "invalid_credentials"
    assert "password" in resp.json()["error"]["message"]


async def test_every_route_but_probes_and_login_needs_auth(client: httpx.AsyncClient) -> None:
    for path in ("/api/auth/me", "/api/events"):
        resp = await client.get(path)
        assert resp.status_code == 401, path
        assert "log in" in resp.json()["error"]["message"]
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": True, "bus": True}


async def test_members_see_their_events_and_outsiders_get_403(
    client: httpx.AsyncClient, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    await login(client, "outsider", "out-pass")
    assert (await client.get("/api/events")).json() == []
    resp = await client.get(f"/api/events/{event_id}")
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"

    await login(client, "mod", "mod-pass")
    listed = (await client.get("/api/events")).json()
    assert [e["id"] for e in listed] == [event_id]
    detail = (await client.get(f"/api/events/{event_id}")).json()
    assert detail["role"] == "moderator" and len(detail["sources"]) == 4
    assert (await client.get("/api/events/nope")).status_code == 404


async def test_only_admins_create_events_and_validation_names_the_field(
    client: httpx.AsyncClient,
) -> None:
    await login(client, "mod", "mod-pass")
    assert (await client.post("/api/events", json={"slug": "x", "title": "X"})).status_code == 403
    await login(client, "admin", "admin-pass")
    bad = await client.post("/api/events", json={"slug": "Bad Slug!", "title": ""})
    assert bad.status_code == 422
    fields = {d["field"] for d in bad.json()["error"]["details"]}
    assert fields == {"slug", "title"}
    ok = await client.post("/api/events", json={"slug": "second", "title": "Second"})
    assert ok.status_code == 201
    dup = await client.post("/api/events", json={"slug": "second", "title": "Again"})
    assert dup.status_code == 409 and "slug" in dup.json()["error"]["message"]


async def test_bearer_tokens_authenticate_tools(
    client: httpx.AsyncClient, stack: Stack, seeded: Seeded
) -> None:
    from app.auth import service as auth

    async with stack.db.sessions() as session:
        token = await auth.create_api_token(session, seeded.member, "dashboard")
        await session.commit()
    resp = await client.get("/api/events", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and len(resp.json()) == 1
    bad = await client.get("/api/events", headers={"Authorization": "Bearer crt_forged"})
    assert bad.status_code == 401


async def test_login_link_logs_in_and_refuses_open_redirects(
    client: httpx.AsyncClient, stack: Stack, seeded: Seeded
) -> None:
    from app.auth import service as auth

    token = auth.make_login_link(seeded.member.id, stack.settings.effective_secret())
    resp = await client.get(f"/api/auth/link?t={token}&next=//evil.example/")
    assert resp.status_code == 303 and resp.headers["location"] == "/"
    assert (await client.get("/api/auth/me")).json()["username"] == "mod"
    forged = await client.get("/api/auth/link?t=" + token[:-2] + "xx")
    assert forged.status_code == 401
