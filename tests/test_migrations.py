"""Migrations go up, down and up again on both databases, and match the models."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from sqlalchemy import inspect

from app.cli import migrate
from app.config import Settings
from app.db import make_engine
from app.models import Base
from tests.conftest import POSTGRES_ADMIN_DSN


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


def _round_trip(url: str) -> None:
    settings = Settings(database_url=url)
    migrate(settings)
    assert asyncio.run(_tables(url)) == set(Base.metadata.tables)
    migrate(settings, "base")
    assert asyncio.run(_tables(url)) == set()
    migrate(settings)
    assert asyncio.run(_tables(url)) == set(Base.metadata.tables)


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    _round_trip(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


def test_postgres_upgrade_downgrade_upgrade() -> None:
    name = "cr_migrations_test"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        _round_trip(f"{base}/{name}")
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
