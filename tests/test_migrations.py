"""Migrations go up, down and up again on both databases, and match the models."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from sqlalchemy import inspect

from app.cli import migrate
from app.config import Settings
from app.db import make_engine
from app.models import Base
from tests.conftest import scratch_postgres


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
    with scratch_postgres(f"cr_migrations_{uuid.uuid4().hex[:8]}") as url:
        _round_trip(url)


def test_models_and_migrations_agree(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from app.config import ROOT

    url = f"sqlite+aiosqlite:///{tmp_path / 'check.db'}"
    migrate(Settings(database_url=url))
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    command.check(config)  # raises when a model change has no migration
