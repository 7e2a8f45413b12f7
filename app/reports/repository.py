"""The report's queries: every count is grouped in the database (by minute, platform or
segment), so an event of millions of chat lines sends back a few thousand rows at most.

Both databases run them; where the SQL differs (a minute bucket, seconds between two
times, where a ':' is) a helper picks the dialect's form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.chat.models import ChatMessage
from app.events.models import Event
from app.metrics.models import MetricSample
from app.polls.models import NativeTally, Poll, Vote
from app.presence.models import PresenceEvent
from app.questions.models import Question, QuestionVote

# A drill's rehearsal platform (app/drills): its viewers, chat and votes are practice,
# not audience, and stay out of every figure.
REHEARSAL_PLATFORMS: tuple[str, ...] = ("drill",)


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def minute_bucket(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    """The minute a time falls in: a datetime on PostgreSQL, 'YYYY-MM-DD HH:MM:00' on SQLite
    (see as_minute). Literal arguments, so the same expression can be grouped on."""
    if _postgres(session):
        return func.date_trunc(literal_column("'minute'"), column)
    return func.strftime(literal_column("'%Y-%m-%d %H:%M:00'"), column)


def as_minute(value: Any) -> datetime:
    """A minute bucket as an aware UTC datetime, whichever database produced it."""
    if isinstance(value, datetime):
        found = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    else:
        found = datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
    return found.astimezone(UTC).replace(second=0, microsecond=0)


def seconds_between(session: AsyncSession, start: Any, end: Any) -> ColumnElement[Any]:
    if _postgres(session):
        return cast(func.extract("epoch", end - start), Float)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _colon_at(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    return func.strpos(column, ":") if _postgres(session) else func.instr(column, ":")


# Segments of the run-of-show: (start, end), end None for the cue still live.
Bounds = Sequence[tuple[datetime, datetime | None]]


def _audience_only(platform: Any) -> ColumnElement[bool]:
    return platform.not_in(REHEARSAL_PLATFORMS)


# -- gauges the worker rolled up --


async def metric_samples(
    session: AsyncSession, event_id: str
) -> list[tuple[datetime, str, str, float]]:
    """(bucket, metric, dimension, value): a few rows per minute of the event."""
    rows = await session.execute(
        select(
            MetricSample.bucket_at, MetricSample.metric, MetricSample.dimension, MetricSample.value
        )
        .where(MetricSample.event_id == event_id)
        .order_by(MetricSample.bucket_at)
    )
    return [(as_minute(b), str(m), str(d), float(v)) for b, m, d, v in rows.all()]


# -- chat --


@dataclass(frozen=True)
class ChatMinute:
    minute: datetime
    platform: str
    segment: int  # index into the bounds given, -1 outside every segment
    messages: int  # every line received
    interactions: int  # visible lines that are not questions (those count as questions)
    hidden: int


async def chat_per_minute(
    session: AsyncSession, event_id: str, segments: Bounds
) -> list[ChatMinute]:
    """Chat lines per minute, platform and run-of-show segment, in one pass over the
    event's lines (the costliest read of the report: a minute rarely spans two segments,
    so splitting by segment adds few rows and saves a second pass)."""
    interaction = and_(ChatMessage.hidden.is_(False), ChatMessage.is_question.is_(False))
    inner = (
        select(
            minute_bucket(session, ChatMessage.received_at).label("minute"),
            ChatMessage.platform.label("platform"),
            _segment_of(ChatMessage.received_at, segments).label("segment"),
            case((interaction, 1), else_=0).label("interaction"),
            case((ChatMessage.hidden.is_(True), 1), else_=0).label("hidden"),
        )
        .where(ChatMessage.event_id == event_id, _audience_only(ChatMessage.platform))
        .subquery()
    )
    rows = await session.execute(
        select(
            inner.c.minute,
            inner.c.platform,
            inner.c.segment,
            func.count(),
            func.sum(inner.c.interaction),
            func.sum(inner.c.hidden),
        ).group_by(inner.c.minute, inner.c.platform, inner.c.segment)
    )
    return [
        ChatMinute(as_minute(m), str(p), int(g), int(n), int(i or 0), int(h or 0))
        for m, p, g, n, i, h in rows.all()
    ]


# -- other interactions, per minute and platform --


async def questions_per_minute(
    session: AsyncSession, event_id: str
) -> list[tuple[datetime, str, int]]:
    bucket = minute_bucket(session, Question.received_at)
    rows = await session.execute(
        select(bucket, Question.platform, func.count())
        .where(Question.event_id == event_id, _audience_only(Question.platform))
        .group_by(bucket, Question.platform)
    )
    return [(as_minute(m), str(p), int(n)) for m, p, n in rows.all()]


async def votes_per_minute(session: AsyncSession, event_id: str) -> list[tuple[datetime, str, int]]:
    """Stored poll ballots (one per voter and poll) by when they were cast."""
    bucket = minute_bucket(session, Vote.received_at)
    rows = await session.execute(
        select(bucket, Vote.platform, func.count())
        .join(Poll, Poll.id == Vote.poll_id)
        .where(Poll.event_id == event_id, _audience_only(Vote.platform))
        .group_by(bucket, Vote.platform)
    )
    return [(as_minute(m), str(p), int(n)) for m, p, n in rows.all()]


async def native_tallies(session: AsyncSession, event_id: str) -> list[tuple[datetime, str, int]]:
    """(reported at, platform, votes) of each platform's own poll count: platforms report
    totals, not ballots, so they are placed at the time of their latest report."""
    rows = await session.execute(
        select(NativeTally.reported_at, NativeTally.platform, NativeTally.counts)
        .join(Poll, Poll.id == NativeTally.poll_id)
        .where(Poll.event_id == event_id, _audience_only(NativeTally.platform))
    )
    return [(at, str(p), sum(int(c) for c in counts or [])) for at, p, counts in rows.all()]


def _upvote_platform(session: AsyncSession) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """(platform, voter id) out of a question vote's "<platform>:<id>" key."""
    colon = _colon_at(session, QuestionVote.voter_key)
    platform = func.substr(QuestionVote.voter_key, 1, colon - 1)
    return platform, func.substr(QuestionVote.voter_key, colon + 1)


async def upvotes_per_minute(
    session: AsyncSession, event_id: str
) -> list[tuple[datetime, str, int]]:
    platform, _ = _upvote_platform(session)
    inner = (
        select(
            minute_bucket(session, QuestionVote.created_at).label("minute"),
            platform.label("platform"),
        )
        .join(Question, Question.id == QuestionVote.question_id)
        .where(Question.event_id == event_id)
        .subquery()
    )
    rows = await session.execute(
        select(inner.c.minute, inner.c.platform, func.count())
        .where(_audience_only(inner.c.platform))
        .group_by(inner.c.minute, inner.c.platform)
    )
    return [(as_minute(m), str(p), int(n)) for m, p, n in rows.all()]


# -- per segment of the run-of-show --


def _segment_of(column: Any, bounds: Bounds) -> ColumnElement[int]:
    """The index of the segment a time falls in, -1 for none (a segment with no end yet,
    the live cue, takes everything after its start)."""
    if not bounds:
        return literal(-1)
    return case(
        *[
            (column >= start if end is None else and_(column >= start, column < end), index)
            for index, (start, end) in enumerate(bounds)
        ],
        else_=-1,
    )


async def _per_segment(
    session: AsyncSession,
    bounds: Bounds,
    at: Any,
    where: Sequence[ColumnElement[bool]],
    counted: dict[str, ColumnElement[bool] | None],
    join: tuple[Any, Any] | None = None,
) -> dict[int, dict[str, int]]:
    """Rows in each segment's [start, end): {segment index: {name: count}}.

    The CASE that names the segment is computed in a subquery and grouped on outside, so
    its bound times appear once (PostgreSQL will not match two copies of a parameter).
    """
    if not bounds:
        return {}
    flags = {
        name: (case((condition, 1), else_=0) if condition is not None else literal(1)).label(name)
        for name, condition in counted.items()
    }
    inner_query = select(_segment_of(at, bounds).label("segment"), *flags.values())
    if join is not None:
        inner_query = inner_query.join(*join)
    ends = [e for _, e in bounds]
    window = [at >= min(s for s, _ in bounds)]
    if None not in ends:
        window.append(at < max(e for e in ends if e is not None))
    inner = inner_query.where(*where, *window).subquery()
    rows = await session.execute(
        select(inner.c.segment, *[func.sum(inner.c[name]) for name in counted]).group_by(
            inner.c.segment
        )
    )
    out: dict[int, dict[str, int]] = {}
    for segment, *sums in rows.all():
        if segment is not None and int(segment) >= 0:
            out[int(segment)] = {name: int(n or 0) for name, n in zip(counted, sums, strict=True)}
    return out


async def questions_per_segment(
    session: AsyncSession, event_id: str, bounds: Bounds
) -> dict[int, dict[str, int]]:
    return await _per_segment(
        session,
        bounds,
        Question.received_at,
        [Question.event_id == event_id, _audience_only(Question.platform)],
        {"questions": None},
    )


async def votes_per_segment(
    session: AsyncSession, event_id: str, bounds: Bounds
) -> dict[int, dict[str, int]]:
    return await _per_segment(
        session,
        bounds,
        Vote.received_at,
        [Poll.event_id == event_id, _audience_only(Vote.platform)],
        {"poll_votes": None},
        join=(Poll, Poll.id == Vote.poll_id),
    )


async def upvotes_per_segment(
    session: AsyncSession, event_id: str, bounds: Bounds
) -> dict[int, dict[str, int]]:
    platform, _ = _upvote_platform(session)
    return await _per_segment(
        session,
        bounds,
        QuestionVote.created_at,
        [Question.event_id == event_id, _audience_only(platform)],
        {"upvotes": None},
        join=(Question, Question.id == QuestionVote.question_id),
    )


# -- who took part --


async def participants(session: AsyncSession, event_id: str) -> dict[str, dict[str, int]]:
    """Per platform: distinct people who chatted, asked, voted (polls or upvotes), and any.

    A person is a platform's user id (the audience page's: its client id); the same
    person on two platforms cannot be told apart, so totals add platforms up. One
    statement: each source's (platform, who) pairs are merged and counted in the database.
    """
    poll_voter = func.substr(Vote.voter, func.length(Vote.platform) + 2)
    upvote_platform, upvoter = _upvote_platform(session)
    one, zero = literal(1), literal(0)
    acts = union_all(
        select(
            ChatMessage.platform.label("platform"),
            ChatMessage.author_id.label("who"),
            one.label("chat"),
            zero.label("ask"),
            zero.label("vote"),
        ).where(ChatMessage.event_id == event_id),
        select(Question.platform, Question.author_id, zero, one, zero).where(
            Question.event_id == event_id
        ),
        select(Vote.platform, poll_voter, zero, zero, one)
        .join(Poll, Poll.id == Vote.poll_id)
        .where(Poll.event_id == event_id),
        select(upvote_platform, upvoter, zero, zero, one)
        .join(Question, Question.id == QuestionVote.question_id)
        .where(Question.event_id == event_id),
    ).subquery()
    people = (
        select(
            acts.c.platform,
            acts.c.who,
            func.max(acts.c.chat).label("chat"),
            func.max(acts.c.ask).label("ask"),
            func.max(acts.c.vote).label("vote"),
        )
        .where(_audience_only(acts.c.platform))
        .group_by(acts.c.platform, acts.c.who)
        .subquery()
    )
    rows = await session.execute(
        select(
            people.c.platform,
            func.count(),
            func.sum(people.c.chat),
            func.sum(people.c.ask),
            func.sum(people.c.vote),
        ).group_by(people.c.platform)
    )
    return {
        str(p): {
            "participants": int(n),
            "chatters": int(c or 0),
            "askers": int(a or 0),
            "voters": int(v or 0),
        }
        for p, n, c, a, v in rows.all()
    }


# -- presence --


async def watch_seconds(
    session: AsyncSession, event_id: str, start: datetime, end: datetime
) -> list[tuple[str, float]]:
    """(platform, seconds) per viewer with presence records, within [start, end].

    Each viewer's joins and leaves are taken in time order with repeats collapsed (a
    second join before a leave is the same visit); a visit runs from a join to the next
    leave, or to `end` when none came; a leave with no join before it closes a visit that
    began before we were listening, so it runs from `start`.
    """
    ordered = (
        select(
            PresenceEvent.platform,
            PresenceEvent.viewer_id,
            PresenceEvent.action,
            PresenceEvent.at,
            PresenceEvent.id,
            func.lag(PresenceEvent.action)
            .over(
                partition_by=(PresenceEvent.platform, PresenceEvent.viewer_id),
                order_by=(PresenceEvent.at, PresenceEvent.id),
            )
            .label("before"),
        )
        .where(
            PresenceEvent.event_id == event_id,
            _audience_only(PresenceEvent.platform),
            PresenceEvent.at <= end,
        )
        .subquery()
    )
    kept = (
        select(
            ordered.c.platform, ordered.c.viewer_id, ordered.c.action, ordered.c.at, ordered.c.id
        )
        .where((ordered.c.before.is_(None)) | (ordered.c.before != ordered.c.action))
        .subquery()
    )
    viewer = (kept.c.platform, kept.c.viewer_id)
    in_order = (kept.c.at, kept.c.id)
    paired = select(
        kept.c.platform,
        kept.c.viewer_id,
        kept.c.action,
        kept.c.at,
        func.lead(kept.c.at).over(partition_by=viewer, order_by=in_order).label("next_at"),
        func.lag(kept.c.action).over(partition_by=viewer, order_by=in_order).label("before"),
    ).subquery()
    bound = literal(start, type_=PresenceEvent.at.type)
    close = literal(end, type_=PresenceEvent.at.type)
    begins = case(
        (paired.c.action == "join", case((paired.c.at < bound, bound), else_=paired.c.at)),
        else_=bound,
    )
    ends = case(
        (paired.c.action == "join", func.coalesce(paired.c.next_at, close)),
        else_=paired.c.at,
    )
    visits = (
        select(
            paired.c.platform,
            paired.c.viewer_id,
            seconds_between(session, begins, ends).label("seconds"),
        )
        .where(
            (paired.c.action == "join") | (paired.c.before.is_(None)),
        )
        .subquery()
    )
    rows = await session.execute(
        select(
            visits.c.platform,
            func.sum(case((visits.c.seconds > 0, visits.c.seconds), else_=0.0)),
        ).group_by(visits.c.platform, visits.c.viewer_id)
    )
    return [(str(p), round(float(s or 0.0), 3)) for p, s in rows.all()]


# -- questions --


async def question_states(session: AsyncSession, event_id: str) -> list[tuple[str, str, bool, int]]:
    """(platform, state, merged, count)."""
    merged = Question.merged_into_id.is_not(None)
    rows = await session.execute(
        select(Question.platform, Question.state, merged, func.count())
        .where(Question.event_id == event_id, _audience_only(Question.platform))
        .group_by(Question.platform, Question.state, merged)
    )
    return [(str(p), str(s), bool(m), int(n)) for p, s, m, n in rows.all()]


async def answer_seconds(session: AsyncSession, event_id: str) -> list[float]:
    """Seconds from received to answered, per answered question (not merged ones)."""
    rows = await session.scalars(
        select(seconds_between(session, Question.received_at, Question.answered_at)).where(
            Question.event_id == event_id,
            _audience_only(Question.platform),
            Question.state == "answered",
            Question.answered_at.is_not(None),
            Question.merged_into_id.is_(None),
        )
    )
    return [max(0.0, round(float(s), 3)) for s in rows.all() if s is not None]


async def top_questions(session: AsyncSession, event_id: str, limit: int) -> Sequence[Question]:
    query = (
        select(Question)
        .where(
            Question.event_id == event_id,
            _audience_only(Question.platform),
            Question.merged_into_id.is_(None),
        )
        .order_by(Question.votes.desc(), Question.received_at, Question.id)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


# -- incidents --


# -- events of a series --


async def earlier_events_like(
    session: AsyncSession, event: Event, slug_start: str
) -> Sequence[Event]:
    """Events whose slug starts with `slug_start` and that began before `event`, newest first
    (an event without a start time counts from its creation)."""
    when = func.coalesce(Event.starts_at, Event.created_at)
    pattern = slug_start.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = (
        select(Event)
        .where(
            Event.id != event.id,
            Event.slug.like(pattern, escape="\\"),
            when < (event.starts_at or event.created_at),
        )
        .order_by(when.desc(), Event.created_at.desc())
    )
    return (await session.scalars(query)).all()
