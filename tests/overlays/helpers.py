"""What the overlay tests share: a poll with votes, a question on deck, a live cue."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from app.cues.models import Cue, CueSheet, CueState
from app.polls import service as polls
from app.polls.models import PollKind
from app.polls.service import Ballot
from app.questions.models import Question, QuestionState
from tests.conftest import Seeded, Stack
from tests.questions.helpers import make_questions

POLL_TITLE = "Which launch demo next?"
OPTIONS = ["Rocket", "Rover", "Drone"]
VOTES = [5, 3, 0]  # per option


async def poll_with_votes(stack: Stack, seeded: Seeded) -> str:
    """An open single-choice poll with VOTES counted."""
    now = datetime.now(UTC)
    async with stack.db.sessions() as session:
        poll = await polls.create(
            session,
            seeded.event.id,
            title=POLL_TITLE,
            kind=PollKind.single,
            options=OPTIONS,
            duration_s=None,
            cue_id=None,
            actor="test",
        )
        await polls.launch(session, poll, "test", now=now)
        ballots = [
            Ballot("current", f"twitch:v{option}-{i}", "twitch", None, [option], now)
            for option, n in enumerate(VOTES, start=1)
            for i in range(n)
        ]
        outcome = await polls.record_votes(session, seeded.event.id, ballots)
        assert outcome.counted == sum(VOTES)
        await session.commit()
        return poll.id


async def question_on_deck(stack: Stack, seeded: Seeded) -> str:
    qid = (await make_questions(stack, seeded, 1))[0]
    async with stack.db.sessions() as session:
        await session.execute(
            update(Question).where(Question.id == qid).values(state=QuestionState.on_deck)
        )
        await session.commit()
    return qid


async def live_cue(stack: Stack, seeded: Seeded, title: str = "Opening keynote") -> str:
    now = datetime.now(UTC)
    async with stack.db.sessions() as session:
        cue = Cue(
            event_id=seeded.event.id,
            position=0,
            title=title,
            owner_role="host",
            planned_duration_s=600,
            state=CueState.live,
            actual_start_at=now,
            actions=[],
            actions_fired=[],
        )
        session.add(cue)
        await session.flush()
        session.add(CueSheet(event_id=seeded.event.id, live_cue_id=cue.id))
        await session.commit()
        return cue.id
