"""Question triage rules: the lifecycle, optimistic versions, claims, undo.

Every change goes through `change()`: one conditional UPDATE on (id, version), so two
moderators acting at the same instant cannot both win, and one audit row with the
before and after, in the same transaction. The caller commits, then publishes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.audit.models import AuditLog
from app.auth.models import User
from app.bus import Bus
from app.db import get_in_event, insert_ignore, reread_after_conflict, update_if_version
from app.errors import AppError, Conflict, NotFound, VersionConflict
from app.pipeline.deltas import delta, question_data, row_dict
from app.questions.models import Question, QuestionState, QuestionVote

S = QuestionState
TRANSITIONS: dict[QuestionState, frozenset[QuestionState]] = {
    S.pending: frozenset({S.approved, S.rejected, S.on_deck, S.archived}),
    S.approved: frozenset({S.on_deck, S.rejected, S.pending, S.archived}),
    S.on_deck: frozenset({S.answered, S.approved, S.archived}),
    S.answered: frozenset({S.archived, S.on_deck}),
    S.rejected: frozenset({S.pending, S.archived}),
    S.archived: frozenset({S.pending}),
}
CLAIM_TTL = timedelta(seconds=90)
# What a change may touch, and what undo restores.
SNAPSHOT_FIELDS = (
    "state",
    "text",
    "original_text",
    "pinned",
    "tags",
    "anonymous",
    "host_note",
    "boost",
    "claimed_by",
    "claimed_by_name",
    "claimed_until",
    "answered_at",
    "merged_into_id",
)
UNDOABLE = frozenset({"transition", "edit", "boost", "claim", "unclaim", "pin", "merge"})


class Claimed(Conflict):
    code = "claimed"


class IllegalTransition(AppError):
    status_code = 422
    code = "illegal_transition"


class NothingToUndo(NotFound):
    code = "nothing_to_undo"


class CannotMerge(AppError):
    status_code = 422
    code = "cannot_merge"


def data(question: Question) -> dict[str, Any]:
    return question_data(row_dict(question))


def snapshot(question: Question) -> dict[str, Any]:
    return {f: getattr(question, f) for f in (*SNAPSHOT_FIELDS, "version")}


async def get(session: AsyncSession, event_id: str, question_id: str) -> Question:
    question: Question = await get_in_event(session, Question, question_id, event_id, "question")
    return question


async def _conflict(session: AsyncSession, question_id: str, message: str) -> VersionConflict:
    current = await reread_after_conflict(session, Question, question_id)
    return VersionConflict(message, current=data(current))


async def change(
    session: AsyncSession,
    question: Question,
    version: int,
    changes: dict[str, Any],
    *,
    actor: User | str,
    action: str,
) -> Question:
    """Applies `changes` if the question is still at `version`; 409 with the current state if not."""
    if question.version != version:
        raise await _conflict(
            session, question.id, f"question changed (now version {question.version}): review it"
        )
    before = snapshot(question)
    changes = {**changes, "updated_at": datetime.now(UTC)}
    if not await update_if_version(session, question, version, changes):
        raise await _conflict(session, question.id, "someone else changed it first: review it")
    audit.record(
        session,
        event_id=question.event_id,
        actor=actor,
        action=action,
        target_type="question",
        target_id=question.id,
        before=before,
        after=snapshot(question),
    )
    return question


async def transition(
    session: AsyncSession, question: Question, to: QuestionState, version: int, actor: User | str
) -> Question:
    allowed = TRANSITIONS[QuestionState(question.state)]
    if to not in allowed:
        raise IllegalTransition(
            f"a {question.state} question cannot go to {to}; "
            f"it can go to: {', '.join(sorted(allowed))}",
            current=data(question),
        )
    changes: dict[str, Any] = {"state": to}
    if to is S.answered:
        changes["answered_at"] = datetime.now(UTC)
    return await change(session, question, version, changes, actor=actor, action="transition")


async def edit(
    session: AsyncSession, question: Question, version: int, fields: dict[str, Any], actor: User
) -> Question:
    changes = dict(fields)
    if "text" in changes and changes["text"] != question.text and question.original_text is None:
        changes["original_text"] = question.text  # the asker's words stay on record
    action = "pin" if set(changes) == {"pinned"} else "edit"
    return await change(session, question, version, changes, actor=actor, action=action)


async def boost(
    session: AsyncSession, question: Question, version: int, amount: int, actor: User
) -> Question:
    return await change(
        session, question, version, {"boost": question.boost + amount}, actor=actor, action="boost"
    )


def _claim_holder(question: Question, now: datetime) -> str | None:
    if question.claimed_by and question.claimed_until and question.claimed_until > now:
        return question.claimed_by
    return None


async def claim(session: AsyncSession, question: Question, version: int, actor: User) -> Question:
    now = datetime.now(UTC)
    holder = _claim_holder(question, now)
    if holder is not None and holder != actor.id:
        raise Claimed(
            f"{question.claimed_by_name} is working on this question: pick another",
            current=data(question),
        )
    changes = {
        "claimed_by": actor.id,
        "claimed_by_name": actor.display_name,
        "claimed_until": now + CLAIM_TTL,
    }
    return await change(session, question, version, changes, actor=actor, action="claim")


async def unclaim(session: AsyncSession, question: Question, actor: User) -> Question:
    changes = {"claimed_by": None, "claimed_by_name": None, "claimed_until": None}
    return await change(session, question, question.version, changes, actor=actor, action="unclaim")


async def undo_last(session: AsyncSession, event_id: str, actor: User) -> Question:
    """Restores the question the actor last changed, if nobody changed it since."""
    rows: Sequence[AuditLog] = (
        await session.scalars(
            select(AuditLog)
            .where(AuditLog.event_id == event_id, AuditLog.actor_user_id == actor.id)
            .order_by(AuditLog.id.desc())
            .limit(100)
        )
    ).all()
    undone: set[str] = set()
    for row in rows:
        if row.action == "undo":
            undone.add(row.target_id)
        elif row.action == "merge" and str(row.id) not in undone:
            question = await get(session, event_id, row.target_id)
            if question.merged_into_id != (row.after or {}).get("merged_into_id"):
                raise await _conflict(
                    session, question.id, "it was unmerged or merged elsewhere since"
                )
            await unmerge(session, question, actor)
            _record_undo(session, event_id, actor, row)
            return question
        elif row.action in UNDOABLE and str(row.id) not in undone and row.before and row.after:
            question = await get(session, event_id, row.target_id)
            restore = {f: _restore_value(f, row.before[f]) for f in SNAPSHOT_FIELDS}
            # Safe only if the question still looks as this action left it (undoing an
            # earlier action after an undo is fine: that undo restored this very state).
            left = {f: _restore_value(f, row.after[f]) for f in SNAPSHOT_FIELDS}
            if {f: getattr(question, f) for f in SNAPSHOT_FIELDS} != left:
                raise await _conflict(
                    session, question.id, "it changed since your action: undo is no longer safe"
                )
            await change(session, question, question.version, restore, actor=actor, action="undone")
            _record_undo(session, event_id, actor, row)
            return question
    raise NothingToUndo("you have no action on this event left to undo")


def _record_undo(session: AsyncSession, event_id: str, actor: User, undone: AuditLog) -> None:
    audit.record(
        session,
        event_id=event_id,
        actor=actor,
        action="undo",
        target_type="audit_log",
        target_id=str(undone.id),
    )


async def add_platform_votes(
    session: AsyncSession, event_id: str, votes: Sequence[tuple[str, str, datetime]]
) -> tuple[list[Question], set[str]]:
    """Counts platform upvotes, (question id, voter key, received at) triples, each voter
    once per question. An upvote is dated when it reached us, not when a worker stored it,
    so a backlog or a replay keeps it in the minute it was cast.

    Returns the questions whose count changed (the one a merged question went into, not
    the merged one) and the ids of questions this event does not have, for the caller to
    set aside. Recounting from the vote rows, rather than adding one, keeps a redelivered
    batch from counting twice.
    """
    wanted = {qid for qid, _, _ in votes}
    known = dict(
        (
            await session.execute(
                select(Question.id, Question.merged_into_id).where(
                    Question.event_id == event_id, Question.id.in_(wanted)
                )
            )
        ).all()
    )
    kept = [(q, v, at) for q, v, at in votes if q in known]
    rows = [{"question_id": q, "voter_key": v, "created_at": at} for q, v, at in kept]
    if not await insert_ignore(session, QuestionVote, rows):
        return [], wanted - set(known)
    targets = {known[q] or q for q, _, _ in kept}
    counts = await _count_voters(session, targets)
    found = await session.scalars(select(Question).where(Question.id.in_(targets)))
    changed = []
    for target in sorted(found, key=lambda q: q.id):
        if counts.get(target.id, 0) != target.votes:
            target.votes = counts.get(target.id, 0)
            changed.append(target)
    return changed, wanted - set(known)


async def _count_voters(session: AsyncSession, target_ids: Collection[str]) -> dict[str, int]:
    """Distinct voters on each target and on every question merged into it, in one query."""
    on_target = Question.id.in_(target_ids)
    owner = case((on_target, Question.id), else_=Question.merged_into_id)
    rows = await session.execute(
        select(owner, func.count(func.distinct(QuestionVote.voter_key)))
        .select_from(QuestionVote)
        .join(Question, Question.id == QuestionVote.question_id)
        .where(or_(on_target, Question.merged_into_id.in_(target_ids)))
        .group_by(owner)
    )
    return {str(target): int(n) for target, n in rows.all()}


async def _recount(session: AsyncSession, target: Question, actor: User | str) -> Question:
    merged_count = int(
        await session.scalar(
            select(func.count()).select_from(Question).where(Question.merged_into_id == target.id)
        )
        or 0
    )
    votes = (await _count_voters(session, [target.id])).get(target.id, 0)
    return await change(
        session,
        target,
        target.version,
        {"votes": votes, "merged_count": merged_count},
        actor=actor,
        action="recount",
    )


async def merge(
    session: AsyncSession, source: Question, into: Question, version: int, actor: User
) -> tuple[Question, Question]:
    """Folds `source` into `into`: the asker stays on record, each voter counts once."""
    if source.id == into.id:
        raise CannotMerge("a question cannot be merged into itself")
    if into.merged_into_id is not None:
        raise CannotMerge(
            f"that question is itself merged into {into.merged_into_id}: merge into that one"
        )
    if source.merged_into_id is not None:
        raise CannotMerge("this question is already merged: unmerge it first")
    children = await session.scalar(
        select(func.count()).select_from(Question).where(Question.merged_into_id == source.id)
    )
    if children:
        raise CannotMerge("other questions are merged into this one: merge the other way round")
    changes = {"merged_into_id": into.id, "duplicate_of_id": None}
    await change(session, source, version, changes, actor=actor, action="merge")
    await _recount(session, into, actor)
    return source, into


async def unmerge(
    session: AsyncSession, source: Question, actor: User
) -> tuple[Question, Question]:
    if source.merged_into_id is None:
        raise CannotMerge("this question is not merged")
    into = await get(session, source.event_id, source.merged_into_id)
    # Votes that arrived while merged were counted on `into`; they are this one's too.
    votes = (await _count_voters(session, [source.id])).get(source.id, 0)
    changes = {"merged_into_id": None, "votes": votes}
    await change(session, source, source.version, changes, actor=actor, action="unmerge")
    await _recount(session, into, actor)
    return source, into


def _restore_value(field: str, value: Any) -> Any:
    if field in {"claimed_until", "answered_at"} and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


async def publish(bus: Bus, event_id: str, questions: Sequence[Question]) -> None:
    """Tells every console (after the commit) what the questions look like now."""
    if questions:
        await bus.publish_live(
            event_id,
            [delta("questions", "question.updated", data(q)) for q in questions],
            urgent=True,
        )
