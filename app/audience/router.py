"""The audience page's API: public under /api/a/{code}, plus the code for the event's team."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from app.audience import limits, qr, service
from app.audience.schemas import QuestionIn, UpvoteIn, VoteIn
from app.audience.snapshot import FRESH_S, Snapshot, Snapshots
from app.auth.models import Role
from app.deps import BusDep, EventAccess, EventMemberDep, SessionDep
from app.errors import AppError, Forbidden, error_body
from app.events.models import Source
from app.questions import service as questions

router = APIRouter(tags=["audience"])

T = TypeVar("T")
CLIENT_COOKIE = "cr_audience"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{16,43}$")
CODE_ROLES = frozenset(r.value for r in (Role.admin, Role.ops_lead, Role.host))


class NoClient(AppError):
    status_code = 400
    code = "no_client_id"


def _per_app(request: Request, name: str, make: Callable[[Any], T]) -> T:
    """One per app (so per process, and fresh for each test app), made on first use."""
    state = request.app.state
    if not hasattr(state, name):
        setattr(state, name, make(state))
    found: T = getattr(state, name)
    return found


def _limiter(request: Request) -> limits.Limiter:
    return _per_app(request, "audience_limiter", lambda _state: limits.Limiter())


def _client_id(request: Request) -> str | None:
    value = request.cookies.get(CLIENT_COOKIE)
    return value if value and _CLIENT_ID.match(value) else None


def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _snapshots(request: Request) -> Snapshots:
    return _per_app(
        request,
        "audience_snapshots",
        lambda state: Snapshots(state.db, state.bus, state.settings.audience_snapshot_s),
    )


async def _page(code: str, request: Request) -> Snapshot:
    return await _snapshots(request).get(code)


PageDep = Annotated[Snapshot, Depends(_page)]


async def _require_client(request: Request) -> str:  # async: no thread-pool hop
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


def _public_base(request: Request) -> str:
    # Behind a proxy the request's own address may be an internal one; the audience
    # (and the QR code printed on a slide) needs the public one.
    configured = request.app.state.settings.public_url
    return str(configured or request.base_url).rstrip("/")


def _link(request: Request, source: Source) -> dict[str, Any]:
    code = str(source.config["code"])
    base = _public_base(request)
    return {
        "code": code,
        "url": f"{base}/a/{code}",
        "qr_url": f"{base}/api/a/{code}/qr.svg",
        "source_id": source.id,
        "enabled": source.enabled,
    }


def _require_code_role(access: EventAccess) -> None:
    if access.role not in CODE_ROLES:
        raise Forbidden("the audience link is for hosts, ops leads and admins")


@router.get("/api/events/{event_id}/audience", response_model=None)
async def audience_link_read(
    request: Request, access: EventMemberDep, session: SessionDep
) -> dict[str, Any] | None:
    """The event's audience link, or null when it has none yet."""
    _require_code_role(access)
    source = await service.audience_source(session, access.event.id)
    if source is None or not source.config.get("code"):
        return None
    return _link(request, source)


@router.post("/api/events/{event_id}/audience")
async def audience_link(
    request: Request, access: EventMemberDep, session: SessionDep
) -> dict[str, Any]:
    """The event's audience code and link (made on first call, the same afterwards)."""
    _require_code_role(access)
    source = await service.ensure_source(session, access.event, access.user)
    await session.commit()
    _snapshots(request).forget(str(source.config["code"]))
    return _link(request, source)


@router.post("/api/events/{event_id}/audience/rotate")
async def audience_link_rotate(
    request: Request, access: EventMemberDep, session: SessionDep
) -> dict[str, Any]:
    """A new code: the old link and QR code answer 404 from now on."""
    _require_code_role(access)
    source, old = await service.rotate_code(session, access.event, access.user)
    await session.commit()
    _snapshots(request).forget(old)
    return _link(request, source)


@router.get("/api/a/{code}/qr.svg", response_model=None)
async def audience_qr(request: Request, page: PageDep, code: str) -> Response:
    """The page's link as a QR code (SVG), for slides, the stream and printed signs."""
    url = f"{_public_base(request)}/a/{code}"
    return Response(
        qr.svg(url),
        media_type="image/svg+xml",
        headers={"Cache-Control": "no-store"},  # a rotated code must not live on in caches
    )


@router.get("/api/a/{code}", response_model=None)
async def audience_page(request: Request, page: PageDep, mine: bool = True) -> Response:
    """The event title, the poll (results once closed), approved questions; gives a new
    browser its client id. With mine (the default), the reader's own ballot and upvotes
    too; a page that keeps those itself refreshes with mine=false, which reads nothing."""
    client_id = _client_id(request)
    if not mine:
        body = page.shared_body
    elif client_id is None:
        body = page.newcomer_body
    else:
        async with request.app.state.db.sessions() as session:
            choices, voted = await service.mine(session, page.shared, client_id)
        body = orjson.dumps(page.with_own(choices, voted))
    response = Response(body, media_type="application/json")
    response.headers["Cache-Control"] = "no-store"
    if client_id is None:
        response.set_cookie(
            CLIENT_COOKIE,
            secrets.token_urlsafe(16),
            max_age=30 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


@router.post("/api/a/{code}/questions", status_code=202, response_model=None)
async def ask(
    body: QuestionIn, request: Request, page: PageDep, client_id: ClientId, bus: BusDep
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
        page.source_id,
        page.event_id,
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
    code: str,
    page: PageDep,
    client_id: ClientId,
    bus: BusDep,
) -> dict[str, Any] | JSONResponse:
    try:
        _limiter(request).check("votes", _vote_keys(request, client_id))
    except limits.TooMany as exc:
        return _too_many(exc)
    poll = page.open_poll
    if poll is None or poll.id != body.poll_id:
        # Launched since the snapshot was read? Look again (shared by those who ask).
        page = await _snapshots(request).get(code, max_age_s=FRESH_S)
        poll = page.open_poll
    await service.vote(
        bus, page.source_id, page.event_id, poll, client_id, body.poll_id, body.choices
    )
    return {"poll_id": body.poll_id, "choices": sorted(set(body.choices)), "status": "received"}


@router.post("/api/a/{code}/upvotes", response_model=None)
async def upvote(
    body: UpvoteIn,
    request: Request,
    page: PageDep,
    client_id: ClientId,
    session: SessionDep,
    bus: BusDep,
) -> dict[str, Any] | JSONResponse:
    try:
        _limiter(request).check("votes", _vote_keys(request, client_id))
    except limits.TooMany as exc:
        return _too_many(exc)
    question, changed = await service.upvote(session, page.event_id, client_id, body.question_id)
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
