"""Poll rules: drafts, launch and close (by hand, by cue, by timer), votes and results.

Like questions: every console change is one conditional UPDATE on (id, version) plus an
audit row in the same transaction; the caller commits, then publishes. Votes come from
the pipeline in batches, one INSERT ... ON CONFLICT per batch.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.audit import service as audit
from app.auth.models import User
from app.bus import Bus
from app.db import dialect_insert, get_in_event, new_id, reread_after_conflict, update_if_version
from app.errors import AppError, Conflict, VersionConflict
from app.pipeline.deltas import delta
from app.polls import native, repository
from app.polls.chat_votes import RATING_MAX, valid_choices, why_invalid
from app.polls.models import Poll, PollKind, PollOption, PollState, Vote

MIN_OPTIONS, MAX_OPTIONS = 2, 10
SNAPSHOT_FIELDS = ("title", "kind", "state", "duration_s", "opens_at", "closes_at", "cue_id")


class InvalidPoll(AppError):
    status_code = 422
    code = "invalid_poll"


class PollStateConflict(Conflict):
    code = "poll_state"


class PollInUse(Conflict):
    code = "poll_in_use"


class AnotherPollOpen(Conflict):
    code = "poll_already_open"


@dataclass
class Ballot:
    """One vote as the pipeline saw it; `poll` is a poll id or "current" (the open one)."""

    poll: str
    voter: str
    platform: str
    source_id: str | None
    choices: Any
    received_at: datetime


@dataclass
class VoteOutcome:
    touched: list[str] = field(default_factory=list)  # polls whose results changed
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (ballot index, why)
    counted: int = 0
    late: int = 0


@dataclass
class PollChange:
    """A launch or close, committed by the caller; `publish` then tells consoles and platforms."""

    event_id: str
    data: dict[str, Any]
    commands: list[tuple[str, bytes]] = field(default_factory=list)  # (source id, Action)

    async def publish(self, bus: Bus) -> None:
        await bus.publish_live(
            self.event_id, [delta("polls", "poll.updated", self.data)], urgent=True
        )
        for source_id, payload in self.commands:
            await bus.add_command(self.event_id, source_id, payload)


# -- reading --


async def get(session: AsyncSession, event_id: str, poll_id: str) -> Poll:
    poll: Poll = await get_in_event(session, Poll, poll_id, event_id, "poll")
    return poll


def shown_labels(poll: Poll, labels: list[str]) -> list[str]:
    """The options as voters see them: a rating's are its scale."""
    return [str(n) for n in range(1, RATING_MAX + 1)] if poll.kind == PollKind.rating else labels


def tally(
    poll: Poll,
    labels: list[str],
    rows: list[tuple[str, str, int]],
    native: Sequence[tuple[str, list[int]]] = (),
) -> dict[str, Any]:
    shown = shown_labels(poll, labels)
    counts = [0] * len(shown)
    by_platform: dict[str, dict[str, Any]] = {}
    total = 0

    def entry_for(platform: str) -> dict[str, Any]:
        return by_platform.setdefault(platform, {"voters": 0, "counts": [0] * len(shown)})

    for platform, key, voters in rows:
        entry = entry_for(platform)
        entry["voters"] += voters
        total += voters
        for position in (int(p) for p in key.split(",")):
            if 1 <= position <= len(shown):
                counts[position - 1] += voters
                entry["counts"][position - 1] += voters
    # A native platform poll takes one choice per viewer: its votes are its voters.
    for platform, reported in native:
        entry = entry_for(platform)
        entry["native"] = True
        for i, n in enumerate(reported[: len(shown)]):
            counts[i] += n
            entry["counts"][i] += n
            entry["voters"] += n
            total += n
    body: dict[str, Any] = {
        "poll_id": poll.id,
        "state": poll.state,
        "kind": poll.kind,
        "options": [
            {"position": i + 1, "label": label, "votes": counts[i]} for i, label in enumerate(shown)
        ],
        "by_platform": by_platform,
        "total_voters": total,
        "late_votes": poll.late_votes,
    }
    if poll.kind == PollKind.rating:
        body["average"] = (
            round(sum((i + 1) * n for i, n in enumerate(counts)) / total, 2) if total else None
        )
    return body


async def results(session: AsyncSession, poll: Poll) -> dict[str, Any]:
    """Counts per option, per-platform breakdown, total voters, late votes."""
    labels = (await repository.options(session, [poll.id]))[poll.id]
    ballots, native_counts = await repository.tallies(session, poll.id)
    return tally(poll, labels, ballots, native_counts)


async def data(session: AsyncSession, poll: Poll) -> dict[str, Any]:
    """The poll as the console shows it, with its results."""
    found = await results(session, poll)
    return {
        "id": poll.id,
        "event_id": poll.event_id,
        "title": poll.title,
        "kind": poll.kind,
        "state": poll.state,
        "options": [o["label"] for o in found["options"]] if poll.kind != PollKind.rating else [],
        "duration_s": poll.duration_s,
        "opens_at": poll.opens_at,
        "closes_at": poll.closes_at,
        "cue_id": poll.cue_id,
        "version": poll.version,
        "created_at": poll.created_at,
        "updated_at": poll.updated_at,
        "results": found,
    }


async def live_polls(session: AsyncSession, event_id: str) -> list[dict[str, Any]]:
    """The event's open poll (at most one), for the console's hello snapshot."""
    poll = await repository.open_poll(session, event_id)
    return [] if poll is None else [await data(session, poll)]


# -- console writes --


def _clean_options(kind: PollKind, options: list[str]) -> list[str]:
    labels = [o.strip() for o in options]
    if kind == PollKind.rating:
        if labels:
            raise InvalidPoll(
                f"a rating poll has no options (voters give 1 to {RATING_MAX}): send options: []"
            )
        return []
    if not MIN_OPTIONS <= len(labels) <= MAX_OPTIONS:
        raise InvalidPoll(
            f"a {kind} poll needs {MIN_OPTIONS} to {MAX_OPTIONS} options; {len(labels)} given"
        )
    if not all(labels):
        raise InvalidPoll("every option needs a label: remove the empty one")
    if any(len(label) > 200 for label in labels):
        raise InvalidPoll("option labels are at most 200 characters")
    if len({label.casefold() for label in labels}) != len(labels):
        raise InvalidPoll("two options have the same label: voters could not tell them apart")
    return labels


def _snapshot(poll: Poll, labels: list[str]) -> dict[str, Any]:
    return {**{f: getattr(poll, f) for f in SNAPSHOT_FIELDS}, "options": labels}


async def _set_options(session: AsyncSession, poll_id: str, labels: list[str]) -> None:
    await session.execute(sql_delete(PollOption).where(PollOption.poll_id == poll_id))
    if labels:
        await session.execute(
            insert(PollOption),
            [{"poll_id": poll_id, "position": i + 1, "label": lb} for i, lb in enumerate(labels)],
        )


async def create(
    session: AsyncSession,
    event_id: str,
    *,
    title: str,
    kind: PollKind,
    options: list[str],
    duration_s: int | None,
    cue_id: str | None,
    actor: User | str,
) -> Poll:
    """A draft poll, ready to launch on a cue or by hand."""
    labels = _clean_options(kind, options)
    now = datetime.now(UTC)
    poll = Poll(
        id=new_id(),
        event_id=event_id,
        title=title.strip(),
        kind=kind,
        state=PollState.draft,
        duration_s=duration_s,
        cue_id=cue_id,
        version=1,
        late_votes=0,
        created_at=now,
        updated_at=now,
    )
    session.add(poll)
    await session.flush()
    await _set_options(session, poll.id, labels)
    audit.record(
        session,
        event_id=event_id,
        actor=actor,
        action="poll_create",
        target_type="poll",
        target_id=poll.id,
        after=_snapshot(poll, labels),
    )
    return poll


async def _conflict(session: AsyncSession, poll_id: str, message: str) -> VersionConflict:
    current = await reread_after_conflict(session, Poll, poll_id)
    return VersionConflict(message, current=await data(session, current))


async def _change(
    session: AsyncSession,
    poll: Poll,
    version: int | None,
    changes: dict[str, Any],
    *,
    actor: User | str,
    action: str,
    labels: list[str] | None = None,
) -> Poll:
    """Applies `changes` if the poll is still at `version` (None: as loaded); audited."""
    version = poll.version if version is None else version
    if poll.version != version:
        raise await _conflict(
            session, poll.id, f"poll changed (now version {poll.version}): review it"
        )
    old_labels = (await repository.options(session, [poll.id]))[poll.id]
    before = _snapshot(poll, old_labels)
    changes = {**changes, "updated_at": datetime.now(UTC)}
    try:
        async with session.begin_nested():
            won = await update_if_version(session, poll, version, changes)
    except IntegrityError:
        # The partial unique index: another poll of this event opened in the meantime.
        open_now = await repository.open_poll(session, poll.event_id)
        raise _another_open(open_now) from None
    if not won:
        raise await _conflict(session, poll.id, "someone else changed it first: review it")
    if labels is not None:
        await _set_options(session, poll.id, labels)
    audit.record(
        session,
        event_id=poll.event_id,
        actor=actor,
        action=action,
        target_type="poll",
        target_id=poll.id,
        before=before,
        after=_snapshot(poll, old_labels if labels is None else labels),
    )
    return poll


def _another_open(poll: Poll | None) -> AnotherPollOpen:
    if poll is None:
        return AnotherPollOpen("another poll was opened at the same time: reload and retry")
    return AnotherPollOpen(
        f"poll '{poll.title}' ({poll.id}) is open: close it before launching another",
        open_poll={"id": poll.id, "title": poll.title, "version": poll.version},
    )


async def edit(
    session: AsyncSession, poll: Poll, version: int, fields: dict[str, Any], actor: User | str
) -> Poll:
    """Changes a draft (title, kind, options, timer, cue); a launched poll stays as voted on."""
    if poll.state != PollState.draft:
        raise PollStateConflict(
            f"this poll is {poll.state}: only a draft can be edited",
            current=await data(session, poll),
        )
    changes = {k: v for k, v in fields.items() if k != "options"}
    if "title" in changes:
        changes["title"] = changes["title"].strip()
    labels = None
    if "options" in fields or "kind" in fields:
        kind = PollKind(fields.get("kind") or poll.kind)
        given = fields.get("options")
        if given is None:  # a kind change keeps the options it can (none for a rating)
            given = (
                []
                if kind == PollKind.rating
                else (await repository.options(session, [poll.id]))[poll.id]
            )
        labels = _clean_options(kind, given)
    return await _change(
        session, poll, version, changes, actor=actor, action="poll_edit", labels=labels
    )


async def delete(session: AsyncSession, poll: Poll, version: int | None, actor: User | str) -> str:
    """Removes a draft nobody has voted in; 409 while a cue still to come names it."""
    if poll.state != PollState.draft:
        raise PollStateConflict(
            f"this poll is {poll.state}: only a draft can be deleted (votes stay on record)",
            current=await data(session, poll),
        )
    if version is not None and poll.version != version:
        raise await _conflict(
            session, poll.id, f"poll changed (now version {poll.version}): review it"
        )
    cues = importlib.import_module("app.cues.repository")  # cues import polls
    for cue in await cues.sheet_cues(session, poll.event_id):
        if cue.state in ("pending", "live") and any(
            a.get("poll_id") == poll.id for a in cue.actions or []
        ):
            raise PollInUse(
                f"the cue “{cue.title}” opens or closes this poll: change that cue first",
                current=await data(session, poll),
            )
    before = _snapshot(poll, (await repository.options(session, [poll.id]))[poll.id])
    await session.delete(poll)
    audit.record(
        session,
        event_id=poll.event_id,
        actor=actor,
        action="poll_delete",
        target_type="poll",
        target_id=poll.id,
        before=before,
    )
    return poll.id


async def launch(
    session: AsyncSession,
    poll: Poll,
    actor: User | str,
    *,
    version: int | None = None,
    now: datetime | None = None,
) -> PollChange:
    """Opens a draft (timer from duration_s); 409 if it is not a draft or another is open."""
    if poll.state != PollState.draft:
        raise PollStateConflict(
            f"this poll is {poll.state}: only a draft can be launched",
            current=await data(session, poll),
        )
    open_now = await repository.open_poll(session, poll.event_id)
    if open_now is not None:
        raise _another_open(open_now)
    now = now or datetime.now(UTC)
    closes_at = now + timedelta(seconds=poll.duration_s) if poll.duration_s else None
    changes = {"state": PollState.open, "opens_at": now, "closes_at": closes_at}
    await _change(session, poll, version, changes, actor=actor, action="poll_launch")
    labels = (await repository.options(session, [poll.id]))[poll.id]
    commands = await native.launch_commands(session, poll, labels, shown_labels(poll, labels))
    return PollChange(poll.event_id, await data(session, poll), commands)


async def close(
    session: AsyncSession,
    poll: Poll,
    actor: User | str,
    *,
    version: int | None = None,
    now: datetime | None = None,
) -> PollChange:
    """Closes an open poll; later votes are counted as late, not stored."""
    if poll.state != PollState.open:
        raise PollStateConflict(
            f"this poll is {poll.state}: only an open poll can be closed",
            current=await data(session, poll),
        )
    now = now or datetime.now(UTC)
    # A timer that ran out closes at its own time: votes after it are late.
    closes_at = poll.closes_at if poll.closes_at is not None and poll.closes_at <= now else now
    changes = {"state": PollState.closed, "closes_at": closes_at}
    await _change(session, poll, version, changes, actor=actor, action="poll_close")
    commands = await native.close_commands(session, poll)
    return PollChange(poll.event_id, await data(session, poll), commands)


async def close_due(session: AsyncSession, now: datetime | None = None) -> list[PollChange]:
    """Closes every open poll whose timer ran out (any event); the caller commits, publishes."""
    now = now or datetime.now(UTC)
    closed: list[PollChange] = []
    for poll in await repository.due(session, now):
        try:
            async with session.begin_nested():
                closed.append(await close(session, poll, "timer", version=poll.version, now=now))
        except AppError:
            continue  # closed by hand (or by another worker) in the meantime
    return closed


# -- votes --


async def record_votes(
    session: AsyncSession, event_id: str, ballots: Sequence[Ballot]
) -> VoteOutcome:
    """Counts a batch of ballots: one vote per voter per poll, the latest one kept.

    A ballot for a poll that is not open (or past its timer) is counted as late and not
    stored; one whose choices do not fit the poll is rejected with the reason.
    """
    outcome = VoteOutcome()
    if not ballots:
        return outcome
    ids = {b.poll for b in ballots if b.poll != "current"}
    polls = {
        p.id: p
        for p in await session.scalars(
            select(Poll).where(Poll.event_id == event_id, Poll.id.in_(ids))
        )
    }
    current = None
    if any(b.poll == "current" for b in ballots):
        current = await repository.open_poll(session, event_id)
        if current is not None:
            polls[current.id] = current
    labels = await repository.options(session, list(polls))
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    late: dict[str, int] = defaultdict(int)
    now = datetime.now(UTC)
    for index, ballot in enumerate(ballots):
        poll = current if ballot.poll == "current" else polls.get(ballot.poll)
        if poll is None:
            what = "no poll is open" if ballot.poll == "current" else f"no poll {ballot.poll}"
            outcome.rejected.append((index, f"{what} in this event"))
            continue
        if poll.state != PollState.open or (
            poll.closes_at is not None and ballot.received_at > poll.closes_at
        ):
            late[poll.id] += 1
            continue
        count = len(labels[poll.id])
        reason = why_invalid(ballot.choices, PollKind(poll.kind), count)
        choices = None if reason else valid_choices(ballot.choices, PollKind(poll.kind), count)
        if choices is None:
            outcome.rejected.append((index, reason or "invalid choices"))
            continue
        key = (poll.id, ballot.voter)
        seen = rows.get(key)
        if seen is None or seen["received_at"] <= ballot.received_at:
            rows[key] = {
                "poll_id": poll.id,
                "voter": ballot.voter,
                "source_id": ballot.source_id,
                "platform": ballot.platform,
                "choices": choices,
                "choice_key": ",".join(str(c) for c in choices),
                "received_at": ballot.received_at,
                "updated_at": now,
            }
    if rows:
        stmt = dialect_insert(session, Vote.__table__)
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=["poll_id", "voter"],
            set_={
                "choices": new.choices,
                "choice_key": new.choice_key,
                "source_id": new.source_id,
                "platform": new.platform,
                "received_at": new.received_at,
                "updated_at": new.updated_at,
            },
            # A redelivered older ballot does not undo the voter's newer change.
            where=Vote.__table__.c.received_at <= new.received_at,
        )
        await session.execute(stmt, list(rows.values()))
    for poll_id, n in late.items():
        value = await session.scalar(
            update(Poll)
            .where(Poll.id == poll_id)
            .values(late_votes=Poll.late_votes + n)
            .returning(Poll.late_votes)
            .execution_options(synchronize_session=False)
        )
        set_committed_value(polls[poll_id], "late_votes", value)
    outcome.counted, outcome.late = len(rows), sum(late.values())
    outcome.touched = sorted({pid for pid, _ in rows} | set(late))
    return outcome


RESULTS_DIRTY = "poll-results"  # bus dirty marks: "{event id}|{poll id}"


async def mark_results(bus: Bus, event_id: str, poll_ids: Sequence[str]) -> None:
    """After a commit that changed votes: the results publisher recounts these polls."""
    for poll_id in poll_ids:
        await bus.mark_dirty(RESULTS_DIRTY, f"{event_id}|{poll_id}")


async def publish_marked_results(session: AsyncSession, bus: Bus) -> int:
    """One poll.results per marked poll, counted after the commits that marked it.

    One worker at a time runs this (a lease), so each count it publishes is at least as
    recent as the one before: two workers each counting their own batch inside their own
    transaction could publish the older count last, and consoles would keep it. A mark
    made while counting stays for the next run.
    """
    marks = await bus.dirty_marks(RESULTS_DIRTY)
    if not marks:
        return 0
    by_event: dict[str, list[str]] = defaultdict(list)
    for member in marks:
        event_id, _, poll_id = member.partition("|")
        by_event[event_id].append(poll_id)
    for event_id, poll_ids in by_event.items():
        found = []
        for poll in (await session.scalars(select(Poll).where(Poll.id.in_(poll_ids)))).all():
            found.append(await results(session, poll))
        if found:
            await bus.publish_live(event_id, [delta("polls", "poll.results", r) for r in found])
    await bus.clear_dirty(RESULTS_DIRTY, marks)
    return len(marks)
