"""Question triage over REST: every write is idempotent, versioned, audited, published."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import TRIAGE_ROLES
from app.bus import Bus
from app.deps import BusDep, EventAccess, EventMemberDep, SessionDep
from app.errors import AppError
from app.questions import repository, service
from app.questions.models import Question, QuestionState
from app.questions.schemas import BoostIn, BulkIn, ClaimIn, EditIn, MergeIn, TransitionIn
from app.writes import idempotent_write

router = APIRouter(prefix="/api/events/{event_id}/questions", tags=["questions"])
undo_router = APIRouter(prefix="/api/events/{event_id}", tags=["questions"])

QuestionWork = Callable[[], Awaitable[tuple[list[Question], Any]]]


def _write(
    request: Request, session: AsyncSession, bus: Bus, access: EventAccess, work: QuestionWork
) -> Awaitable[JSONResponse]:
    """A triage write: the changed questions are published after the commit."""

    async def run() -> tuple[Any, Any]:
        changed, body = await work()
        return body, lambda: service.publish(bus, access.event.id, changed)

    return idempotent_write(request, session, access, TRIAGE_ROLES, run)


def _on_question(
    request: Request,
    session: AsyncSession,
    bus: Bus,
    access: EventAccess,
    question_id: str,
    act: Callable[[Question], Awaitable[object]],
) -> Awaitable[JSONResponse]:
    """A write on one question: load it (404 if not in this event), act, answer with it."""

    async def work() -> tuple[list[Question], Any]:
        question = await service.get(session, access.event.id, question_id)
        await act(question)
        return [question], service.data(question)

    return _write(request, session, bus, access, work)


@router.get("")
async def list_questions(
    access: EventMemberDep,
    session: SessionDep,
    state: str | None = Query(None, description="a state, or 'all'; open ones by default"),
    platform: str | None = None,
    tag: str | None = None,
    q: str | None = Query(None, max_length=200),
    sort: str = Query("score", pattern="^(score|age|platform|state)$"),
    limit: int = Query(500, ge=1, le=5000),
) -> list[dict[str, Any]]:
    rows = await repository.search(
        session,
        access.event.id,
        state=state,
        platform=platform,
        tag=tag,
        text=q,
        sort=sort,
        limit=limit,
    )
    return [service.data(r) for r in rows]


@router.get("/counts")
async def counts(access: EventMemberDep, session: SessionDep) -> dict[str, int]:
    rows = await session.execute(
        select(Question.state, func.count())
        .where(Question.event_id == access.event.id, repository.NOT_MERGED)
        .group_by(Question.state)
    )
    found: dict[str, int] = {str(state): int(n) for state, n in rows.all()}
    return {s.value: found.get(s.value, 0) for s in QuestionState}


@router.patch("/{question_id}")
async def edit(
    question_id: str,
    body: EditIn,
    request: Request,
    access: EventMemberDep,
    session: SessionDep,
    bus: BusDep,
) -> JSONResponse:
    fields = body.model_dump(exclude_unset=True, exclude={"version"})
    if not fields:
        raise AppError("nothing to change: send text, tags, anonymous, host_note or pinned")

    return await _on_question(
        request,
        session,
        bus,
        access,
        question_id,
        lambda q: service.edit(session, q, body.version, fields, access.user),
    )


BodyAct = Callable[[AsyncSession, Question, Any, EventAccess], Awaitable[object]]


def _question_route(model: type[BaseModel] | None, act: BodyAct) -> Callable[..., Any]:
    """The endpoint of a one-question write whose work is `act(session, q, body, access)`."""

    async def endpoint(
        question_id: str,
        request: Request,
        access: EventMemberDep,
        session: SessionDep,
        bus: BusDep,
        body: Any = None,
    ) -> JSONResponse:
        return await _on_question(
            request, session, bus, access, question_id, lambda q: act(session, q, body, access)
        )

    # What FastAPI reads: the body as `model` (required), or no body at all.
    signature = inspect.signature(endpoint)
    params = [p for p in signature.parameters.values() if p.name != "body"]
    if model is not None:
        params.append(inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=model))
    endpoint.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return endpoint


for _method, _path, _name, _model, _act in (
    (
        "POST",
        "/transition",
        "transition",
        TransitionIn,
        lambda s, q, b, a: service.transition(s, q, b.to, b.version, a.user),
    ),
    (
        "POST",
        "/boost",
        "boost",
        BoostIn,
        lambda s, q, b, a: service.boost(s, q, b.version, b.amount, a.user),
    ),
    ("POST", "/claim", "claim", ClaimIn, lambda s, q, b, a: service.claim(s, q, b.version, a.user)),
    ("DELETE", "/claim", "unclaim", None, lambda s, q, b, a: service.unclaim(s, q, a.user)),
):
    router.add_api_route(
        "/{question_id}" + _path,
        _question_route(_model, _act),
        methods=[_method],
        name=_name,
        response_class=JSONResponse,
    )


@router.post("/bulk")
async def bulk(
    body: BulkIn, request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> JSONResponse:
    async def work() -> tuple[list[Question], Any]:
        done: list[Question] = []
        failed: list[dict[str, str]] = []
        for question_id in dict.fromkeys(body.ids):
            try:
                async with session.begin_nested():
                    question = await service.get(session, access.event.id, question_id)
                    await service.transition(
                        session, question, body.to, question.version, access.user
                    )
                done.append(question)
            except AppError as exc:
                failed.append({"id": question_id, "error": exc.message})
        return done, {"done": [service.data(q) for q in done], "failed": failed}

    return await _write(request, session, bus, access, work)


@undo_router.post("/undo")
async def undo(
    request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> JSONResponse:
    async def work() -> tuple[list[Question], Any]:
        question = await service.undo_last(session, access.event.id, access.user)
        return [question], service.data(question)

    return await _write(request, session, bus, access, work)


@router.post("/{question_id}/merge")
async def merge(
    question_id: str,
    body: MergeIn,
    request: Request,
    access: EventMemberDep,
    session: SessionDep,
    bus: BusDep,
) -> JSONResponse:
    """Folds this question into `into`; both come back (and out as deltas)."""

    async def work() -> tuple[list[Question], Any]:
        source = await service.get(session, access.event.id, question_id)
        into = await service.get(session, access.event.id, body.into)
        await service.merge(session, source, into, body.version, access.user)
        return [source, into], {"merged": service.data(source), "into": service.data(into)}

    return await _write(request, session, bus, access, work)


@router.post("/{question_id}/unmerge")
async def unmerge(
    question_id: str, request: Request, access: EventMemberDep, session: SessionDep, bus: BusDep
) -> JSONResponse:
    async def work() -> tuple[list[Question], Any]:
        source = await service.get(session, access.event.id, question_id)
        source, into = await service.unmerge(session, source, access.user)
        return [source, into], {"unmerged": service.data(source), "into": service.data(into)}

    return await _write(request, session, bus, access, work)


@router.get("/{question_id}/merged")
async def merged_into_this(
    question_id: str, access: EventMemberDep, session: SessionDep
) -> list[dict[str, Any]]:
    """The questions merged into this one: every asker stays on record."""
    rows = await session.scalars(
        select(Question)
        .where(Question.event_id == access.event.id, Question.merged_into_id == question_id)
        .order_by(Question.received_at)
    )
    return [service.data(q) for q in rows.all()]
