"""The audit log of an event: per question, per author, whole; JSON or CSV."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response

from app.audit import service
from app.deps import EventMemberDep, SessionDep

router = APIRouter(prefix="/api/events/{event_id}/audit", tags=["audit"])


@router.get("", response_model=None)
async def audit_log(
    access: EventMemberDep,
    session: SessionDep,
    target_id: str | None = None,
    actor: str | None = Query(None, description="user:<name> or rule:<name>"),
    author_id: str | None = Query(
        None, description="what was done to this audience author's words"
    ),
    format: str = Query("json", pattern="^(json|csv)$"),
    limit: int = Query(1000, ge=1, le=100_000),
) -> Response | list[dict[str, Any]]:
    rows = await service.rows_for(
        session, access.event.id, target_id=target_id, actor=actor, author_id=author_id, limit=limit
    )
    if format == "csv":
        return PlainTextResponse(
            service.to_csv(rows),
            media_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="audit-{access.event.slug}.csv"'
            },
        )
    return [service.as_dict(r) for r in rows]
