"""Question queries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.questions.models import Question, QuestionState

OPEN_STATES = (QuestionState.pending, QuestionState.approved, QuestionState.on_deck)


async def open_questions(session: AsyncSession, event_id: str, limit: int) -> Sequence[Question]:
    """Questions still to triage or answer, newest first."""
    query = (
        select(Question)
        .where(Question.event_id == event_id, Question.state.in_(OPEN_STATES))
        .order_by(Question.received_at.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()
