"""Login, logout and who-am-I."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from fastapi.responses import RedirectResponse

from app.auth import service
from app.auth.schemas import LoginIn, UserOut
from app.config import Settings
from app.deps import CurrentUser, SessionDep, SettingsDep
from app.errors import InvalidCredentials

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _set_session_cookie(response: Response, user_id: str, settings: Settings) -> None:
    ttl = settings.session_hours * 3600
    response.set_cookie(
        service.SESSION_COOKIE,
        service.make_session(user_id, settings.effective_secret(), ttl),
        max_age=ttl,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )


@router.post("/login", response_model=UserOut)
async def login(
    body: LoginIn, response: Response, session: SessionDep, settings: SettingsDep
) -> UserOut:
    user = await service.authenticate(session, body.username, body.password)
    if user is None:
        raise InvalidCredentials("wrong username or password")
    _set_session_cookie(response, user.id, settings)
    return UserOut.model_validate(user)


@router.get("/link", include_in_schema=False)
async def login_link(
    settings: SettingsDep, t: str = Query(...), next: str = Query("/")
) -> RedirectResponse:
    """Follows a login link printed by `controlroom demo`."""
    user_id = service.read_login_link(t, settings.effective_secret())
    if user_id is None:
        raise InvalidCredentials("this login link is invalid or expired: log in with the password")
    # Only same-site paths: a login link must not become an open redirect.
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    _set_session_cookie(response, user_id, settings)
    return response


@router.post("/logout", status_code=204)
async def logout(response: Response) -> Response:
    response.delete_cookie(service.SESSION_COOKIE, path="/")
    response.status_code = 204
    return response


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)
