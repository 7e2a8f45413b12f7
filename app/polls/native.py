"""Polls on the platforms' own poll features: the commands a launch and a close send to
each source, and the platforms' counts as they come back through the pipeline.

A source whose connector runs native polls (app/connectors/native_polls.py) gets
poll_start / poll_end for the poll kinds a platform poll can be (one choice; a rating as
its five values); the connector falls back to posting the chat-voting instructions when
the platform refuses. Every other source that can post gets the instructions. A
platform's counts replace its viewers' chat ballots in the results (see results_rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import Action, Capability
from app.connectors.native_polls import POLL_END, POLL_START
from app.connectors.registry import capabilities_for
from app.db import dialect_insert, new_id
from app.events.models import Source
from app.polls.chat_votes import RATING_MAX
from app.polls.models import NativeTally, Poll, PollKind

NATIVE_KINDS = (PollKind.single, PollKind.rating)  # platform polls take one choice


@dataclass(frozen=True)
class Report:
    """One native tally envelope's content."""

    poll: str
    source_id: str
    platform: str
    platform_poll: str
    counts: list[int]
    final: bool
    reported_at: datetime


def why_invalid(data: dict[str, object]) -> str | None:
    """Why a poll_tally envelope's data cannot be recorded (None if it can)."""
    if not isinstance(data.get("poll"), str) or not data["poll"]:
        return "poll_tally without a poll id"
    if not isinstance(data.get("platform_poll"), str) or not data["platform_poll"]:
        return "poll_tally without the platform's poll id"
    counts = data.get("counts")
    if not isinstance(counts, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts
    ):
        return "poll_tally counts must be a list of non-negative integers"
    if not isinstance(data.get("final"), bool):
        return "poll_tally final must be true or false"
    return None


def instructions(poll: Poll, labels: list[str]) -> str:
    """The chat-voting instructions posted where the poll runs in chat."""
    if poll.kind == PollKind.rating:
        how = f"rate with !rate 1..{RATING_MAX}"
    elif poll.kind == PollKind.multiple:
        how = f"vote with !vote 1..{len(labels)} (several allowed: !vote 1 3)"
    else:
        how = f"vote with !vote 1..{len(labels)}"
    choices = " ".join(f"{i + 1}) {label}" for i, label in enumerate(labels))
    return f"Poll: {poll.title} — {how}" + (f" — {choices}" if choices else "")


async def _sources(session: AsyncSession, event_id: str) -> Sequence[Source]:
    query = select(Source).where(Source.event_id == event_id, Source.enabled.is_(True))
    return (await session.scalars(query)).all()


def _native(source: Source, poll: Poll) -> bool:
    return poll.kind in NATIVE_KINDS and Capability.native_polls in capabilities_for(
        source.platform
    )


async def launch_commands(
    session: AsyncSession, poll: Poll, labels: list[str], options: list[str]
) -> list[tuple[str, bytes]]:
    """(source id, Action) for each source: its native poll, or the chat instructions.
    `labels` are the poll's own (none for a rating), `options` what voters pick from."""
    text = instructions(poll, labels)
    commands = []
    for source in await _sources(session, poll.event_id):
        if _native(source, poll):
            params = {
                "poll_id": poll.id,
                "title": poll.title,
                "options": options,
                "duration_s": poll.duration_s,
                "chat_text": text,
            }
            commands.append((source.id, Action(new_id(), POLL_START, source.id, params)))
        elif Capability.send_message in capabilities_for(source.platform):
            action = Action(new_id(), "send_message", source.id, {"text": text})
            commands.append((source.id, action))
    return [(sid, action.to_json()) for sid, action in commands]


async def close_commands(session: AsyncSession, poll: Poll) -> list[tuple[str, bytes]]:
    """poll_end for each source that was asked to run the poll natively."""
    return [
        (s.id, Action(new_id(), POLL_END, s.id, {"poll_id": poll.id}).to_json())
        for s in await _sources(session, poll.event_id)
        if _native(s, poll)
    ]


async def record(
    session: AsyncSession, event_id: str, reports: Sequence[Report]
) -> tuple[list[str], list[tuple[int, str]]]:
    """Keeps each source's latest report per poll: (polls touched, rejected (index, why)).

    A report for a closed poll is kept: the platform counted votes cast while it was
    open, and its final count comes after our close (which ends the platform's poll).
    """
    if not reports:
        return [], []
    ids = {r.poll for r in reports}
    known = set(
        await session.scalars(select(Poll.id).where(Poll.event_id == event_id, Poll.id.in_(ids)))
    )
    rows: dict[tuple[str, str], dict[str, object]] = {}
    rejected: list[tuple[int, str]] = []
    for index, report in enumerate(reports):
        if report.poll not in known:
            rejected.append((index, f"no poll {report.poll} in this event"))
            continue
        key = (report.poll, report.source_id)
        seen = rows.get(key)
        if seen is None or seen["reported_at"] <= report.reported_at:  # type: ignore[operator]
            rows[key] = {
                "poll_id": report.poll,
                "source_id": report.source_id,
                "platform": report.platform,
                "platform_poll_id": report.platform_poll,
                "counts": report.counts,
                "final": report.final,
                "reported_at": report.reported_at,
                "updated_at": datetime.now(report.reported_at.tzinfo),
            }
    if rows:
        table = NativeTally.__table__
        stmt = dialect_insert(session, table)
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=["poll_id", "source_id"],
            set_={
                c: getattr(new, c)
                for c in ("platform", "platform_poll_id", "counts", "final", "reported_at")
            }
            | {"updated_at": new.updated_at},
            # A report delivered late never replaces a newer one (counts only grow).
            where=table.c.reported_at <= new.reported_at,
        )
        await session.execute(stmt, list(rows.values()))
    return sorted({poll for poll, _ in rows}), rejected
