"""Events: list, create, open; recent chat and questions for a first render."""

from __future__ import annotations

from fastapi import APIRouter, Query

from app.chat import repository as chat_repo
from app.deps import AdminUser, CurrentUser, EventMemberDep, SessionDep
from app.events import repository, service
from app.events.schemas import EventDetail, EventIn, EventOut, SourceOut
from app.pipeline.deltas import chat_message_data, question_data, row_dict
from app.questions import repository as questions_repo

router = APIRouter(prefix="/api/events", tags=["events"])


@router.get("", response_model=list[EventOut])
async def list_events(user: CurrentUser, session: SessionDep) -> list[EventOut]:
    return [EventOut.model_validate(e) for e in await repository.events_for(session, user)]


@router.post("", response_model=EventOut, status_code=201)
async def create_event(body: EventIn, _admin: AdminUser, session: SessionDep) -> EventOut:
    event = await service.create_event(session, body.slug, body.title)
    await session.commit()
    return EventOut.model_validate(event)


@router.get("/{event_id}", response_model=EventDetail)
async def get_event(access: EventMemberDep, session: SessionDep) -> EventDetail:
    sources = await repository.sources_of(session, access.event.id)
    return EventDetail(
        **EventOut.model_validate(access.event).model_dump(),
        sources=[SourceOut.model_validate(s) for s in sources],
        role=access.role,
    )


@router.get("/{event_id}/chat")
async def recent_chat(
    access: EventMemberDep, session: SessionDep, limit: int = Query(200, ge=1, le=2000)
) -> list[dict[str, object]]:
    rows = await chat_repo.recent(session, access.event.id, limit)
    return [chat_message_data(row_dict(r)) for r in rows]


@router.get("/{event_id}/questions")
async def open_questions(
    access: EventMemberDep, session: SessionDep, limit: int = Query(500, ge=1, le=5000)
) -> list[dict[str, object]]:
    rows = await questions_repo.open_questions(session, access.event.id, limit)
    return [question_data(row_dict(r)) for r in rows]
