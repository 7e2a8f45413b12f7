"""The audience page's API: public under /api/a/{code}, plus the code for the event's team."""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from app.audience import limits, service
from app.audience.schemas import QuestionIn, UpvoteIn, VoteIn
from app.auth.models import Role
from app.deps import BusDep, EventMemberDep, SessionDep
from app.errors import AppError, Forbidden, error_body
from app.events.models import Event, Source
from app.questions import service as questions

router = APIRouter(tags=["audience"])

CLIENT_COOKIE = "cr_audience"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{16,43}$")
CODE_ROLES = frozenset(r.value for r in (Role.admin, Role.ops_lead, Role.host))


class NoClient(AppError):
    status_code = 400
    code = "no_client_id"


def _limiter(request: Request) -> limits.Limiter:
    # One per app (so per process, and fresh for each test app).
    state = request.app.state
    if not hasattr(state, "audience_limiter"):
        state.audience_limiter = limits.Limiter()
    limiter: limits.Limiter = state.audience_limiter
    return limiter


def _client_id(request: Request) -> str | None:
    value = request.cookies.get(CLIENT_COOKIE)
    return value if value and _CLIENT_ID.match(value) else None


def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _page_source(code: str, session: SessionDep) -> tuple[Source, Event]:
    return await service.by_code(session, code)


PageSource = Annotated[tuple[Source, Event], Depends(_page_source)]


def _require_client(request: Request) -> str:
    client_id = _client_id(request)
    if client_id is None:
        raise NoClient("this browser has no audience id yet: reload the page, then send again")
    return client_id


ClientId = Annotated[str, Depends(_require_client)]


def _too_many(exc: limits.TooMany) -> JSONResponse:
    return JSONResponse(
        error_body(exc.code, exc.message, retry_after_s=exc.retry_after_s),
        status_code=429,
        headers={"Retry-After": str(exc.retry_after_s)},
    )


@router.post("/api/events/{event_id}/audience")
async def audience_link(
    request: Request, access: EventMemberDep, session: SessionDep
) -> dict[str, Any]:
    """The event's audience code and link (made on first call, the same afterwards)."""
    if access.role not in CODE_ROLES:
        raise Forbidden("the audience link is for hosts, ops leads and admins")
    source = await service.ensure_source(session, access.event, access.user)
    await session.commit()
    code = str(source.config["code"])
    return {
        "code": code,
        "url": f"{str(request.base_url).rstrip('/')}/a/{code}",
        "source_id": source.id,
    }


@router.get("/api/a/{code}")
async def audience_page(
    request: Request, response: Response, found: PageSource, session: SessionDep
) -> dict[str, Any]:
    """The event title, the poll, approved questions; gives a new browser its client id."""
    client_id = _client_id(request)
    if client_id is None:
        client_id = secrets.token_urlsafe(16)
        response.set_cookie(
            CLIENT_COOKIE,
            client_id,
            max_age=30 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    response.headers["Cache-Control"] = "no-store"
    body: dict[str, Any] = jsonable_encoder(await service.page(session, found[1], client_id))
    return body


@router.post("/api/a/{code}/questions", status_code=202, response_model=None)
async def ask(
    body: QuestionIn, request: Request, found: PageSource, client_id: ClientId, bus: BusDep
) -> dict[str, Any] | JSONResponse:
    text = limits.clean_text(body.text, field="text", max_length=limits.MAX_TEXT)
    name = limits.clean_text(
        body.name or "", field="name", max_length=limits.MAX_NAME, required=False
    )
    try:
        _limiter(request).check(
            "questions",
            {
                f"q:client:{client_id}": limits.QUESTIONS_PER_CLIENT,
                f"q:ip:{_ip(request)}": limits.QUESTIONS_PER_IP,
            },
        )
    except limits.TooMany as exc:
        return _too_many(exc)
    row_id = await service.ask(
        bus,
        found[0],
        client_id,
        request_id=body.id,
        text=text,
        name=name,
        anonymous=body.anonymous,
    )
    return {"id": row_id, "status": "received"}


@router.post("/api/a/{code}/votes", status_code=202, response_model=None)
async def vote(
    body: VoteIn,
    request: Request,
    found: PageSource,
    client_id: ClientId,
    session: SessionDep,
    bus: BusDep,
) -> dict[str, Any] | JSONResponse:
    try:
        _limiter(request).check("votes", _vote_keys(request, client_id))
    except limits.TooMany as exc:
        return _too_many(exc)
    await service.vote(session, bus, found[0], client_id, body.poll_id, body.choices)
    return {"poll_id": body.poll_id, "choices": sorted(set(body.choices)), "status": "received"}


@router.post("/api/a/{code}/upvotes", response_model=None)
async def upvote(
    body: UpvoteIn,
    request: Request,
    found: PageSource,
    client_id: ClientId,
    session: SessionDep,
    bus: BusDep,
) -> dict[str, Any] | JSONResponse:
    try:
        _limiter(request).check("votes", _vote_keys(request, client_id))
    except limits.TooMany as exc:
        return _too_many(exc)
    question, changed = await service.upvote(session, found[0], client_id, body.question_id)
    await session.commit()
    await questions.publish(bus, question.event_id, changed)
    target = changed[0] if changed else question
    return {"question_id": question.id, "votes": target.votes, "voted": True}


def _vote_keys(request: Request, client_id: str) -> dict[str, tuple[limits.Window, ...]]:
    return {
        f"v:client:{client_id}": limits.VOTES_PER_CLIENT,
        f"v:ip:{_ip(request)}": limits.votes_per_ip(
            request.app.state.settings.audience_ip_votes_per_10s
        ),
    }
