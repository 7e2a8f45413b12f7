"""The playbook over REST: read any version, export and import YAML."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from app.auth.models import User
from app.db import utcnow
from app.deps import CurrentUser, SessionDep
from app.errors import AppError, Forbidden
from app.playbooks import service, yaml_io
from app.writes import AfterCommit, idempotent_write
from app.yaml_lines import YAML_MEDIA_TYPES, text_upload

router = APIRouter(prefix="/api/playbook", tags=["playbook"])

MAX_PLAYBOOK_BYTES = 1_000_000
VersionQuery = Annotated[
    int | None, Query(ge=1, description="a version number; the active one by default")
]


class UnsupportedPlaybook(AppError):
    status_code = 415
    code = "unsupported_media_type"


@dataclass(frozen=True)
class PlaybookAccess:
    """The playbook is organisation-wide: the caller's own role counts, not an event's."""

    user: User
    role: str


async def playbook_reader(user: CurrentUser, session: SessionDep) -> PlaybookAccess:
    """A team member, with the default playbook loaded (and kept) if there is none yet."""
    if user.role not in service.READ_ROLES:
        raise Forbidden(
            "the playbook is for the event team: ask an admin for a team role "
            f"({', '.join(sorted(service.READ_ROLES))})"
        )
    if await service.ensure_default(session, utcnow()):
        await session.commit()
    return PlaybookAccess(user, str(user.role))


PlaybookReader = Annotated[PlaybookAccess, Depends(playbook_reader)]


@router.get("")
async def get_playbook(
    _reader: PlaybookReader, session: SessionDep, version: VersionQuery = None
) -> dict[str, Any]:
    """The active version (or `version`) with its entries in order."""
    return await service.data(session, await service.by_version(session, version, utcnow()))


@router.get("/versions")
async def list_versions(_reader: PlaybookReader, session: SessionDep) -> list[dict[str, Any]]:
    """Every version, newest (the active one) first."""
    return await service.versions(session, utcnow())


@router.get("/entries/{slug}")
async def get_entry(
    slug: str, _reader: PlaybookReader, session: SessionDep, version: VersionQuery = None
) -> dict[str, Any]:
    playbook = await service.by_version(session, version, utcnow())
    entry = await service.entry(session, playbook, slug)
    return {"playbook_version": playbook.version, **service.entry_data(entry)}


@router.get("/export")
async def export(
    _reader: PlaybookReader,
    session: SessionDep,
    version: VersionQuery = None,
    original: bool = Query(
        False, description="the text as it was imported, comments included, not the canonical form"
    ),
) -> Response:
    """The canonical YAML of a version: import it again and it exports the same bytes."""
    playbook = await service.by_version(session, version, utcnow())
    text = playbook.yaml if original else await service.export(session, playbook)
    name = f"playbook-v{playbook.version}{'-original' if original else ''}.yaml"
    return Response(
        text,
        media_type="text/yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/import")
async def import_playbook(
    request: Request, reader: PlaybookReader, session: SessionDep
) -> JSONResponse:
    """Validates a YAML (or JSON) playbook and makes it the next, active version."""
    if reader.role not in service.IMPORT_ROLES:
        raise Forbidden(
            f"importing the playbook needs one of the roles: {', '.join(sorted(service.IMPORT_ROLES))}"
        )
    kind, text = await text_upload(request, MAX_PLAYBOOK_BYTES, "playbook", "trim it")
    if kind not in YAML_MEDIA_TYPES and kind != "application/json":
        raise UnsupportedPlaybook(
            "send Content-Type: application/yaml (or text/yaml, or application/json); "
            "GET /api/playbook/export shows the format"
        )
    spec = yaml_io.from_yaml(text)

    async def work() -> tuple[Any, AfterCommit | None]:
        now = utcnow()
        playbook = await service.import_playbook(session, spec, text, reader.user, now)
        return await service.data(session, playbook), None

    return await idempotent_write(request, session, reader, service.IMPORT_ROLES, work)
