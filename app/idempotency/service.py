"""Idempotency keys: the first answer to a (user, key) is stored and replayed."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import insert_ignore
from app.errors import AppError
from app.idempotency.models import IdempotencyKey


class KeyReused(AppError):
    status_code = 422
    code = "idempotency_key_reused"


async def replay(
    session: AsyncSession, user_id: str, key: str, request: str
) -> tuple[int, Any] | None:
    """The stored (status, body) for this key, if this request was answered before."""
    row = await session.get(IdempotencyKey, (user_id, key), populate_existing=True)
    if row is None:
        return None
    if row.request != request:
        raise KeyReused(
            f"Idempotency-Key {key!r} was used for {row.request}: send a new key per action"
        )
    return row.status_code, row.body


async def remember(
    session: AsyncSession, user_id: str, key: str | None, request: str, status: int, body: Any
) -> bool:
    """Stores the answer in the same transaction as the change it answers.

    False when the key was answered first by another request (a retry, or the same
    click sent twice at once: the database's unique key settles which one counts).
    """
    if not key:
        return True
    row = {"user_id": user_id, "key": key, "request": request, "status_code": status, "body": body}
    return bool(await insert_ignore(session, IdempotencyKey, [row]))
