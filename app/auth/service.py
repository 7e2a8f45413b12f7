"""Passwords (argon2id), signed session cookies and bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import ApiToken, Role, User
from app.events.models import Event, EventMember

SESSION_COOKIE = "cr_session"
_hasher = PasswordHasher()  # argon2id, 64 MiB, 3 passes: memory-hard by default


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A session is "user_id.expires.signature": stateless, so any serve process behind a
# load balancer can check it with the shared secret and no lookup but the user row.
def make_session(user_id: str, secret: str, ttl_s: int, now: float | None = None) -> str:
    expires = int((now or time.time()) + ttl_s)
    payload = f"{user_id}.{expires}"
    return f"{payload}.{_sign(payload, secret)}"


def read_session(token: str, secret: str, now: float | None = None) -> str | None:
    """The user id in a valid, unexpired session token; None otherwise."""
    try:
        user_id, expires, signature = token.split(".")
    except ValueError:
        return None
    if not hmac.compare_digest(signature, _sign(f"{user_id}.{expires}", secret)):
        return None
    if not expires.isdigit() or int(expires) < (now or time.time()):
        return None
    return user_id


LOGIN_LINK_TTL_S = 600


def make_login_link(user_id: str, secret: str) -> str:
    """A short-lived token that logs its holder in (the demo prints it)."""
    return make_session(user_id, "link:" + secret, LOGIN_LINK_TTL_S)


def read_login_link(token: str, secret: str) -> str | None:
    return read_session(token, "link:" + secret)


def _sign(payload: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(
    session: AsyncSession, username: str, password: str, role: Role, display_name: str = ""
) -> User:
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
    )
    session.add(user)
    await session.flush()
    return user


async def create_api_token(session: AsyncSession, user: User, label: str = "") -> str:
    token = "crt_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), label=label))
    await session.flush()
    return token


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None or user.disabled:
        # Spend the same time as a real check so usernames cannot be probed by timing.
        verify_password(_dummy_hash(), password)
        return None
    return user if verify_password(user.password_hash, password) else None


def _caller(user_id: str | None, token: str | None) -> ColumnElement[bool] | None:
    """The condition that picks the enabled user behind a session's user id or an API token."""
    matches: list[ColumnElement[bool]] = []
    if user_id:
        matches.append(User.id == user_id)
    if token:
        owner = select(ApiToken.user_id).where(
            ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None)
        )
        matches.append(User.id.in_(owner))
    if not matches:
        return None
    return and_(or_(*matches), User.disabled.is_(False))


async def caller(session: AsyncSession, user_id: str | None, token: str | None) -> User | None:
    who = _caller(user_id, token)
    return None if who is None else await session.scalar(select(User).where(who).limit(1))


async def caller_on_event(
    session: AsyncSession, user_id: str | None, token: str | None, event_id: str
) -> tuple[User, Event | None, str | None] | None:
    """The caller, the event and their role on it in one round trip: every console write
    starts with this, on a database that is busy storing the audience's chat.
    None when nobody is logged in; the event is None when it does not exist; the role
    is None when the caller is not a member (admins may open every event)."""
    who = _caller(user_id, token)
    if who is None:
        return None
    row = (
        await session.execute(
            select(User, Event, EventMember.role)
            .select_from(User)
            .outerjoin(Event, Event.id == event_id)
            .outerjoin(
                EventMember, and_(EventMember.event_id == event_id, EventMember.user_id == User.id)
            )
            .where(who)
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    user, event, member_role = row
    role = Role.admin.value if user.role == Role.admin else member_role
    return user, event, (role if event is not None else None)


@lru_cache
def _dummy_hash() -> str:
    return _hasher.hash("not-a-real-password")
