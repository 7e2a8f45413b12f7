"""Playbook rules: versions, the default, import and export.

A playbook never changes in place: an import (or any later edit) adds a version, and
the highest version is the active one. Incidents keep the version they followed, so old
versions stay readable for good. Services never commit: the caller does.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.models import Role, User
from app.db import insert_ignore, new_id
from app.errors import Conflict, NotFound
from app.playbooks import repository, yaml_io
from app.playbooks.models import Playbook, PlaybookEntry
from app.playbooks.schemas import EntrySpec, PlaybookSpec

DEFAULT_PATH = Path(__file__).with_name("default.yaml")
# Who may read the playbook: the whole event team, not the audience.
READ_ROLES = frozenset(r.value for r in Role) - {Role.viewer.value}
# Who may change it: those who plan the response, not those who carry it out.
IMPORT_ROLES = frozenset(r.value for r in (Role.admin, Role.ops_lead))
ENTRY_FIELDS = (
    "slug",
    "title",
    "category",
    "default_severity",
    "owner_role",
    "detection",
    "steps",
    "escalation",
    "targets",
    "templates",
)
assert tuple(EntrySpec.model_fields) == ENTRY_FIELDS


class VersionTaken(Conflict):
    code = "playbook_version_taken"


@lru_cache
def default_text() -> str:
    """The default playbook as shipped, comments and all."""
    return DEFAULT_PATH.read_text(encoding="utf-8")


# -- views --
def entry_data(entry: PlaybookEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "position": entry.position,
        **{f: getattr(entry, f) for f in ENTRY_FIELDS},
    }


def version_data(playbook: Playbook, active_version: int | None = None) -> dict[str, Any]:
    return {
        "id": playbook.id,
        "version": playbook.version,
        "name": playbook.name,
        "created_at": playbook.created_at,
        "created_by": playbook.created_by,
        "active": playbook.version == active_version,
    }


async def data(session: AsyncSession, playbook: Playbook) -> dict[str, Any]:
    """A version with its entries in order."""
    latest = await repository.latest(session)
    return {
        **version_data(playbook, latest.version if latest else None),
        "entries": [entry_data(e) for e in await repository.entries(session, playbook.id)],
    }


def spec_of(entry: PlaybookEntry) -> EntrySpec:
    """The entry, typed (conditions, steps, escalation) for detectors and incidents."""
    return EntrySpec.model_validate({f: getattr(entry, f) for f in ENTRY_FIELDS})


async def export(session: AsyncSession, playbook: Playbook) -> str:
    """The canonical YAML of a version: what it validated to, every default written out."""
    entries = await repository.entries(session, playbook.id)
    return yaml_io.to_yaml(playbook.name, [spec_of(e).columns() for e in entries])


# -- reads --
async def active(session: AsyncSession, now: datetime) -> Playbook:
    """The active version, loading the default first when there is none (the caller's
    commit keeps it; without one the next reader loads it again)."""
    await ensure_default(session, now)
    found = await repository.latest(session)
    assert found is not None
    return found


async def by_version(session: AsyncSession, number: int | None, now: datetime) -> Playbook:
    """Version `number`, or the active one; 404 when there is no such version."""
    if number is None:
        return await active(session, now)
    await ensure_default(session, now)
    found = await repository.by_version(session, number)
    if found is None:
        latest = await repository.latest(session)
        raise NotFound(
            f"no playbook version {number}: versions run from 1 to "
            f"{latest.version if latest else 0} (GET /api/playbook/versions)"
        )
    return found


async def entry(session: AsyncSession, playbook: Playbook, slug: str) -> PlaybookEntry:
    found = await repository.entry(session, playbook.id, slug)
    if found is None:
        raise NotFound(
            f"no entry {slug!r} in playbook version {playbook.version}: "
            "GET /api/playbook lists the entries and their slugs"
        )
    return found


async def versions(session: AsyncSession, now: datetime) -> list[dict[str, Any]]:
    await ensure_default(session, now)
    rows = await repository.versions(session)
    newest = rows[0][0].version if rows else None
    return [{**version_data(p, newest), "entry_count": n} for p, n in rows]


# -- writes --
async def _add_version(
    session: AsyncSession,
    number: int,
    spec: PlaybookSpec,
    text: str,
    actor: str,
    now: datetime,
) -> Playbook | None:
    """Adds version `number`, or None when someone else has taken that number.

    ON CONFLICT DO NOTHING rather than catching IntegrityError in a savepoint: the
    transaction stays usable, and on SQLite a savepoint opened before any write would
    be the transaction itself, committed early by its RELEASE.
    """
    playbook_id = new_id()
    row = {
        "id": playbook_id,
        "version": number,
        "name": spec.name,
        "created_at": now,
        "created_by": actor,
        "yaml": text,
    }
    if not await insert_ignore(session, Playbook, [row]):
        return None
    session.add_all(
        PlaybookEntry(playbook_id=playbook_id, position=i, **e.columns())
        for i, e in enumerate(spec.entries)
    )
    await session.flush()
    return await session.get(Playbook, playbook_id)


async def ensure_default(session: AsyncSession, now: datetime) -> bool:
    """Loads the shipped default as version 1 when there is no playbook; True if it did.

    Done on first use rather than by a migration (which must not depend on app code)
    or at startup (the worker's detectors need it too, and a server may start before
    `controlroom migrate` has run): whoever reads the playbook first loads it. Two
    first readers at once: the version's unique key lets one in, the other reads it.
    """
    if await repository.latest(session) is not None:
        return False
    spec = yaml_io.from_yaml(default_text())
    return await _add_version(session, 1, spec, default_text(), "system", now) is not None


async def import_playbook(
    session: AsyncSession, spec: PlaybookSpec, text: str, actor: User, now: datetime
) -> Playbook:
    """Adds `spec` as the next version (the default is version 1, so the first import
    is version 2); audited as playbook_import with the version before and after."""
    before = await active(session, now)
    number = before.version + 1
    playbook = await _add_version(session, number, spec, text, f"user:{actor.username}", now)
    if playbook is None:
        raise VersionTaken(
            f"someone else imported version {number} at the same moment: look at "
            "GET /api/playbook, then import again"
        )
    audit.record(
        session,
        event_id=None,
        actor=actor,
        action="playbook_import",
        target_type="playbook",
        target_id=playbook.id,
        before={"version": before.version, "name": before.name},
        after={
            "version": playbook.version,
            "name": playbook.name,
            "entries": [e.slug for e in spec.entries],
        },
    )
    return playbook
