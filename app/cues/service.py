"""Run-of-show rules: ordering, GO, the countdown, overruns and cue actions.

Every write locks the event's cue sheet row first (repository.lock_sheet), so GO,
moves, edits and imports on one event happen one after another; a GO that names a live
cue which is no longer live gets 409 with the one that is. Services never commit: the
request (or the worker's tick) commits, then publishes.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.models import Role, User
from app.bus import Bus
from app.cues import repository
from app.cues.models import Cue, CueState
from app.cues.schemas import CueEdit, CueIn, CueSpec
from app.db import Database, new_id
from app.errors import AppError, Conflict, NotFound, VersionConflict
from app.pipeline.deltas import Delta, delta
from app.polls.models import Poll
from app.questions.models import Question

log = logging.getLogger(__name__)

TOPIC = "cues"
# Who may edit the sheet and press GO.
CUE_ROLES = frozenset(r.value for r in (Role.admin, Role.ops_lead, Role.host))
SNAPSHOT_FIELDS = (
    "position",
    "title",
    "planned_start_at",
    "planned_duration_s",
    "owner_role",
    "notes",
    "actions",
    "state",
    "actual_start_at",
    "actual_end_at",
    "actions_fired",
    "version",
)
NULLABLE_EDITS = frozenset({"planned_start_at"})


class CueLocked(Conflict):
    code = "cue_locked"


class InvalidCue(AppError):
    status_code = 422
    code = "invalid_cue"


class NothingToGo(Conflict):
    code = "nothing_to_go"


class GoConflict(VersionConflict):
    code = "live_cue_changed"


# -- views --
def timing(cue: Cue, now: datetime) -> tuple[float | None, float]:
    """(seconds left, seconds over): untimed cues (duration 0) have neither."""
    if not cue.planned_duration_s or cue.actual_start_at is None:
        return None, 0.0
    end = cue.actual_end_at if cue.state == CueState.done and cue.actual_end_at else now
    remaining = cue.planned_duration_s - (end - cue.actual_start_at).total_seconds()
    return round(remaining, 3), round(max(0.0, -remaining), 3)


def data(cue: Cue, now: datetime) -> dict[str, Any]:
    remaining, over = timing(cue, now)
    return {
        "id": cue.id,
        "position": cue.position,
        "title": cue.title,
        "planned_start_at": cue.planned_start_at,
        "planned_duration_s": cue.planned_duration_s,
        "owner_role": cue.owner_role,
        "notes": cue.notes,
        "actions": list(cue.actions or []),
        "state": cue.state,
        "actual_start_at": cue.actual_start_at,
        "actual_end_at": cue.actual_end_at,
        "remaining_s": remaining if cue.state == CueState.live else None,
        "overrun_s": over,
        "overrun": over > 0,
        "actions_fired": list(cue.actions_fired or []),
        "version": cue.version,
        "updated_at": cue.updated_at,
    }


def snapshot(cue: Cue) -> dict[str, Any]:
    return {f: getattr(cue, f) for f in SNAPSHOT_FIELDS}


async def sheet_view(session: AsyncSession, event_id: str, now: datetime) -> dict[str, Any]:
    sheet = await repository.sheet(session, event_id)
    cues = await repository.sheet_cues(session, event_id)
    return {
        "server_time": now,
        "sheet_version": sheet.version if sheet else 0,
        "live_cue_id": sheet.live_cue_id if sheet else None,
        "cues": [data(c, now) for c in cues],
    }


# -- actions --
FollowUp = Callable[[Bus], Awaitable[None]]  # run after the commit, with the bus


@dataclass
class ActionContext:
    """What an action handler may use; deltas and after_commit run once committed."""

    session: AsyncSession
    event_id: str
    cue: Cue
    actor: User | str
    now: datetime
    deltas: list[Delta] = field(default_factory=list)
    after_commit: list[FollowUp] = field(default_factory=list)


# A handler returns {"status": "done" | "not_available" | "failed", "detail": ...}.
ActionHandler = Callable[[ActionContext, dict[str, Any]], Awaitable[dict[str, Any]]]


async def _announce(ctx: ActionContext, action: dict[str, Any]) -> dict[str, Any]:
    """Consoles and overlays act on it (open Q&A, put a question or checklist on screen)."""
    ctx.deltas.append(delta(TOPIC, "cue.action", {"cue_id": ctx.cue.id, "action": action}))
    return {"status": "done"}


def _poll_handler(function: str) -> ActionHandler:
    """Calls app.polls.service.<function> (launch or close) on the action's poll, looked
    up at GO time so the two domains ship apart: without it the action is recorded as
    not available, and GO goes on."""

    async def handle(ctx: ActionContext, action: dict[str, Any]) -> dict[str, Any]:
        try:
            polls = importlib.import_module("app.polls.service")
        except ModuleNotFoundError:
            return {"status": "not_available", "detail": "polls are not available here"}
        call = getattr(polls, function, None)
        if call is None:
            return {"status": "not_available", "detail": f"polls cannot {function} here"}
        poll = await polls.get(ctx.session, ctx.event_id, action["poll_id"])
        change = await call(ctx.session, poll, ctx.actor, now=ctx.now)
        if hasattr(change, "publish"):
            ctx.after_commit.append(change.publish)
        return {"status": "done", "poll_id": poll.id}

    return handle


ACTION_HANDLERS: dict[str, ActionHandler] = {
    "open_poll": _poll_handler("launch"),
    "close_poll": _poll_handler("close"),
    "open_qa": _announce,
    "close_qa": _announce,
    "show_question": _announce,
    "show_checklist": _announce,
}


async def fire_actions(ctx: ActionContext) -> list[dict[str, Any]]:
    """Runs the cue's actions in order; one failing does not stop the others or GO."""
    fired: list[dict[str, Any]] = []
    for action in ctx.cue.actions or []:
        kind = str(action.get("type"))
        handler = ACTION_HANDLERS.get(kind)
        if handler is None:
            result = {"status": "not_available", "detail": f"no handler for {kind}"}
        else:
            try:
                async with ctx.session.begin_nested():
                    result = await handler(ctx, dict(action))
            except AppError as exc:
                result = {"status": "failed", "detail": exc.message}
            except Exception as exc:
                log.exception("cue action %s failed", kind)
                result = {"status": "failed", "detail": f"{type(exc).__name__}: {exc}"}
        fired.append({"type": kind, "at": ctx.now.isoformat(), **result})
    return fired


# -- writes --
@dataclass
class Outcome:
    """What a write changed, for the answer and the deltas sent after the commit."""

    changed: list[Cue]
    deleted: list[str] = field(default_factory=list)
    deltas: list[Delta] = field(default_factory=list)
    after_commit: list[FollowUp] = field(default_factory=list)


def _renumber(order: Sequence[Cue]) -> list[Cue]:
    changed = []
    for i, cue in enumerate(order):
        if cue.position != i:
            cue.position = i
            changed.append(cue)
    return changed


def _move(cues: Sequence[Cue], cue: Cue, to: int) -> list[Cue]:
    order = [c for c in cues if c.id != cue.id]
    # GO starts the first cue still to come: one placed before the live or a played cue
    # would be next out of running order.
    floor = max((i + 1 for i, c in enumerate(order) if c.state in _ON_RECORD), default=0)
    if to < floor:
        raise InvalidCue(
            f"position {to} is before the live or a played cue: a cue still to come goes "
            f"at position {floor} or later"
        )
    order.insert(min(to, len(order)), cue)
    return _renumber(order)


_ON_RECORD = (CueState.live, CueState.done)


async def _check_actions(
    session: AsyncSession, event_id: str, cues: Sequence[tuple[str, Sequence[Any]]]
) -> None:
    """Every poll and question an action names exists in this event: found at GO, a
    wrong id would only fail live, on air. `cues`: (title, actions) each."""
    wanted: dict[str, set[str]] = {"poll_id": set(), "question_id": set()}
    for _title, actions in cues:
        for action in actions:
            for key, ids in wanted.items():
                if isinstance(value := getattr(action, key, None), str):
                    ids.add(value)
    found = {
        "poll_id": set(
            await session.scalars(
                select(Poll.id).where(Poll.event_id == event_id, Poll.id.in_(wanted["poll_id"]))
            )
        )
        if wanted["poll_id"]
        else set(),
        "question_id": set(
            await session.scalars(
                select(Question.id).where(
                    Question.event_id == event_id, Question.id.in_(wanted["question_id"])
                )
            )
        )
        if wanted["question_id"]
        else set(),
    }
    for n, (title, actions) in enumerate(cues):
        for a, action in enumerate(actions):
            for key in wanted:
                value = getattr(action, key, None)
                if isinstance(value, str) and value not in found[key]:
                    what = "poll" if key == "poll_id" else "question"
                    where = f"cue {n + 1} ({title!r})" if len(cues) > 1 else "this cue"
                    raise InvalidCue(
                        f"{where}, action {a + 1} ({action.type}): no {what} {value} in this "
                        f"event; pick one of the event's {what}s"
                    )


def _find(cues: Sequence[Cue], cue_id: str) -> Cue:
    for cue in cues:
        if cue.id == cue_id:
            return cue
    raise NotFound(f"no cue {cue_id} in this event")


def _record(session: AsyncSession, cue: Cue, actor: User | str, action: str, **what: Any) -> None:
    audit.record(
        session,
        event_id=cue.event_id,
        actor=actor,
        action=action,
        target_type="cue",
        target_id=cue.id,
        **what,
    )


async def create(
    session: AsyncSession, event_id: str, body: CueIn, actor: User, now: datetime
) -> Outcome:
    await _check_actions(session, event_id, [(body.title, body.actions)])
    await repository.lock_sheet(session, event_id, now)
    cues = await repository.sheet_cues(session, event_id)
    fields = body.columns()
    fields.pop("position", None)
    cue = Cue(
        id=new_id(),
        event_id=event_id,
        position=len(cues),
        **fields,
        state=CueState.pending,
        actions_fired=[],
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(cue)
    moved = _move([*cues, cue], cue, body.position) if body.position is not None else []
    await session.flush()
    _record(session, cue, actor, "cue.create", after=snapshot(cue))
    return Outcome([cue, *(c for c in moved if c is not cue)])


async def edit(
    session: AsyncSession, event_id: str, cue_id: str, body: CueEdit, actor: User, now: datetime
) -> Outcome:
    await repository.lock_sheet(session, event_id, now)
    cues = await repository.sheet_cues(session, event_id)
    cue = _find(cues, cue_id)
    if cue.version != body.version:
        raise VersionConflict(
            f"cue changed (now version {cue.version}): review it", current=data(cue, now)
        )
    sent = body.model_fields_set - {"version"}
    if not sent:
        raise AppError(
            "nothing to change: send title, timing, owner_role, notes, actions, position or state"
        )
    if cue.state == CueState.done:
        raise CueLocked("this cue has been played: it can no longer change", current=data(cue, now))
    if cue.state == CueState.live and sent & {"actions", "position", "state"}:
        raise CueLocked(
            "the live cue's actions have fired and its place is fixed: change its title, "
            "timing or notes only",
            current=data(cue, now),
        )
    if body.actions is not None:
        await _check_actions(session, event_id, [(cue.title, body.actions)])
    before = snapshot(cue)
    for name in sent - {"position", "state"}:
        value = getattr(body, name)
        if value is None and name not in NULLABLE_EDITS:
            continue
        if name == "actions":
            value = [a.model_dump(mode="json") for a in body.actions or []]
        setattr(cue, name, value)
    if body.state is not None:
        cue.state = CueState(body.state)
    moved = _move(cues, cue, body.position) if body.position is not None else []
    cue.version += 1
    cue.updated_at = now
    await session.flush()
    action = "cue.move" if sent == {"position"} else "cue.edit"
    _record(session, cue, actor, action, before=before, after=snapshot(cue))
    return Outcome([cue, *(c for c in moved if c is not cue)])


async def delete(
    session: AsyncSession,
    event_id: str,
    cue_id: str,
    version: int | None,
    actor: User,
    now: datetime,
) -> Outcome:
    await repository.lock_sheet(session, event_id, now)
    cues = await repository.sheet_cues(session, event_id)
    cue = _find(cues, cue_id)
    if version is not None and cue.version != version:
        raise VersionConflict(
            f"cue changed (now version {cue.version}): review it", current=data(cue, now)
        )
    if cue.state in (CueState.live, CueState.done):
        raise CueLocked(
            f"a {cue.state} cue stays on the record: only pending or skipped cues can be deleted",
            current=data(cue, now),
        )
    _record(session, cue, actor, "cue.delete", before=snapshot(cue))
    await session.delete(cue)
    moved = _renumber([c for c in cues if c is not cue])
    await session.flush()
    return Outcome(moved, deleted=[cue_id])


async def import_sheet(
    session: AsyncSession, event_id: str, specs: Sequence[CueSpec], actor: User, now: datetime
) -> Outcome:
    """Replaces the pending cues with `specs`, after the cues already live, played or skipped."""
    await _check_actions(session, event_id, [(s.title, s.actions) for s in specs])
    await repository.lock_sheet(session, event_id, now)
    cues = await repository.sheet_cues(session, event_id)
    kept = [c for c in cues if c.state != CueState.pending]
    removed = [c for c in cues if c.state == CueState.pending]
    for cue in removed:
        await session.delete(cue)
    changed = _renumber(kept)
    for i, spec in enumerate(specs, start=len(kept)):
        cue = Cue(
            id=new_id(),
            event_id=event_id,
            position=i,
            **spec.columns(),
            state=CueState.pending,
            actions_fired=[],
            version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(cue)
        changed.append(cue)
    await session.flush()
    audit.record(
        session,
        event_id=event_id,
        actor=actor,
        action="cue.import",
        target_type="cue_sheet",
        target_id=event_id,
        before={"pending": [c.title for c in removed]},
        after={"imported": [s.title for s in specs]},
    )
    return Outcome(changed, deleted=[c.id for c in removed])


async def go(
    session: AsyncSession,
    event_id: str,
    expected_live: str | None,
    actor: User | str,
    now: datetime,
) -> Outcome:
    """Ends the live cue, starts the next pending one and fires its actions, or 409 if
    the live cue is not the one the caller saw."""
    sheet = await repository.lock_sheet(session, event_id, now)
    cues = await repository.sheet_cues(session, event_id)
    live = next((c for c in cues if c.id == sheet.live_cue_id), None)
    if sheet.live_cue_id != expected_live:
        title = f"'{live.title}'" if live else "no cue"
        raise GoConflict(
            f"the show moved on: {title} is live now; look again before pressing GO",
            current={"live": data(live, now) if live else None, "server_time": now},
        )
    upcoming = next((c for c in cues if c.state == CueState.pending), None)
    if live is None and upcoming is None:
        raise NothingToGo("no pending cue left: add one or set a skipped cue back to pending")
    outcome = Outcome([])
    if live is not None:
        before = snapshot(live)
        live.state, live.actual_end_at = CueState.done, now
        live.version += 1
        live.updated_at = now
        _record(session, live, actor, "cue.end", before=before, after=snapshot(live))
        outcome.changed.append(live)
    if upcoming is not None:
        before = snapshot(upcoming)
        upcoming.state, upcoming.actual_start_at = CueState.live, now
        ctx = ActionContext(session, event_id, upcoming, actor, now)
        upcoming.actions_fired = await fire_actions(ctx)
        upcoming.version += 1
        upcoming.updated_at = now
        _record(session, upcoming, actor, "cue.start", before=before, after=snapshot(upcoming))
        outcome.changed.append(upcoming)
        outcome.deltas += ctx.deltas
        outcome.after_commit += ctx.after_commit
    sheet.live_cue_id = upcoming.id if upcoming else None
    await session.flush()
    following = next((c for c in cues if c.state == CueState.pending and c is not upcoming), None)
    body = {
        "live": data(upcoming, now) if upcoming else None,
        "next": data(following, now) if following else None,
        "ended": data(live, now) if live else None,
        "server_time": now,
    }
    outcome.deltas.insert(0, delta(TOPIC, "cue.live", body))
    return outcome


def go_body(outcome: Outcome) -> dict[str, Any]:
    """The answer to GO: what cue.live says."""
    import orjson

    return dict(orjson.loads(outcome.deltas[0][1])["data"])


async def publish(bus: Bus, event_id: str, outcome: Outcome, now: datetime) -> None:
    """After the commit: what changed, then what GO fired, then anything else queued."""
    deltas = [delta(TOPIC, "cue.updated", data(c, now)) for c in outcome.changed]
    deltas += [delta(TOPIC, "cue.deleted", {"id": cue_id}) for cue_id in outcome.deleted]
    deltas += outcome.deltas
    if deltas:
        await bus.publish_live(event_id, deltas, urgent=True)
    for then in outcome.after_commit:
        try:
            await then(bus)
        except Exception:
            log.exception("a cue action's follow-up failed for event %s", event_id)


# -- overruns --
async def overruns(session: AsyncSession, event_id: str, now: datetime) -> list[Cue]:
    """The live cues of the event that have run past their planned duration."""
    live = await repository.live_cues(session, event_id)
    return [c for c in live if timing(c, now)[1] > 0]


async def flag_overruns(db: Database, bus: Bus, event_id: str, now: datetime) -> list[str]:
    """Flags each overrunning cue once (audit row + cue.overrun delta); returns their ids.

    The conditional UPDATE decides which worker flags it, so it is announced once even
    with several workers ticking.
    """
    flagged: list[dict[str, Any]] = []
    async with db.sessions() as session:
        for cue in await overruns(session, event_id, now):
            if cue.overrun_flagged_at is not None:
                continue
            result = await session.execute(
                update(Cue)
                .where(
                    Cue.id == cue.id,
                    Cue.state == CueState.live,
                    Cue.overrun_flagged_at.is_(None),
                )
                .values(overrun_flagged_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                continue
            view = data(cue, now)
            _record(
                session,
                cue,
                "system",
                "cue.overrun",
                after={
                    "overrun_s": view["overrun_s"],
                    "planned_duration_s": cue.planned_duration_s,
                },
            )
            flagged.append(view)
        await session.commit()
    if flagged:
        await bus.publish_live(
            event_id, [delta(TOPIC, "cue.overrun", d) for d in flagged], urgent=True
        )
    return [d["id"] for d in flagged]
