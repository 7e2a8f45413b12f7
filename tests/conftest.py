"""Shared fixtures: both stacks (SQLite + MemoryBus, PostgreSQL + Redis), users, servers.

The real services are expected at CONTROLROOM_TEST_REDIS_URL and
CONTROLROOM_TEST_POSTGRES_URL (defaults: the local ones `make test` starts).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
import uvicorn
from sqlalchemy import text

from app.auth import service as auth
from app.auth.models import Role, User
from app.bus import Bus, make_bus
from app.config import Settings
from app.db import Database
from app.events import service as events
from app.events.models import Event, Source
from app.main import create_app
from app.models import Base
from tests.fakes.server import free_port, serve_asgi

REDIS_URL = os.environ.get("CONTROLROOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
POSTGRES_ADMIN_DSN = os.environ.get(
    "CONTROLROOM_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["embedded", "real"]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session, migrated to head."""
    name = f"cr_test_{uuid.uuid4().hex[:10]}"
    from app.cli import migrate

    with scratch_postgres(name) as url:
        migrate(Settings(database_url=url))
        yield url


async def pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def scratch_postgres(name: str) -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards; yields its async URL."""
    asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Stack:
    """A database and a bus of one backend, plus the settings that name them."""

    backend: str
    settings: Settings
    db: Database
    bus: Bus


async def _clean_postgres(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def make_settings(backend: str, tmp_path: Path, pg_url: str | None, **extra: Any) -> Settings:
    if backend == "embedded":
        return Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'cr.db'}",
            redis_url=None,
            secret_key="test-secret",
            **extra,
        )
    if pg_url is None:
        raise ValueError("the real backend needs a PostgreSQL URL (the pg_database fixture)")
    # A namespace of its own: test runs (and the benchmark) may share this Redis.
    return Settings(
        database_url=pg_url,
        redis_url=REDIS_URL,
        redis_namespace=f"t{uuid.uuid4().hex[:12]}",
        secret_key="test-secret",
        **extra,
    )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    pg_url = request.getfixturevalue("pg_database") if backend == "real" else None
    return make_settings(backend, tmp_path, pg_url)


@pytest.fixture
async def stack(settings: Settings, backend: str) -> AsyncIterator[Stack]:
    db = Database(settings.database_url)
    if backend == "embedded":
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    else:
        await _clean_postgres(db)
    bus = make_bus(settings)
    try:
        yield Stack(backend, settings, db, bus)
    finally:
        if backend == "real":
            await _drop_namespace(settings.redis_namespace)
        await bus.close()
        await db.dispose()


async def _drop_namespace(namespace: str) -> None:
    redis = aioredis.from_url(REDIS_URL)
    try:
        keys = [k async for k in redis.scan_iter(match=f"{namespace}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@dataclass
class Seeded:
    event: Event
    sources: list[Source]
    admin: User
    admin_password: str
    member: User
    outsider: User


@pytest.fixture
async def seeded(stack: Stack) -> Seeded:
    """An event with three chat sources and one Q&A source, and three users."""
    from app.events.models import SourceKind

    async with stack.db.sessions() as session:
        admin = await auth.create_user(session, "admin", "admin-pass", Role.admin)
        member = await auth.create_user(session, "mod", "mod-pass", Role.moderator)
        outsider = await auth.create_user(session, "outsider", "out-pass", Role.moderator)
        event = await events.create_event(session, "launch", "Launch")
        sources = [
            await events.add_source(session, event, "simulator", name, config={"plays": name})
            for name in ("twitch", "youtube", "zoom")
        ]
        sources.append(await events.add_source(session, event, "qa", "slido", kind=SourceKind.qa))
        await events.add_member(session, event, member.id, Role.moderator.value)
        await session.commit()
    return Seeded(event, sources, admin, "admin-pass", member, outsider)


@dataclass
class RunningServer:
    base_url: str
    ws_url: str
    app: Any
    server: uvicorn.Server


@contextlib.asynccontextmanager
async def run_server(app: Any) -> AsyncIterator[RunningServer]:
    """Serves the app with uvicorn on a free port inside the test's event loop."""
    port = free_port()
    async with serve_asgi(
        app,
        port,
        ws="websockets-sansio",
        # As `controlroom serve` does: compression only when the settings ask for it.
        ws_per_message_deflate=app.state.settings.ws_compression,
        lifespan="on",
    ) as server:
        yield RunningServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", app, server)


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


@pytest.fixture
def mod(clients: tuple[httpx.AsyncClient, ...]) -> httpx.AsyncClient:
    """The seeded moderator, logged in."""
    return clients[0]
