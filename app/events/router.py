"""Events: list, create, open; recent chat and questions for a first render."""

from __future__ import annotations

from fastapi import APIRouter, Query

from app.audit import service as audit
from app.chat import repository as chat_repo
from app.connectors.registry import capabilities_for
from app.deps import AdminUser, CurrentUser, EventMemberDep, SessionDep
from app.events import repository, service
from app.events.schemas import EventDetail, EventIn, EventOut, SourceOut
from app.pipeline.deltas import chat_message_data, row_dict

router = APIRouter(prefix="/api/events", tags=["events"])


@router.get("", response_model=list[EventOut])
async def list_events(user: CurrentUser, session: SessionDep) -> list[EventOut]:
    return [EventOut.model_validate(e) for e in await repository.events_for(session, user)]


@router.post("", response_model=EventOut, status_code=201)
async def create_event(body: EventIn, admin: AdminUser, session: SessionDep) -> EventOut:
    event = await service.create_event(session, body.slug, body.title)
    audit.record(
        session,
        event_id=event.id,
        actor=admin,
        action="create",
        target_type="event",
        target_id=event.id,
        after={"slug": event.slug, "title": event.title},
    )
    await session.commit()
    return EventOut.model_validate(event)


@router.get("/{event_id}", response_model=EventDetail)
async def get_event(access: EventMemberDep, session: SessionDep) -> EventDetail:
    sources = await repository.sources_of(session, access.event.id)
    return EventDetail(
        **EventOut.model_validate(access.event).model_dump(),
        sources=[
            SourceOut.model_validate(s).model_copy(
                update={"capabilities": sorted(capabilities_for(s.platform))}
            )
            for s in sources
        ],
        role=access.role,
    )


@router.get("/{event_id}/chat")
async def recent_chat(
    access: EventMemberDep, session: SessionDep, limit: int = Query(200, ge=1, le=2000)
) -> list[dict[str, object]]:
    rows = await chat_repo.recent(session, access.event.id, limit)
    return [chat_message_data(row_dict(r)) for r in rows]


@router.get("/{event_id}/members")
async def members(access: EventMemberDep, session: SessionDep) -> list[dict[str, str]]:
    """The event's team: who can be given a role on an incident."""
    return [
        {"user_id": user.id, "name": user.display_name or user.username, "role": role}
        for user, role in await repository.members_of(session, access.event.id)
    ]
