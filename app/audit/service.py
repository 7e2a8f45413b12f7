"""Writing and reading the audit log: every state-changing action, by a person or a rule."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import insert, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditLog
from app.auth.models import User


def row(
    *,
    event_id: str | None,
    actor: User | str,
    action: str,
    target_type: str,
    target_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of one audit row: a person (User) or a rule ("rule:<id>") acted."""
    if isinstance(actor, User):
        actor_user_id, actor_name = actor.id, f"user:{actor.username}"
    else:
        actor_user_id, actor_name = None, actor
    return {
        "event_id": event_id,
        "actor_user_id": actor_user_id,
        "actor": actor_name,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "before": _jsonable(before),
        "after": _jsonable(after),
    }


def record(session: AsyncSession, **what: Any) -> AuditLog:
    """Adds an audit row (see row()) to the session: it commits with the change it describes."""
    entry = AuditLog(**row(**what))
    session.add(entry)
    return entry


async def insert_rows(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Many rows in one statement, in the caller's transaction (the pipeline's batches)."""
    if rows:
        await session.execute(insert(AuditLog), list(rows))


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in value.items()}


async def rows_for(
    session: AsyncSession,
    event_id: str,
    *,
    target_id: str | None = None,
    actor: str | None = None,
    author_id: str | None = None,
    limit: int = 1000,
) -> Sequence[AuditLog]:
    query = select(AuditLog).where(AuditLog.event_id == event_id)
    if target_id:
        query = query.where(AuditLog.target_id == target_id)
    if author_id:
        # Everything done to what one audience member wrote: their lines and questions.
        from app.chat.models import ChatMessage
        from app.questions.models import Question

        written = union(
            select(ChatMessage.id).where(
                ChatMessage.event_id == event_id, ChatMessage.author_id == author_id
            ),
            select(Question.id).where(
                Question.event_id == event_id, Question.author_id == author_id
            ),
        )
        query = query.where(AuditLog.target_id.in_(written))
    if actor:
        query = query.where(AuditLog.actor == actor)
    query = query.order_by(AuditLog.id.desc()).limit(limit)
    return (await session.scalars(query)).all()


def as_dict(row: AuditLog) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.created_at.isoformat(),
        "actor": row.actor,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "before": row.before,
        "after": row.after,
    }


def to_csv(rows: Sequence[AuditLog]) -> str:
    """One line per row, the columns of as_dict; before/after as JSON, which other tools
    can read back (Python's repr of a dict they cannot)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for row in rows:
        d = as_dict(row)
        writer.writerow({**d, "before": _json(d["before"]), "after": _json(d["after"])})
    return out.getvalue()


CSV_COLUMNS = ("id", "at", "actor", "action", "target_type", "target_id", "before", "after")


def _json(value: Any) -> str:
    return "" if value is None else orjson.dumps(value).decode()
