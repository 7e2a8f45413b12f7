"""Annotated dependencies: the process's state, the caller, the event they may open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from app.auth import service as auth
from app.auth.models import Role, User
from app.bus import Bus
from app.config import Settings
from app.connectors.clock import SYSTEM_CLOCK, Clock
from app.db import Database
from app.errors import Forbidden, NotAuthenticated, NotFound
from app.events.models import Event


def get_settings_dep(conn: HTTPConnection) -> Settings:
    return conn.app.state.settings


def get_db(conn: HTTPConnection) -> Database:
    return conn.app.state.db


def get_bus(conn: HTTPConnection) -> Bus:
    return conn.app.state.bus


def get_clock(conn: HTTPConnection) -> Clock:
    """The show's clock (run-of-show, incidents): tests put a controllable one on
    app.state.clock."""
    found: Clock = getattr(conn.app.state, "clock", SYSTEM_CLOCK)
    return found


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DatabaseDep = Annotated[Database, Depends(get_db)]
BusDep = Annotated[Bus, Depends(get_bus)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]


def credentials(conn: HTTPConnection) -> tuple[str | None, str | None]:
    """The user id of a valid session cookie and the API token from a bearer header or
    (WebSocket tools) ?token=; either may be None."""
    settings: Settings = conn.app.state.settings
    cookie = conn.cookies.get(auth.SESSION_COOKIE)
    user_id = auth.read_session(cookie, settings.effective_secret()) if cookie else None
    header = conn.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    return user_id, token or conn.query_params.get("token")


async def user_from_connection(conn: HTTPConnection, session: AsyncSession) -> User | None:
    return await auth.caller(session, *credentials(conn))


async def current_user(request: Request, session: SessionDep) -> User:
    user = await user_from_connection(request, session)
    if user is None:
        raise NotAuthenticated("log in first: POST /api/auth/login, or send a bearer token")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def require_admin(user: CurrentUser) -> User:
    if user.role != Role.admin:
        raise Forbidden("this needs the admin role")
    return user


AdminUser = Annotated[User, Depends(require_admin)]


@dataclass(frozen=True)
class EventAccess:
    event: Event
    user: User
    role: str


async def event_access(event_id: str, request: Request, session: SessionDep) -> EventAccess:
    found = await auth.caller_on_event(session, *credentials(request), event_id)
    if found is None:
        raise NotAuthenticated("log in first: POST /api/auth/login, or send a bearer token")
    user, event, role = found
    if event is None:
        raise NotFound(f"no event {event_id}: list yours with GET /api/events")
    if role is None:
        raise Forbidden("you are not a member of this event: ask an admin to add you")
    return EventAccess(event, user, role)


EventMemberDep = Annotated[EventAccess, Depends(event_access)]
