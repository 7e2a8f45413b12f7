"""Queries behind the gauges' history: the per-minute samples and the tables they miss."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.metrics.models import MetricSample
from app.polls.models import Poll, Vote
from app.questions.models import Question, QuestionState, QuestionVote


async def samples_between(
    session: AsyncSession, event_id: str, start: datetime, end: datetime
) -> Sequence[MetricSample]:
    """The event's samples with start <= bucket_at < end, oldest first."""
    rows = await session.scalars(
        select(MetricSample)
        .where(
            MetricSample.event_id == event_id,
            MetricSample.bucket_at >= start,
            MetricSample.bucket_at < end,
        )
        .order_by(MetricSample.bucket_at, MetricSample.metric, MetricSample.dimension)
    )
    return rows.all()


async def answered_before(session: AsyncSession, event_id: str, at: datetime) -> int:
    """Questions answered now whose answer came before `at`."""
    count = await session.scalar(
        select(func.count())
        .select_from(Question)
        .where(
            Question.event_id == event_id,
            Question.state == QuestionState.answered,
            Question.answered_at < at,
        )
    )
    return int(count or 0)


async def answered_times(
    session: AsyncSession, event_id: str, start: datetime, end: datetime
) -> Sequence[datetime]:
    """When the questions answered now were answered, for start <= answered_at < end."""
    rows = await session.scalars(
        select(Question.answered_at).where(
            Question.event_id == event_id,
            Question.state == QuestionState.answered,
            Question.answered_at >= start,
            Question.answered_at < end,
        )
    )
    return [t for t in rows.all() if t is not None]


async def ballot_times(
    session: AsyncSession, event_id: str, start: datetime, end: datetime
) -> Sequence[datetime]:
    """When the event's poll ballots (each voter's latest) came in, within [start, end)."""
    rows = await session.scalars(
        select(Vote.received_at)
        .join(Poll, Poll.id == Vote.poll_id)
        .where(Poll.event_id == event_id, Vote.received_at >= start, Vote.received_at < end)
    )
    return rows.all()


async def question_vote_times(
    session: AsyncSession, event_id: str, start: datetime, end: datetime
) -> Sequence[datetime]:
    """When the event's question upvotes were cast, within [start, end)."""
    rows = await session.scalars(
        select(QuestionVote.created_at)
        .join(Question, Question.id == QuestionVote.question_id)
        .where(
            Question.event_id == event_id,
            QuestionVote.created_at >= start,
            QuestionVote.created_at < end,
        )
    )
    return rows.all()
