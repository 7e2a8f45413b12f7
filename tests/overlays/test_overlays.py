"""Overlay tokens and state on both stacks: 401s, revocation, roles, audit, read-only."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.auth import service as auth
from app.auth.models import Role
from app.events import service as events
from app.main import create_app
from tests.conftest import Seeded, Stack
from tests.overlays.helpers import (
    OPTIONS,
    POLL_TITLE,
    VOTES,
    live_cue,
    poll_with_votes,
    question_on_deck,
)


@pytest.fixture
async def crew(stack: Stack, seeded: Seeded) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """Logged-in clients: a host of the event and its moderator; plus an anonymous one."""
    async with stack.db.sessions() as session:
        host = await auth.create_user(session, "host", "host-pass", Role.host)
        await events.add_member(session, seeded.event, host.id, Role.host.value)
        await session.commit()
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    async with app.router.lifespan_context(app):
        made: dict[str, httpx.AsyncClient] = {}
        for name, password in (("host", "host-pass"), ("mod", "mod-pass"), ("anon", None)):
            c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
            if password:
                login = {"username": name, "password": password}
                assert (await c.post("/api/auth/login", json=login)).status_code == 200
            made[name] = c
        try:
            yield made
        finally:
            for c in made.values():
                await c.aclose()


def base(seeded: Seeded) -> str:
    return f"/api/events/{seeded.event.id}/overlays"


async def test_a_token_opens_the_state_until_it_is_revoked(
    stack: Stack, seeded: Seeded, crew: dict[str, httpx.AsyncClient]
) -> None:
    host, anon = crew["host"], crew["anon"]
    made = await host.post(base(seeded))
    assert made.status_code == 201, made.text
    body = made.json()
    token = body["token"]
    assert body["urls"] == {
        kind: f"/overlay/{kind}?token={token}" for kind in ("poll", "question", "segment")
    }
    state = await anon.get("/api/overlay/state", params={"token": token})
    assert state.status_code == 200, state.text
    assert state.headers["cache-control"] == "no-store"
    assert state.json()["event"]["title"] == seeded.event.title

    listed = (await host.get(base(seeded))).json()
    assert [t["id"] for t in listed] == [body["id"]]
    assert token not in str(listed) and "hash" not in listed[0]
    assert listed[0]["prefix"] == token.split("_", 2)[2][:6]
    # Only a hash is stored.
    raw = await stack.bus.load_cursor(f"overlay-tokens:{seeded.event.id}")
    assert raw is not None and token not in raw

    gone = await host.delete(f"{base(seeded)}/{body['id']}")
    assert gone.status_code == 200
    refused = await anon.get("/api/overlay/state", params={"token": token})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "not_authenticated"
    assert (await host.get(base(seeded))).json() == []
    assert (await host.delete(f"{base(seeded)}/{body['id']}")).status_code == 404

    async with stack.db.sessions() as session:
        rows = (
            await session.scalars(
                select(AuditLog)
                .where(AuditLog.target_type == "overlay_token")
                .order_by(AuditLog.id)
            )
        ).all()
    assert [(r.action, r.actor) for r in rows] == [
        ("overlay_token_create", "user:host"),
        ("overlay_token_revoke", "user:host"),
    ]
    assert all(token not in str(r.after) + str(r.before) for r in rows)


@pytest.mark.parametrize(
    "token",
    [None, "", "nonsense", "ovl__x", "ovl_{event}_wrong-secret", "ovl_{other}_{secret}"],
)
async def test_a_missing_or_wrong_token_gets_401(
    seeded: Seeded, crew: dict[str, httpx.AsyncClient], token: str | None
) -> None:
    good = (await crew["host"].post(base(seeded))).json()["token"]
    secret = good.split("_", 2)[2]
    params = {}
    if token is not None:
        params["token"] = token.format(event=seeded.event.id, other="0" * 32, secret=secret)
    resp = await crew["anon"].get("/api/overlay/state", params=params)
    assert resp.status_code == 401
    assert "token" in resp.json()["error"]["message"]


async def test_only_the_show_crew_manages_tokens(
    seeded: Seeded, crew: dict[str, httpx.AsyncClient]
) -> None:
    assert (await crew["mod"].post(base(seeded))).status_code == 403
    assert (await crew["mod"].get(base(seeded))).status_code == 403
    assert (await crew["anon"].post(base(seeded))).status_code == 401


async def test_the_public_side_is_read_only(
    seeded: Seeded, crew: dict[str, httpx.AsyncClient]
) -> None:
    token = (await crew["host"].post(base(seeded))).json()["token"]
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        resp = await crew["anon"].request(method, "/api/overlay/state", params={"token": token})
        assert resp.status_code == 405
    paths = create_app().openapi()["paths"]
    public = {p: ops for p, ops in paths.items() if p.startswith("/api/overlay/")}
    assert {m for ops in public.values() for m in ops} == {"get"}


async def test_the_state_shows_poll_question_and_segment(
    stack: Stack, seeded: Seeded, crew: dict[str, httpx.AsyncClient]
) -> None:
    token = (await crew["host"].post(base(seeded))).json()["token"]
    empty = (await crew["anon"].get("/api/overlay/state", params={"token": token})).json()
    assert (empty["poll"], empty["question"], empty["segment"]) == (None, None, None)

    poll_id = await poll_with_votes(stack, seeded)
    qid = await question_on_deck(stack, seeded)
    cue_id = await live_cue(stack, seeded)
    state = (await crew["anon"].get("/api/overlay/state", params={"token": token})).json()

    poll = state["poll"]
    assert poll["id"] == poll_id and poll["title"] == POLL_TITLE and poll["state"] == "open"
    assert [o["label"] for o in poll["options"]] == OPTIONS
    assert [o["votes"] for o in poll["options"]] == VOTES
    assert [o["percent"] for o in poll["options"]] == [62.5, 37.5, 0.0]
    assert poll["total_voters"] == sum(VOTES)

    assert state["question"]["id"] == qid
    assert state["question"]["text"] == "How does feature number 0 work in production?"
    assert state["question"]["author"] == "Asker 0"

    segment = state["segment"]
    assert segment["id"] == cue_id and segment["title"] == "Opening keynote"
    assert segment["owner_role"] == "host"
    assert 590 < segment["remaining_s"] <= 600
