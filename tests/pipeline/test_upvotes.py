"""Platform Q&A upvotes through the pipeline, on both stacks: each voter counts once."""

from __future__ import annotations

from datetime import UTC, datetime

from app.auth.models import User
from app.envelope import Author, Kind, make_envelope, message_row_id
from app.pipeline.worker import PipelineWorker
from app.questions import service as questions
from app.questions.models import Question
from tests.conftest import Seeded, Stack
from tests.pipeline.harness import chat, deltas, drain


def upvote(seeded: Seeded, pmid: str, question_pmid: object, voter: str | None) -> bytes:
    source = seeded.sources[0]
    return make_envelope(
        event_id=seeded.event.id,
        source_id=source.id,
        platform=source.config["plays"],
        kind=Kind.vote,
        platform_message_id=pmid,
        platform_at=datetime.now(UTC),
        author=Author(id=voter, name=voter) if voter else None,
        data={"question": question_pmid},
    ).to_json()


async def votes_of(stack: Stack, seeded: Seeded, pmid: str) -> int:
    async with stack.db.sessions() as session:
        q = await session.get(Question, message_row_id(seeded.sources[0].id, pmid))
        assert q is not None
        return q.votes


async def test_each_voter_counts_once_even_when_a_batch_comes_again(
    stack: Stack, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    worker = PipelineWorker(stack.bus, stack.db, consumer="w1")
    await stack.bus.add_ingest(
        event_id,
        [
            chat(seeded, "q1", "How do you shard the events table?"),
            upvote(seeded, "v1", "q1", "ana"),
            upvote(seeded, "v2", "q1", "ben"),
            upvote(seeded, "v3", "q1", "ana"),  # ana again, another platform message id
        ],
    )
    await drain(stack, worker, event_id)
    assert await votes_of(stack, seeded, "q1") == 2
    updates = [d for d in await deltas(stack, event_id) if d["type"] == "question.updated"]
    assert updates and updates[-1]["data"]["votes"] == 2

    # The platform resends the same votes, and a restarted worker sees them again.
    restarted = PipelineWorker(stack.bus, stack.db, consumer="w2")
    await stack.bus.add_ingest(event_id, [upvote(seeded, "v1", "q1", "ana")])
    await stack.bus.add_ingest(event_id, [upvote(seeded, "v9", "q1", "ben")])
    await drain(stack, restarted, event_id)
    assert await votes_of(stack, seeded, "q1") == 2


async def test_an_upvote_on_a_merged_question_counts_on_the_one_it_went_into(
    stack: Stack, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    worker = PipelineWorker(stack.bus, stack.db, consumer="w1")
    await stack.bus.add_ingest(
        event_id,
        [
            chat(seeded, "q1", "Will the slides be shared after the webinar?"),
            chat(seeded, "q2", "Will the slides get shared after this webinar?", author="u2"),
            upvote(seeded, "v1", "q1", "ana"),
        ],
    )
    await drain(stack, worker, event_id)
    first, second = (message_row_id(seeded.sources[0].id, p) for p in ("q1", "q2"))
    async with stack.db.sessions() as session:
        into = await session.get(Question, first)
        source = await session.get(Question, second)
        mod = await session.get(User, seeded.member.id)
        assert into and source and mod
        await questions.merge(session, source, into, into.version, mod)
        await session.commit()
    # ana votes on the merged question too, ben only there: ana still counts once.
    await stack.bus.add_ingest(
        event_id, [upvote(seeded, "v2", "q2", "ana"), upvote(seeded, "v3", "q2", "ben")]
    )
    await drain(stack, worker, event_id)
    assert await votes_of(stack, seeded, "q1") == 2


async def test_upvotes_for_unknown_questions_or_without_a_voter_are_set_aside(
    stack: Stack, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    worker = PipelineWorker(stack.bus, stack.db, consumer="w1")
    await stack.bus.add_ingest(
        event_id,
        [
            chat(seeded, "q1", "How big is the biggest table you run?"),
            upvote(seeded, "v1", "nope", "ana"),  # no such question
            upvote(seeded, "v2", "q1", None),  # no voter
            upvote(seeded, "v3", 7, "ana"),  # question id is not a string
            upvote(seeded, "v4", "q1", "ben"),  # the good one still counts
        ],
    )
    await drain(stack, worker, event_id)
    assert await votes_of(stack, seeded, "q1") == 1
    reasons = sorted(d.reason for d in await stack.bus.dead_letters(event_id))
    assert len(reasons) == 3, reasons
    assert sum("does not have" in r for r in reasons) == 1
    assert sum("without a question id or a voter" in r for r in reasons) == 2
