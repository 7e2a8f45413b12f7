"""Per-event moderation rules over REST; the pipeline applies a change within seconds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.auth.models import MODERATION_ROLES
from app.deps import EventMemberDep, SessionDep
from app.moderation import store
from app.writes import idempotent_write

router = APIRouter(prefix="/api/events/{event_id}/moderation", tags=["moderation"])


class RulesIn(BaseModel):
    version: int = Field(ge=0)
    rules: dict[str, Any]


@router.get("/rules")
async def get_rules(access: EventMemberDep, session: SessionDep) -> dict[str, Any]:
    version, rules = await store.current(session, access.event.id)
    return {"version": version, "rules": rules.model_dump(mode="json")}


@router.put("/rules")
async def put_rules(
    body: RulesIn, request: Request, access: EventMemberDep, session: SessionDep
) -> JSONResponse:
    rules = store.parse(body.rules)

    async def work() -> tuple[Any, Any]:
        version, saved = await store.replace(
            session, access.event.id, body.version, rules, access.user
        )
        return {"version": version, "rules": saved.model_dump(mode="json")}, None

    return await idempotent_write(request, session, access, MODERATION_ROLES, work)
