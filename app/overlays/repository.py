"""The reads an overlay needs that the other domains do not offer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.polls.models import Poll, PollState
from app.questions.models import Question, QuestionState


async def on_deck_question(session: AsyncSession, event_id: str) -> Question | None:
    """The question put on screen most recently (the host may have several on deck)."""
    return await session.scalar(
        select(Question)
        .where(Question.event_id == event_id, Question.state == QuestionState.on_deck)
        .order_by(Question.updated_at.desc())
        .limit(1)
    )


async def poll_on_air(session: AsyncSession, event_id: str, closed_since: datetime) -> Poll | None:
    """The open poll, else the poll closed last if it closed after `closed_since`."""
    found = await session.scalar(
        select(Poll).where(Poll.event_id == event_id, Poll.state == PollState.open).limit(1)
    )
    if found is not None:
        return found
    return await session.scalar(
        select(Poll)
        .where(
            Poll.event_id == event_id,
            Poll.state == PollState.closed,
            Poll.closes_at >= closed_since,
        )
        .order_by(Poll.closes_at.desc())
        .limit(1)
    )
