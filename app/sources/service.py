"""Sources: what the console may see of them, the rules for changing them, dead letters.

Credentials are write-only: they go into the row and out to the connector, and every
answer, delta and audit row carries their names alone.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.models import Role, User
from app.bus import Bus
from app.bus.base import DeadLetter
from app.connectors import signatures
from app.connectors.registry import CONNECTOR_CLASSES, capabilities_for
from app.db import reread_after_conflict, update_if_version, utcnow
from app.errors import AppError, VersionConflict
from app.events.models import Event, Source, SourceKind
from app.pipeline.deltas import delta
from app.sources.schemas import SourceEditIn, SourceIn

# Adding, editing and pausing sources moves what feeds the whole event: ops, not moderators.
SOURCE_EDIT_ROLES = frozenset({Role.admin.value, Role.ops_lead.value})

# Platforms that receive deliveries at POST /hooks/{source_id}, and the credential each
# verifies them with (the connectors' verify() reads these names).
WEBHOOK_SECRETS = {"zoom": "webhook_secret", "owncast": "webhook_secret", "webhook": "secret"}
WEBHOOK_PLATFORMS = frozenset(WEBHOOK_SECRETS)

# A dead letter's payload is shown up to this many bytes (the rest is cut, and flagged).
PAYLOAD_LIMIT = 4096
# With a source filter the newest this many dead letters are searched (the bus keeps
# about 10,000 per event and has no index by source).
DEAD_LETTER_SCAN = 2000

_SECRET_KEY = re.compile(r"secret|password|passwd|(^|_)token$|api_?key|private_key", re.I)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_PREFIX = "env:"


class UnknownPlatform(AppError):
    status_code = 422
    code = "unknown_platform"


class InvalidSource(AppError):
    status_code = 422
    code = "invalid_source"


def platforms() -> list[str]:
    return sorted(CONNECTOR_CLASSES)


def webhook_path(source_id: str) -> str:
    return f"/hooks/{source_id}"


def parse_health(raw: bytes | None, enabled: bool) -> dict[str, Any] | None:
    """The connector's last report; a paused source says so whatever it last reported."""
    health: dict[str, Any] | None = None
    if raw:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = None
        health = parsed if isinstance(parsed, dict) else None
    if not enabled:
        health = {**(health or {}), "state": "paused"}
    return health


def data(source: Source, health_raw: bytes | None = None, dead_letters: int = 0) -> dict[str, Any]:
    """A source as every console sees it: credentials by name only."""
    return {
        "id": source.id,
        **_settings(source),
        "credentials_set": credential_names(source.credentials),
        "capabilities": sorted(capabilities_for(source.platform)),
        "webhook_url": webhook_path(source.id) if source.platform in WEBHOOK_PLATFORMS else None,
        "health": parse_health(health_raw, source.enabled),
        "dead_letters": dead_letters,  # since the event began, across connector restarts
        "created_at": source.created_at,
        "updated_at": source.updated_at,
    }


async def views(bus: Bus, event_id: str, sources: Iterable[Source]) -> list[dict[str, Any]]:
    """The sources with their health and dead-letter counts, read from the bus."""
    health = await bus.read_health(event_id)
    dead = await bus.dead_letter_counts(event_id)
    return [data(s, health.get(s.id), dead.get(s.id, 0)) for s in sources]


async def view(bus: Bus, source: Source) -> dict[str, Any]:
    return (await views(bus, source.event_id, [source]))[0]


def credential_names(credentials: Mapping[str, Any] | None) -> list[str]:
    return sorted(k for k, v in (credentials or {}).items() if v not in (None, ""))


def _settings(source: Source) -> dict[str, Any]:
    """What a source is set to, as consoles see it and the audit log records it."""
    return {
        "platform": source.platform,
        "name": source.name,
        "kind": str(source.kind),
        "enabled": source.enabled,
        "version": source.version,
        "config": dict(source.config or {}),
    }


def _audit_state(source: Source) -> dict[str, Any]:
    return {**_settings(source), "credentials": credential_names(source.credentials)}


# -- validation ------------------------------------------------------------------


def _check_platform(platform: str) -> None:
    if platform not in CONNECTOR_CLASSES:
        raise UnknownPlatform(
            f"unknown platform {platform!r}: use one of {', '.join(platforms())}",
            details=[{"field": "platform", "problem": f"one of {', '.join(platforms())}"}],
        )


def _check_config(config: Mapping[str, Any]) -> None:
    secret_like = sorted(k for k in config if _SECRET_KEY.search(k))
    if secret_like:
        raise InvalidSource(
            f"config is shown to every console: move {', '.join(secret_like)} to credentials",
            details=[
                {"field": f"config.{k}", "problem": "put secrets in credentials"}
                for k in secret_like
            ],
        )


def _check_credentials(credentials: Mapping[str, str | None]) -> None:
    bad = []
    for name, value in credentials.items():
        if not name.strip():
            bad.append({"field": "credentials", "problem": "a credential needs a name"})
        elif value is not None and value.startswith(_ENV_PREFIX):
            if not _ENV_NAME.match(value[len(_ENV_PREFIX) :]):
                bad.append(
                    {
                        "field": f"credentials.{name}",
                        "problem": 'an environment pointer is "env:NAME" (letters, digits, _)',
                    }
                )
        elif value == "":
            bad.append({"field": f"credentials.{name}", "problem": "empty: send null to remove it"})
    if bad:
        raise InvalidSource(
            "fix these credentials: " + ", ".join(b["field"] for b in bad), details=bad
        )


def _declared_required(platform: str) -> Sequence[str] | None:
    """The credentials a connector class says it needs (`required_credentials`), if any."""
    module, _, name = CONNECTOR_CLASSES[platform].partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    required = getattr(cls, "required_credentials", None)
    return tuple(required) if required is not None else None


def _signing_required(platform: str, config: Mapping[str, Any]) -> bool:
    """Owncast before 0.3.0 does not sign: such a source says `signed: false`."""
    if platform != "owncast":
        return True
    signed = config.get("signed", True)
    if isinstance(signed, str):
        return signed.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(signed)


def _check_required(
    platform: str, config: Mapping[str, Any], credentials: Mapping[str, Any]
) -> None:
    names = credential_names(credentials)
    required = list(_declared_required(platform) or ())
    secret = WEBHOOK_SECRETS.get(platform)
    if secret and secret not in required and _signing_required(platform, config):
        required.append(secret)
    missing = [n for n in required if n not in names]
    if missing:
        why = (
            f"verifies each delivery with {secret}"
            if missing == [secret]
            else f"needs {', '.join(missing)}"
        )
        raise InvalidSource(
            f"a {platform} source {why}: set it under credentials (the value, or "
            '"env:NAME" to read it from the worker\'s environment)',
            details=[{"field": f"credentials.{n}", "problem": "required"} for n in missing],
        )
    value = str(credentials.get("secret") or "")
    if platform == "webhook" and not value.startswith(_ENV_PREFIX):
        try:
            signatures.secret_key(value)
        except ValueError:
            raise InvalidSource(
                "a webhook secret is whsec_ followed by base64 (Standard Webhooks): "
                "paste the secret the sender shows",
                details=[{"field": "credentials.secret", "problem": "not whsec_<base64>"}],
            ) from None


def _merged(base: Mapping[str, Any] | None, patch: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base or {})
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


# -- writes ----------------------------------------------------------------------


async def create(session: AsyncSession, event: Event, body: SourceIn, actor: User) -> Source:
    _check_platform(body.platform)
    _check_config(body.config)
    _check_credentials(body.credentials)
    _check_required(body.platform, body.config, body.credentials)
    now = utcnow()
    source = Source(
        event_id=event.id,
        platform=body.platform,
        name=body.name,
        kind=SourceKind(body.kind),
        config=dict(body.config),
        credentials=dict(body.credentials),
        created_at=now,
        updated_at=now,
    )
    session.add(source)
    await session.flush()
    audit.record(
        session,
        event_id=event.id,
        actor=actor,
        action="create",
        target_type="source",
        target_id=source.id,
        after=_audit_state(source),
    )
    return source


async def _versioned_update(
    session: AsyncSession,
    bus: Bus,
    source: Source,
    version: int,
    changes: dict[str, Any],
    actor: User,
    action: str,
) -> Source:
    """Applies `changes` if the source is still at `version` (else 409 with how it is now)."""
    before = _audit_state(source)
    changes = {**changes, "updated_at": utcnow()}
    if source.version != version or not await update_if_version(session, source, version, changes):
        current = await reread_after_conflict(session, Source, source.id)
        raise VersionConflict(
            f"someone changed this source first (now version {current.version}): "
            "review it and try again",
            current=await view(bus, current),
        )
    audit.record(
        session,
        event_id=source.event_id,
        actor=actor,
        action=action,
        target_type="source",
        target_id=source.id,
        before=before,
        after=_audit_state(source),
    )
    return source


async def edit(
    session: AsyncSession, bus: Bus, source: Source, body: SourceEditIn, actor: User
) -> Source:
    """Renames or reconfigures; the new version makes the supervisor restart the connector."""
    changes: dict[str, Any] = {}
    if body.name is not None:
        changes["name"] = body.name
    if body.kind is not None:
        changes["kind"] = SourceKind(body.kind)
    if body.config is not None:
        _check_config({k: v for k, v in body.config.items() if v is not None})
        changes["config"] = _merged(source.config, body.config)
    if body.credentials is not None:
        _check_credentials(body.credentials)
        changes["credentials"] = _merged(source.credentials, body.credentials)
    if source.platform in CONNECTOR_CLASSES and {"config", "credentials"} & changes.keys():
        _check_required(
            source.platform,
            changes.get("config", source.config or {}),
            changes.get("credentials", source.credentials or {}),
        )
    if not changes:
        raise InvalidSource("nothing to change: send name, kind, config or credentials")
    return await _versioned_update(session, bus, source, body.version, changes, actor, "edit")


async def set_enabled(
    session: AsyncSession, bus: Bus, source: Source, version: int, enabled: bool, actor: User
) -> Source:
    action = "resume" if enabled else "pause"
    return await _versioned_update(
        session, bus, source, version, {"enabled": enabled}, actor, action
    )


async def publish(bus: Bus, source: Source) -> None:
    """Tells every console how the source is now (after the commit)."""
    body = await view(bus, source)
    await bus.publish_live(source.event_id, [delta("sources", "source.updated", body)], urgent=True)


# -- dead letters ----------------------------------------------------------------


def _cut(payload: bytes) -> tuple[str, bool]:
    """The payload as text (bad bytes replaced), at most PAYLOAD_LIMIT bytes of it."""
    if len(payload) <= PAYLOAD_LIMIT:
        return payload.decode("utf-8", errors="replace"), False
    end = PAYLOAD_LIMIT
    # Back off to a character boundary so the cut does not make a replacement char.
    while end > PAYLOAD_LIMIT - 3 and (payload[end] & 0xC0) == 0x80:
        end -= 1
    return payload[:end].decode("utf-8", errors="replace"), True


def dead_letter_data(letter: DeadLetter) -> dict[str, Any]:
    text, truncated = _cut(letter.payload)
    return {
        "at": letter.at,
        "source_id": letter.source_id or None,
        "reason": letter.reason,
        "payload": text,
        "truncated": truncated,
        "size": len(letter.payload),
    }


async def dead_letters(
    bus: Bus, event_id: str, limit: int, source_id: str | None
) -> tuple[list[dict[str, Any]], int]:
    """The newest dead letters first, and how many were ever set aside (of that source)."""
    counts = await bus.dead_letter_counts(event_id)
    if not source_id:
        letters = await bus.dead_letters(event_id, limit)
        return [dead_letter_data(d) for d in letters], sum(counts.values())
    scanned = await bus.dead_letters(event_id, max(limit, DEAD_LETTER_SCAN))
    matching = [d for d in scanned if d.source_id == source_id]
    return [dead_letter_data(d) for d in matching[:limit]], counts.get(source_id, 0)
