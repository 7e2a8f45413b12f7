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
from app.db import Database
from app.errors import Forbidden, NotAuthenticated, NotFound
from app.events.models import Event


def get_settings_dep(conn: HTTPConnection) -> Settings:
    return conn.app.state.settings


def get_db(conn: HTTPConnection) -> Database:
    return conn.app.state.db


def get_bus(conn: HTTPConnection) -> Bus:
    return conn.app.state.bus


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DatabaseDep = Annotated[Database, Depends(get_db)]
BusDep = Annotated[Bus, Depends(get_bus)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def user_from_connection(conn: HTTPConnection, session: AsyncSession) -> User | None:
    """The user behind a session cookie, a bearer header or (WebSocket tools) ?token=."""
    settings: Settings = conn.app.state.settings
    cookie = conn.cookies.get(auth.SESSION_COOKIE)
    if cookie:
        user_id = auth.read_session(cookie, settings.effective_secret())
        if user_id:
            user = await session.get(User, user_id)
            if user is not None and not user.disabled:
                return user
    header = conn.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    token = token or conn.query_params.get("token")
    if token:
        return await auth.user_for_token(session, token)
    return None


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


async def event_access(event_id: str, user: CurrentUser, session: SessionDep) -> EventAccess:
    event = await session.get(Event, event_id)
    if event is None:
        raise NotFound(f"no event {event_id}: list yours with GET /api/events")
    role = await auth.event_role(session, user, event_id)
    if role is None:
        raise Forbidden("you are not a member of this event: ask an admin to add you")
    return EventAccess(event, user, role)


EventMemberDep = Annotated[EventAccess, Depends(event_access)]
