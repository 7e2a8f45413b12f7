"""Two logged-in moderators of the seeded event, for the triage tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.auth import service as auth
from app.auth.models import Role
from app.events import service as events
from app.main import create_app
from tests.conftest import Seeded, Stack


@pytest.fixture
async def clients(stack: Stack, seeded: Seeded) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """Two moderators (mod, and a second one), each with their own session cookie."""
    async with stack.db.sessions() as session:
        second = await auth.create_user(session, "mod2", "mod2-pass", Role.moderator, "Ana")
        await events.add_member(session, seeded.event, second.id, Role.moderator.value)
        await session.commit()
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    async with app.router.lifespan_context(app):
        made = []
        for user, password in (("mod", "mod-pass"), ("mod2", "mod2-pass")):
            c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
            resp = await c.post("/api/auth/login", json={"username": user, "password": password})
            assert resp.status_code == 200
            made.append(c)
        try:
            yield tuple(made)
        finally:
            for c in made:
                await c.aclose()
