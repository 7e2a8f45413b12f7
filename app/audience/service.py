"""The audience page's rules: its source and code, what it shows, and what it accepts.

Questions and poll votes become envelopes on the ingest stream, like any platform's,
so the pipeline files them into the same triage queue and the same tallies. Upvotes
are counted here: they name a question row of any source, which an envelope (keyed by
its own source's message ids) cannot.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audience.limits import MAX_NAME, MAX_TEXT
from app.audit import service as audit
from app.auth.models import User
from app.bus import Bus
from app.envelope import Author, Kind, make_envelope
from app.errors import AppError, Conflict, NotFound
from app.events.models import Event, Source, SourceKind
from app.polls import repository as poll_queries
from app.polls import service as polls
from app.polls.chat_votes import valid_choices, why_invalid
from app.polls.live import OpenPoll
from app.polls.models import PollKind, PollState, Vote
from app.questions import service as questions
from app.questions.models import Question, QuestionState, QuestionVote

PLATFORM = "audience"
CODE_BYTES = 6  # 8 URL-safe characters: 2^48 codes
# What the audience sees and may upvote: questions a moderator let through.
SHOWN_STATES = (QuestionState.approved, QuestionState.on_deck, QuestionState.answered)
UPVOTABLE_STATES = (QuestionState.approved, QuestionState.on_deck)
SHOWN_LIMIT = 100


class InvalidVote(AppError):
    status_code = 422
    code = "invalid_vote"


class NotUpvotable(Conflict):
    code = "question_not_open"


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


async def audience_source(session: AsyncSession, event_id: str) -> Source | None:
    found = await session.scalars(
        select(Source).where(Source.event_id == event_id, Source.platform == PLATFORM)
    )
    return found.first()


async def ensure_source(session: AsyncSession, event: Event, actor: User) -> Source:
    """The event's audience source (kind qa), made with a fresh code on first use."""
    source = await audience_source(session, event.id)
    if source is not None and source.config.get("code"):
        return source
    code = new_code()
    if source is None:
        source = Source(
            event_id=event.id,
            platform=PLATFORM,
            name="Audience page",
            kind=SourceKind.qa,
            config={"code": code},
        )
        session.add(source)
    else:
        source.config = {**source.config, "code": code}
    await session.flush()
    audit.record(
        session,
        event_id=event.id,
        actor=actor,
        action="audience_code_create",
        target_type="source",
        target_id=source.id,
        after={"code": code},
    )
    return source


async def rotate_code(session: AsyncSession, event: Event, actor: User) -> tuple[Source, str]:
    """A new code for the event's page: the old link and QR code stop working at once
    (after a leak, or to reuse a page for another session). Returns (source, old code)."""
    source = await audience_source(session, event.id)
    if source is None or not source.config.get("code"):
        raise NotFound("this event has no audience page yet: create it first")
    old = str(source.config["code"])
    source.config = {**source.config, "code": new_code()}
    await session.flush()
    audit.record(
        session,
        event_id=event.id,
        actor=actor,
        action="audience_code_rotate",
        target_type="source",
        target_id=source.id,
        before={"code": old},
        after={"code": source.config["code"]},
    )
    return source, old


async def by_code(session: AsyncSession, code: str) -> tuple[Source, Event]:
    """The enabled audience source with this code and its event; 404 otherwise."""
    sources = await session.scalars(
        select(Source).where(Source.platform == PLATFORM, Source.enabled.is_(True))
    )
    # One audience source per event: comparing codes here keeps the JSON column portable.
    for source in sources:
        if secrets.compare_digest(str(source.config.get("code", "")), code):
            event = await session.get(Event, source.event_id)
            if event is not None:
                return source, event
    raise NotFound("no audience page with this code: check the link you were given")


# -- reading --


async def shared_page(
    session: AsyncSession, event: Event
) -> tuple[dict[str, Any], OpenPoll | None]:
    """What every reader sees: the event, the poll (results once closed), approved
    questions; and the open poll's shape, to check ballots against."""
    poll, open_poll = await _poll(session, event.id)
    shared = {
        "event": {"title": event.title, "status": event.status},
        "poll": poll,
        "questions": await _questions(session, event.id),
        "limits": {"max_text": MAX_TEXT, "max_name": MAX_NAME},
    }
    return shared, open_poll


async def _poll(
    session: AsyncSession, event_id: str
) -> tuple[dict[str, Any] | None, OpenPoll | None]:
    poll = await poll_queries.open_poll(session, event_id)
    if poll is None:
        # Closing a poll is revealing it: the latest closed one stays up with its results.
        closed = [
            p
            for p in await poll_queries.for_event(session, event_id)
            if p.state == PollState.closed
        ]
        if not closed:
            return None, None
        poll = max(closed, key=lambda p: p.closes_at or p.updated_at)
    is_open = poll.state == PollState.open
    if is_open:
        labels = (await poll_queries.options(session, [poll.id]))[poll.id]
        options = polls.shown_labels(poll, labels)
        found = None
    else:
        found = await polls.results(session, poll)
        options = [o["label"] for o in found["options"]]
    shown = {
        "id": poll.id,
        "title": poll.title,
        "kind": poll.kind,
        "state": poll.state,
        "options": options,
        "closes_at": poll.closes_at if is_open else None,
        "results": (
            None
            if found is None
            else {
                "options": [o["votes"] for o in found["options"]],
                "total_voters": found["total_voters"],
                "average": found.get("average"),
            }
        ),
    }
    return shown, OpenPoll(poll.id, PollKind(poll.kind), len(options)) if is_open else None


async def _questions(session: AsyncSession, event_id: str) -> list[dict[str, Any]]:
    rows = (
        await session.scalars(
            select(Question)
            .where(
                Question.event_id == event_id,
                Question.state.in_(SHOWN_STATES),
                Question.merged_into_id.is_(None),
            )
            .order_by((Question.votes + Question.boost).desc(), Question.received_at)
            .limit(SHOWN_LIMIT)
        )
    ).all()
    return [
        {
            "id": q.id,
            "text": q.text,
            "author": "Anonymous" if q.anonymous else q.author_name,
            "votes": q.votes,
            "state": q.state,
        }
        for q in rows
    ]


async def mine(
    session: AsyncSession, shared: dict[str, Any], client_id: str
) -> tuple[list[int] | None, set[str]]:
    """The reader's own ballot in the page's poll and the questions they upvoted."""
    key = voter_key(client_id)
    choices = None
    if shared["poll"] is not None:
        choices = await session.scalar(
            select(Vote.choices).where(Vote.poll_id == shared["poll"]["id"], Vote.voter == key)
        )
    ids = [q["id"] for q in shared["questions"]]
    voted: set[str] = set()
    if ids:
        voted = set(
            await session.scalars(
                select(QuestionVote.question_id).where(
                    QuestionVote.voter_key == key, QuestionVote.question_id.in_(ids)
                )
            )
        )
    return choices, voted


def voter_key(client_id: str) -> str:
    return f"{PLATFORM}:{client_id}"


# -- writing --


async def ask(
    bus: Bus,
    source_id: str,
    event_id: str,
    client_id: str,
    *,
    request_id: str,
    text: str,
    name: str,
    anonymous: bool,
) -> str:
    """Puts the question on the ingest stream; returns the id its row will have."""
    # Anonymous means the name never leaves the page: the row holds "Anonymous" only.
    shown = "Anonymous" if anonymous or not name else name
    envelope = make_envelope(
        event_id=event_id,
        source_id=source_id,
        platform=PLATFORM,
        kind=Kind.question,
        # Scoped to the client, so one page's ids can never collide with another's.
        platform_message_id=f"{client_id}:{request_id}",
        platform_at=datetime.now(UTC),
        author=Author(id=client_id, name=shown),
        text=text,
        data={"anonymous": anonymous},
    )
    # The page's snapshot marked the event active (app/audience/snapshot.py).
    await bus.add_ingest(event_id, [envelope.to_json()])
    return envelope.row_id


async def vote(
    bus: Bus,
    source_id: str,
    event_id: str,
    poll: OpenPoll | None,
    client_id: str,
    poll_id: str,
    choices: list[int],
) -> None:
    """Checks the ballot against the open poll, then hands it to the pipeline to count.

    `poll` may be up to a snapshot old: a ballot that arrives after the poll closed is
    counted as late by the pipeline (it compares the time it arrived with the close).
    """
    if poll is None or poll.id != poll_id:
        raise InvalidVote("this poll is not open any more: reload to see the current one")
    if valid_choices(choices, poll.kind, poll.option_count) is None:
        reason = why_invalid(choices, poll.kind, poll.option_count)
        raise InvalidVote(reason or "these choices do not fit the poll")
    envelope = make_envelope(
        event_id=event_id,
        source_id=source_id,
        platform=PLATFORM,
        kind=Kind.vote,
        platform_message_id=f"vote:{uuid.uuid4().hex}",
        platform_at=datetime.now(UTC),
        author=Author(id=client_id, name="Audience"),
        data={"poll": poll.id, "choices": choices},
    )
    # The page's snapshot marked the event active (app/audience/snapshot.py).
    await bus.add_ingest(event_id, [envelope.to_json()])


async def upvote(
    session: AsyncSession, event_id: str, client_id: str, question_id: str
) -> tuple[Question, list[Question]]:
    """Counts the client's upvote on a shown, open question; the caller commits, publishes."""
    question = await session.get(Question, question_id)
    if question is None or question.event_id != event_id:
        raise NotFound("no such question on this page: reload the list")
    if question.state not in UPVOTABLE_STATES or question.merged_into_id is not None:
        raise NotUpvotable("only approved questions still to be answered can be upvoted")
    changed, _unknown = await questions.add_platform_votes(
        session, event_id, [(question.id, voter_key(client_id), datetime.now(UTC))]
    )
    return question, changed
