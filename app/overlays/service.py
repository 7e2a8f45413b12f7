"""Overlay tokens (read-only, revocable URLs for OBS) and the state an overlay shows.

Tokens live on the bus (`overlay-tokens:<event id>`, a JSON list), not in a table: an
overlay polls once a second, a bus read is cheap, and a revocation is seen by every
process at once. Only a SHA-256 of each token is kept. With Redis the list expires a
week after the event's last token change (the bus keeps cursors that long); with the
in-memory bus it lasts as long as the process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.models import User
from app.bus import Bus
from app.cues import repository as cue_repository
from app.cues import service as cues
from app.db import new_id
from app.errors import NotAuthenticated, NotFound
from app.events.models import Event
from app.overlays import repository
from app.polls import service as polls

KINDS = ("poll", "question", "segment")
PREFIX = "ovl"
# A closed poll stays on screen this long, so viewers see the final result.
CLOSED_POLL_HOLD_S = 30


def _key(event_id: str) -> str:
    return f"overlay-tokens:{event_id}"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _load(bus: Bus, event_id: str) -> list[dict[str, Any]]:
    raw = await bus.load_cursor(_key(event_id))
    return list(orjson.loads(raw)) if raw else []


async def _save(bus: Bus, event_id: str, tokens: list[dict[str, Any]]) -> None:
    await bus.save_cursor(_key(event_id), orjson.dumps(tokens).decode())


def public(entry: dict[str, Any]) -> dict[str, Any]:
    """A token as listed: its id, the secret's first characters, who made it and when."""
    return {k: entry[k] for k in ("id", "prefix", "created_at", "created_by")}


def urls(token: str) -> dict[str, str]:
    return {kind: f"/overlay/{kind}?token={token}" for kind in KINDS}


async def list_tokens(bus: Bus, event_id: str) -> list[dict[str, Any]]:
    return [public(t) for t in await _load(bus, event_id)]


def create_token(session: AsyncSession, event_id: str, actor: User) -> tuple[str, dict[str, Any]]:
    """A new token (shown once) and its stored entry, audited in the caller's transaction;
    the caller commits, then stores it with store_token (an audit row never misses a token)."""
    secret = secrets.token_urlsafe(24)
    token = f"{PREFIX}_{event_id}_{secret}"
    entry = {
        "id": new_id(),
        "prefix": secret[:6],
        "hash": _digest(token),
        "created_at": datetime.now(UTC).isoformat(),
        "created_by": actor.username,
    }
    audit.record(
        session,
        event_id=event_id,
        actor=actor,
        action="overlay_token_create",
        target_type="overlay_token",
        target_id=entry["id"],
        after=public(entry),
    )
    return token, entry


async def store_token(bus: Bus, event_id: str, entry: dict[str, Any]) -> None:
    # Read-modify-write: two creates at the very same moment could drop one (rare, and
    # the dropped token fails loudly with 401, so its maker simply creates another).
    await _save(bus, event_id, [*await _load(bus, event_id), entry])


async def revoke_token(
    session: AsyncSession, bus: Bus, event_id: str, token_id: str, actor: User
) -> None:
    """Forgets the token at once (before the audit row commits: a revocation must not
    wait); its overlays get 401 on their next poll."""
    tokens = await _load(bus, event_id)
    gone = [t for t in tokens if t["id"] == token_id]
    if not gone:
        raise NotFound(f"no overlay token {token_id}: list them with GET …/overlays")
    await _save(bus, event_id, [t for t in tokens if t["id"] != token_id])
    audit.record(
        session,
        event_id=event_id,
        actor=actor,
        action="overlay_token_revoke",
        target_type="overlay_token",
        target_id=token_id,
        before=public(gone[0]),
    )


async def event_for_token(bus: Bus, token: str | None) -> str:
    """The event a valid token opens; 401 for a missing, malformed or revoked one."""
    parts = (token or "").split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1]:
        raise NotAuthenticated(
            "this overlay needs a valid ?token=: create one with POST /api/events/{id}/overlays"
        )
    digest = _digest(token or "")
    for entry in await _load(bus, parts[1]):
        if hmac.compare_digest(entry["hash"], digest):
            return parts[1]
    raise NotAuthenticated("this overlay token is unknown or revoked: ask the crew for a new URL")


async def _poll(session: AsyncSession, event_id: str, now: datetime) -> dict[str, Any] | None:
    poll = await repository.poll_on_air(
        session, event_id, now - timedelta(seconds=CLOSED_POLL_HOLD_S)
    )
    if poll is None:
        return None
    found = await polls.results(session, poll)
    total_votes = sum(o["votes"] for o in found["options"])
    return {
        "id": poll.id,
        "title": poll.title,
        "kind": poll.kind,
        "state": poll.state,
        "closes_at": poll.closes_at,
        "total_voters": found["total_voters"],
        "average": found.get("average"),
        # Shares of all choices made: a multiple-choice poll's shares still add up to 100.
        "options": [
            {
                "position": o["position"],
                "label": o["label"],
                "votes": o["votes"],
                "percent": round(100 * o["votes"] / total_votes, 1) if total_votes else 0.0,
            }
            for o in found["options"]
        ],
    }


async def state(session: AsyncSession, event_id: str) -> dict[str, Any]:
    """What the overlays show: the poll on air, the question on deck, the live segment."""
    now = datetime.now(UTC)
    event = await session.get(Event, event_id)
    if event is None:
        raise NotFound("this overlay's event no longer exists")
    question = await repository.on_deck_question(session, event_id)
    live = list(await cue_repository.live_cues(session, event_id))
    segment = None
    if live:
        cue = cues.data(live[0], now)
        segment = {
            "id": cue["id"],
            "title": cue["title"],
            "owner_role": cue["owner_role"],
            "remaining_s": cue["remaining_s"],
            "overrun": cue["overrun"],
        }
    return {
        "server_time": now,
        "event": {"id": event.id, "title": event.title},
        "poll": await _poll(session, event_id, now),
        "question": None
        if question is None
        else {
            "id": question.id,
            "text": question.text,
            "author": None if question.anonymous else question.author_name,
            "platform": question.platform,
        },
        "segment": segment,
    }
