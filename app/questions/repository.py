"""Question queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.chat.models import ChatMessage
from app.questions.models import Question, QuestionState

OPEN_STATES = (QuestionState.pending, QuestionState.approved, QuestionState.on_deck)
# A merged question lives on in the one it went into: queues, snapshots and duplicate
# suggestions show that one only.
NOT_MERGED = Question.merged_into_id.is_(None)
ORDERS: dict[str, list[Any]] = {
    "score": [(Question.votes + Question.boost).desc(), Question.received_at],
    "age": [Question.received_at],
    "platform": [Question.platform, Question.received_at],
    "state": [Question.state, Question.received_at],
}


async def open_questions(session: AsyncSession, event_id: str, limit: int) -> Sequence[Question]:
    """Questions still to triage or answer, newest first."""
    query = (
        select(Question)
        .where(Question.event_id == event_id, Question.state.in_(OPEN_STATES), NOT_MERGED)
        .order_by(Question.received_at.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def search(
    session: AsyncSession,
    event_id: str,
    *,
    state: str | None,
    platform: str | None,
    tag: str | None,
    text: str | None,
    sort: str,
    limit: int,
) -> Sequence[Question]:
    """The triage queue: filtered, pinned first, then by the chosen order."""
    query = select(Question).where(Question.event_id == event_id, NOT_MERGED)
    if state is None:
        query = query.where(Question.state.in_(OPEN_STATES))
    elif state != "all":
        query = query.where(Question.state == state)
    if platform:
        query = query.where(Question.platform == platform)
    if text:
        query = query.where(Question.text.ilike(f"%{text}%"))
    query = query.order_by(Question.pinned.desc(), *ORDERS[sort])
    if not tag:
        return (await session.scalars(query.limit(limit))).all()
    # Tags are a small JSON list, tested here the same way on SQLite and PostgreSQL;
    # the limit applies after the test, or a tag could come back with fewer than asked.
    rows = [r for r in (await session.scalars(query)).all() if tag in (r.tags or [])]
    return rows[:limit]


async def pending_backlog(session: AsyncSession, event_id: str) -> tuple[int, datetime | None]:
    """(questions waiting for triage, when the oldest of them arrived)."""
    row = (
        await session.execute(
            select(func.count(), func.min(Question.received_at)).where(
                Question.event_id == event_id,
                Question.state == QuestionState.pending,
                NOT_MERGED,
            )
        )
    ).one()
    return int(row[0] or 0), row[1]


async def asked_outside_chat_since(session: AsyncSession, event_id: str, since: datetime) -> int:
    """Questions received since `since` that did not come as chat lines (Q&A, audience page).

    A question recognised in chat shares its chat line's id; it is counted with the chat.
    """
    from_chat = exists().where(ChatMessage.id == Question.id)
    count = await session.scalar(
        select(func.count())
        .select_from(Question)
        .where(Question.event_id == event_id, Question.received_at >= since, ~from_chat)
    )
    return int(count or 0)
