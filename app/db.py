"""Engine, session factory and the declarative base every model shares."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, String, TypeDecorator, event, update
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite keeps no zone, so we restore it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), str: String()}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the console read while the pipeline writes a batch.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # No pre-ping: it costs a round trip per checkout on the hot path; a dropped
    # connection fails its batch, which stays pending and is retried.
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_recycle=1800)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_in_event(
    session: AsyncSession, model: Any, row_id: str, event_id: str, what: str
) -> Any:
    """The row `row_id` of `model` if it belongs to the event; 404 otherwise."""
    from app.errors import NotFound

    row = await session.get(model, row_id)
    if row is None or row.event_id != event_id:
        raise NotFound(f"no {what} {row_id} in this event")
    return row


class Database:
    """The engine and session factory of one process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)

    async def ping(self) -> bool:
        from sqlalchemy import text

        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """INSERT that can take ON CONFLICT, in the dialect of the session's database."""
    from sqlalchemy.dialects import postgresql, sqlite

    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def insert_ignore(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> int:
    """Inserts rows whose primary key is new; returns how many were.

    One statement run with a list of parameter sets (cached once compiled, whatever the
    number of rows), as persist.insert_new does; RETURNING counts what went in.
    """
    if not rows:
        return 0
    table = model.__table__
    stmt = (
        dialect_insert(session, table)
        .on_conflict_do_nothing()
        .returning(*table.primary_key.columns)
    )
    return len((await session.execute(stmt, list(rows))).all())


async def reread_after_conflict(session: AsyncSession, model: Any, row_id: Any) -> Any:
    """The row as it is now, for the 409 that answers a lost race.

    Alone, the request's transaction has nothing left worth keeping and is rolled back,
    so the read sees the winner's commit. Inside a savepoint (a bulk move), only that
    step is void: the savepoint's own block undoes it and the other steps stay.
    """
    if not session.in_nested_transaction():
        await session.rollback()
    row = await session.get(model, row_id, populate_existing=True)
    assert row is not None
    return row


async def update_if_version(
    session: AsyncSession, row: Any, version: int, changes: dict[str, Any]
) -> bool:
    """Applies `changes` and bumps the version in one conditional UPDATE, if the row is
    still at `version`; False when someone changed it first (the caller answers 409).

    The database decides, so two moderators clicking at the same instant cannot both
    win; synchronize_session="fetch" sets the new values on `row`, so no re-read.
    """
    model = type(row)
    result = await session.execute(
        update(model)
        .where(model.id == row.id, model.version == version)
        .values(**changes, version=version + 1)
        .execution_options(synchronize_session="fetch")
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
