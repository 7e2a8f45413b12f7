"""One way to perform a console write: role check, idempotency, commit, then publish."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any, Protocol

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.errors import AppError, Forbidden
from app.idempotency import service as idem

AfterCommit = Callable[[], Awaitable[None]]
Work = Callable[[], Awaitable[tuple[Any, AfterCommit | None]]]


class Acting(Protocol):
    """Who writes, in which role: an event member (EventAccess), or a user acting on
    something organisation-wide with their own role (the playbook)."""

    @property
    def user(self) -> User: ...

    @property
    def role(self) -> str: ...


async def idempotent_write(
    request: Request,
    session: AsyncSession,
    access: Acting,
    roles: Collection[str],
    work: Work,
) -> JSONResponse:
    """Acts, remembers the answer under the Idempotency-Key, commits, then publishes;
    a key answered before gets that first answer and acts no more.

    The key is checked after the work rather than before: a first click, the common
    case, costs no extra round trip, and a retry racing its original is settled by the
    key's unique constraint instead of a read both could pass. `work` returns the body
    and what to do once the change is committed (publish deltas, send platform
    commands): never before, so nothing leaves that a rollback could take back.
    """
    if access.role not in roles:
        raise Forbidden(f"this needs one of the roles: {', '.join(sorted(roles))}")
    key = request.headers.get("idempotency-key")
    signature = f"{request.method} {request.url.path}"
    user_id = access.user.id  # read now: a rollback below expires the loaded rows
    try:
        body, after_commit = await work()
        body = jsonable_encoder(body)
        first = await idem.remember(session, user_id, key, signature, 200, body)
    except AppError:
        # A retry of a write that succeeded now fails (its version moved on): answer
        # as the first time did.
        if (stored := await _answered_before(session, user_id, key, signature)) is not None:
            return stored
        raise
    if not first:
        stored = await _answered_before(session, user_id, key, signature)
        assert stored is not None  # the unique key said it exists
        return stored
    await session.commit()
    if after_commit is not None:
        await after_commit()
    return JSONResponse(body)


async def _answered_before(
    session: AsyncSession, user_id: str, key: str | None, signature: str
) -> JSONResponse | None:
    if not key:
        return None
    await session.rollback()  # this attempt's changes, if any, are not kept
    stored = await idem.replay(session, user_id, key, signature)
    return None if stored is None else JSONResponse(stored[1], status_code=stored[0])
