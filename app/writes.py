"""One way to perform a console write: role check, idempotency, commit, then publish."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.deps import EventAccess
from app.errors import Forbidden
from app.idempotency import service as idem

AfterCommit = Callable[[], Awaitable[None]]
Work = Callable[[], Awaitable[tuple[Any, AfterCommit | None]]]


async def idempotent_write(
    request: Request,
    session: AsyncSession,
    access: EventAccess,
    roles: Collection[str],
    work: Work,
) -> JSONResponse:
    """Replays a retried Idempotency-Key; else acts, remembers, commits, then publishes.

    `work` returns the response body and what to do once the change is committed
    (publish deltas, send platform commands): never before, so nothing leaves that
    a rollback could take back.
    """
    if access.role not in roles:
        raise Forbidden(f"this needs one of the roles: {', '.join(sorted(roles))}")
    key = request.headers.get("idempotency-key")
    signature = f"{request.method} {request.url.path}"
    stored = await idem.replay(session, access.user.id, key, signature)
    if stored is not None:
        return JSONResponse(stored[1], status_code=stored[0])
    body, after_commit = await work()
    body = jsonable_encoder(body)
    idem.remember(session, access.user.id, key, signature, 200, body)
    await session.commit()
    if after_commit is not None:
        await after_commit()
    return JSONResponse(body)
