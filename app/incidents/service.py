"""Incident rules: open (by a person or a detector), move through the lifecycle, steps,
roles, notes, severity, the playbook match, escalation. The caller commits, then
publishes the Change (deltas on topic "incidents").

Every move goes through `transition`, which stamps milestones (lifecycle.py) and writes
the timeline; the timeline is append-only and `_append` is its only writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.models import User
from app.bus import Bus
from app.db import get_in_event, new_id, update_if_version
from app.errors import AppError, Conflict, NotFound, VersionConflict
from app.incidents import automatic, lifecycle
from app.incidents.models import (
    OPEN_STATES,
    DetectorSignal,
    Incident,
    IncidentRole,
    IncidentState,
    IncidentStep,
    StepState,
    TimelineEntry,
)
from app.pipeline.deltas import Delta, delta
from app.playbooks.schemas import SEVERITIES


class InvalidIncident(AppError):
    status_code = 422
    code = "invalid_incident"


class TransitionNotAllowed(Conflict):
    code = "transition_not_allowed"


class AlreadyOpen(Conflict):
    """An open incident already covers this detector signal and scope."""

    code = "incident_already_open"


Actor = User | str


def actor_name(actor: Actor) -> str:
    return actor if isinstance(actor, str) else f"user:{actor.username}"


@dataclass
class Change:
    """What a write did; `publish` sends it to consoles once committed."""

    event_id: str
    incident: dict[str, Any] | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)
    notify: list[dict[str, Any]] = field(default_factory=list)  # escalations' notices
    commands: list[tuple[str, bytes]] = field(default_factory=list)  # (source id, Action)

    def deltas(self) -> list[Delta]:
        out = (
            [] if self.incident is None else [delta("incidents", "incident.updated", self.incident)]
        )
        out += [delta("incidents", "incident.timeline", t) for t in self.timeline]
        out += [delta("incidents", "incident.notify", n) for n in self.notify]
        return out

    async def publish(self, bus: Bus) -> None:
        if items := self.deltas():
            await bus.publish_live(self.event_id, items, urgent=True)
        for source_id, payload in self.commands:
            await bus.add_command(self.event_id, source_id, payload)


# -- reading --


async def get(session: AsyncSession, event_id: str, incident_id: str) -> Incident:
    found: Incident = await get_in_event(session, Incident, incident_id, event_id, "incident")
    return found


async def steps_of(session: AsyncSession, incident_id: str) -> Sequence[IncidentStep]:
    query = (
        select(IncidentStep)
        .where(IncidentStep.incident_id == incident_id)
        .order_by(IncidentStep.position)
    )
    return (await session.scalars(query)).all()


async def roles_of(session: AsyncSession, incident_id: str) -> Sequence[IncidentRole]:
    query = (
        select(IncidentRole)
        .where(IncidentRole.incident_id == incident_id)
        .order_by(IncidentRole.assigned_at, IncidentRole.id)
    )
    return (await session.scalars(query)).all()


async def timeline_of(session: AsyncSession, incident_id: str) -> list[dict[str, Any]]:
    query = (
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident_id)
        .order_by(TimelineEntry.id)
    )
    return [timeline_data(t) for t in (await session.scalars(query)).all()]


def step_data(step: IncidentStep) -> dict[str, Any]:
    return {
        "id": step.id,
        "position": step.position,
        "text": step.text,
        "owner_role": step.owner_role,
        "kind": step.kind,
        "action": step.action,
        "from_playbook": step.from_playbook,
        "state": step.state,
        "reason": step.reason,
        "done_by": step.done_by,
        "done_at": step.done_at,
        "version": step.version,
    }


def signal_data(row: DetectorSignal) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at,
        "signal": row.signal,
        "scope": row.scope,
        "entry_slug": row.entry_slug,
        "mode": row.mode,
        "outcome": row.outcome,
        "explanation": row.explanation,
        "data": row.data,
        "incident_id": row.incident_id,
        "drill": row.drill,
    }


def timeline_data(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "incident_id": entry.incident_id,
        "at": entry.at,
        "actor": entry.actor,
        "kind": entry.kind,
        "text": entry.text,
        "data": entry.data,
    }


async def data(session: AsyncSession, incident: Incident) -> dict[str, Any]:
    """The incident as consoles show it: fields, milestones, steps, who holds which role."""
    roles = await roles_of(session, incident.id)
    return {
        "id": incident.id,
        "event_id": incident.event_id,
        "number": incident.number,
        "title": incident.title,
        "category": incident.category,
        "severity": incident.severity,
        "state": incident.state,
        "entry_slug": incident.entry_slug,
        "playbook_version": incident.playbook_version,
        "suggested_slug": incident.suggested_slug,
        "match_confirmed": incident.match_confirmed,
        "signal": incident.signal,
        "scope": incident.scope,
        "explanation": incident.explanation,
        "detection": incident.detection,
        "drill": incident.drill,
        "plan": incident.plan,
        "escalations_done": incident.escalations_done,
        "next_escalation_at": next_escalation_at(incident),
        "impact_started_at": incident.impact_started_at,
        "detected_at": incident.detected_at,
        "declared_at": incident.declared_at,
        "acknowledged_at": incident.acknowledged_at,
        "mitigated_at": incident.mitigated_at,
        "resolved_at": incident.resolved_at,
        "closed_at": incident.closed_at,
        "version": incident.version,
        "created_by": incident.created_by,
        "created_at": incident.created_at,
        "updated_at": incident.updated_at,
        "steps": [step_data(s) for s in await steps_of(session, incident.id)],
        "roles": [
            {"role": r.role, "user_id": r.user_id, "user_name": r.user_name}
            for r in roles
            if r.ended_at is None
        ],
    }


async def incidents_of(
    session: AsyncSession, event_id: str, *, open_only: bool = True
) -> Sequence[Incident]:
    """The event's incidents by number: the open ones, or all."""
    query = select(Incident).where(Incident.event_id == event_id)
    if open_only:
        query = query.where(Incident.state.in_(OPEN_STATES))
    return (await session.scalars(query.order_by(Incident.number))).all()


# -- writing --


def _append(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    kind: str,
    text: str,
    now: datetime,
    **data: Any,
) -> TimelineEntry:
    entry = TimelineEntry(
        incident_id=incident.id,
        event_id=incident.event_id,
        at=now,
        actor=actor_name(actor),
        kind=kind,
        text=text,
        data=data,
    )
    session.add(entry)
    if isinstance(actor, User) and kind != "opened":  # opening has its own audit row
        audit.record(
            session,
            event_id=incident.event_id,
            actor=actor,
            action=f"incident_{kind}",
            target_type="incident",
            target_id=incident.id,
            after={"text": text},
        )
    return entry


async def _bump(
    session: AsyncSession,
    incident: Incident,
    version: int | None,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    """Applies `changes` if the incident is still at `version` (None: as loaded); else 409."""
    version = incident.version if version is None else version
    if incident.version != version or not await update_if_version(
        session, incident, version, {**changes, "updated_at": now}
    ):
        await session.refresh(incident)
        raise VersionConflict(
            f"incident #{incident.number} changed (now version {incident.version}): review it",
            current=await data(session, incident),
        )


async def _finish(
    session: AsyncSession, incident: Incident, entries: Sequence[TimelineEntry], **extra: Any
) -> Change:
    await session.flush()
    return Change(
        incident.event_id,
        await data(session, incident),
        [timeline_data(e) for e in entries],
        **extra,
    )


def _plan(entry: dict[str, Any] | None) -> dict[str, Any]:
    if entry is None:
        return {}
    return {
        "escalation": list(entry.get("escalation") or []),
        "targets": dict(entry.get("targets") or {}),
        "templates": dict(entry.get("templates") or {}),
    }


async def open_incident(
    session: AsyncSession,
    event_id: str,
    *,
    actor: Actor,
    now: datetime,
    entry: dict[str, Any] | None = None,
    playbook_version: int | None = None,
    title: str | None = None,
    category: str | None = None,
    severity: str | None = None,
    signal: str | None = None,
    scope: str | None = None,
    explanation: str = "",
    detection: dict[str, Any] | None = None,
    drill: bool = False,
    detected_at: datetime | None = None,
    impact_started_at: datetime | None = None,
    confirmed: bool = True,
) -> Change:
    """Opens an incident, with its entry's steps when it follows one.

    A detector passes its signal and scope: a second open incident for them is refused
    (AlreadyOpen) by the partial unique index, whoever tries. `confirmed=False` marks the
    entry as the detector's suggestion, for a person to confirm or correct.
    """
    title = (title or (entry or {}).get("title") or "").strip()
    category = category or (entry or {}).get("category")
    severity = severity or (entry or {}).get("default_severity") or "sev3"
    if not title or not category:
        raise InvalidIncident("an incident needs a title and a category (or a playbook entry)")
    if severity not in SEVERITIES:
        raise InvalidIncident(f"severity must be one of {', '.join(SEVERITIES)}")
    slug = (entry or {}).get("slug")
    for attempt in range(3):
        number = (
            await session.scalar(
                select(func.coalesce(func.max(Incident.number), 0)).where(
                    Incident.event_id == event_id
                )
            )
            or 0
        ) + 1
        incident = Incident(
            id=new_id(),
            event_id=event_id,
            number=number,
            title=title,
            category=category,
            severity=severity,
            state=IncidentState.triage,
            entry_slug=slug if confirmed else None,
            suggested_slug=None if confirmed else slug,
            match_confirmed=confirmed and slug is not None,
            playbook_version=playbook_version if slug else None,
            signal=signal,
            scope=scope,
            explanation=explanation,
            detection=detection or {},
            drill=drill,
            plan=_plan(entry),
            impact_started_at=impact_started_at,
            detected_at=detected_at or now,
            declared_at=now,
            created_by=actor_name(actor),
            created_at=now,
            updated_at=now,
            version=1,
        )
        try:
            async with session.begin_nested():
                session.add(incident)
                await session.flush()
            break
        except IntegrityError:
            if signal is not None:
                found = await session.scalar(
                    select(Incident).where(
                        Incident.event_id == event_id,
                        Incident.signal == signal,
                        Incident.scope == scope,
                        Incident.state.in_(OPEN_STATES),
                    )
                )
                if found is not None:
                    raise AlreadyOpen(
                        f"incident #{found.number} already covers {signal} ({scope})",
                        current=await data(session, found),
                    ) from None
            if attempt == 2:
                raise
    steps = _instantiate(incident, (entry or {}).get("steps") or [], start=0)
    session.add_all(steps)
    why = f" — {explanation}" if explanation else ""
    entries = [
        _append(
            session,
            incident,
            actor,
            "opened",
            f"#{incident.number} opened: {title} ({severity}){why}",
            now,
            entry_slug=slug,
            confirmed=confirmed,
            signal=signal,
            scope=scope,
            drill=drill,
        )
    ]
    # A detector's incident waits for a person: its automatic steps (posting in the
    # audience's chats) run when someone acknowledges or confirms it, not on a guess.
    commands: list[tuple[str, bytes]] = []
    if not isinstance(actor, str) or not actor.startswith("detector:"):
        commands = await _run_automatic(session, incident, steps, now, entries)
    audit.record(
        session,
        event_id=event_id,
        actor=actor,
        action="incident_open",
        target_type="incident",
        target_id=incident.id,
        after={"number": number, "title": title, "severity": severity, "entry": slug},
    )
    return await _finish(session, incident, entries, commands=commands)


async def _run_automatic(
    session: AsyncSession,
    incident: Incident,
    steps: Sequence[IncidentStep],
    now: datetime,
    entries: list[TimelineEntry],
) -> list[tuple[str, bytes]]:
    """Runs the automatic steps still to do; adds their timeline lines to `entries`."""
    todo = [s for s in steps if s.kind == "automatic" and s.state == StepState.todo]
    if not todo:
        return []
    lines, commands = await automatic.run(session, incident, todo, now)
    entries += [_append(session, incident, automatic.ACTOR, k, t, now) for k, t in lines]
    return commands


def _instantiate(incident: Incident, specs: Sequence[Any], start: int) -> list[IncidentStep]:
    steps = []
    for i, spec in enumerate(specs, start=start):
        spec = spec if isinstance(spec, dict) else spec.model_dump()
        steps.append(
            IncidentStep(
                id=new_id(),
                incident_id=incident.id,
                position=i,
                text=spec["text"],
                owner_role=spec.get("owner_role") or "ops_lead",
                kind=spec.get("kind") or "manual",
                action=spec.get("action"),
                from_playbook=True,
                state=StepState.todo,
                version=1,
            )
        )
    return steps


async def transition(
    session: AsyncSession,
    incident: Incident,
    to: IncidentState,
    actor: Actor,
    now: datetime,
    *,
    version: int | None = None,
    reason: str | None = None,
) -> Change:
    """The one way an incident changes state: checks the move, stamps the milestones
    reached for the first time, writes the timeline."""
    current = IncidentState(incident.state)
    if to not in lifecycle.ALLOWED[current]:
        allowed = ", ".join(sorted(lifecycle.ALLOWED[current])) or "none: it is over"
        raise TransitionNotAllowed(
            f"#{incident.number} is {current}: it can go to {allowed}, not {to}",
            current=await data(session, incident),
        )
    if to == IncidentState.cancelled and not (reason or "").strip():
        raise InvalidIncident("say why it is cancelled (a false alarm, a duplicate of #…)")
    changes: dict[str, Any] = {"state": to}
    stamped = [m for m in lifecycle.stamps(to) if getattr(incident, m) is None]
    changes.update(dict.fromkeys(stamped, now))
    await _bump(session, incident, version, changes, now)
    text = f"{current} → {to}" + (f": {reason.strip()}" if reason and reason.strip() else "")
    entries = [
        _append(session, incident, actor, "state", text, now, frm=current, to=to, stamped=stamped)
    ]
    commands: list[tuple[str, bytes]] = []
    if "acknowledged_at" in stamped and not isinstance(actor, str):
        commands = await _run_automatic(
            session, incident, await steps_of(session, incident.id), now, entries
        )
    return await _finish(session, incident, entries, commands=commands)


async def set_severity(
    session: AsyncSession,
    incident: Incident,
    severity: str,
    actor: Actor,
    now: datetime,
    *,
    version: int | None = None,
) -> Change:
    """A new severity; escalation rules that would raise it to no worse than it now is
    no longer apply (they are counted as done), so a person's call is not overridden."""
    if severity not in SEVERITIES:
        raise InvalidIncident(f"severity must be one of {', '.join(SEVERITIES)}")
    before, done_before = incident.severity, incident.escalations_done
    rules = incident.plan.get("escalation") or []
    done = done_before
    while done < len(rules):
        target = rules[done].get("raise_severity_to")
        if target and not lifecycle.worse(target, severity):
            done += 1
            continue
        break
    await _bump(session, incident, version, {"severity": severity, "escalations_done": done}, now)
    entry = _append(
        session,
        incident,
        actor,
        "severity",
        f"severity {before} → {severity}",
        now,
        frm=before,
        to=severity,
        escalations_skipped=done - done_before,
    )
    return await _finish(session, incident, [entry])


async def confirm_match(
    session: AsyncSession,
    incident: Incident,
    entry: dict[str, Any],
    playbook_version: int,
    actor: Actor,
    now: datetime,
    *,
    version: int | None = None,
) -> Change:
    """A person confirms the suggested entry, or corrects it to another: the steps of a
    new entry replace the old entry's steps nobody has touched yet."""
    slug = entry["slug"]
    corrected = slug != (incident.entry_slug or incident.suggested_slug)
    await _bump(
        session,
        incident,
        version,
        {
            "entry_slug": slug,
            "match_confirmed": True,
            "playbook_version": playbook_version,
            "plan": _plan(entry) if corrected else incident.plan,
        },
        now,
    )
    if corrected:
        steps = await steps_of(session, incident.id)
        for step in steps:
            if step.from_playbook and step.state == StepState.todo:
                await session.delete(step)
        kept = [s for s in steps if not (s.from_playbook and s.state == StepState.todo)]
        start = max((s.position for s in kept), default=-1) + 1
        session.add_all(_instantiate(incident, entry.get("steps") or [], start=start))
    text = f"playbook entry {'corrected to' if corrected else 'confirmed:'} {slug}"
    entries = [
        _append(session, incident, actor, "match", text, now, slug=slug, corrected=corrected)
    ]
    await session.flush()
    commands = await _run_automatic(
        session, incident, await steps_of(session, incident.id), now, entries
    )
    return await _finish(session, incident, entries, commands=commands)


async def assign_role(
    session: AsyncSession,
    incident: Incident,
    role: str,
    user: User,
    actor: Actor,
    now: datetime,
) -> Change:
    """Gives `role` to `user`; whoever held it hands over (their row ends, kept)."""
    role = role.strip()
    if not role:
        raise InvalidIncident("name the role (lead, comms, platform, …)")
    held = await roles_of(session, incident.id)
    for row in held:
        if row.role == role and row.ended_at is None:
            if row.user_id == user.id:
                return await _finish(session, incident, [])
            row.ended_at = now
    session.add(
        IncidentRole(
            id=new_id(),
            incident_id=incident.id,
            role=role,
            user_id=user.id,
            user_name=user.display_name or user.username,
            assigned_by=actor_name(actor),
            assigned_at=now,
        )
    )
    await _bump(session, incident, None, {}, now)
    entry = _append(
        session,
        incident,
        actor,
        "role",
        f"{role}: {user.display_name or user.username}",
        now,
        role=role,
        user_id=user.id,
    )
    return await _finish(session, incident, [entry])


async def add_note(
    session: AsyncSession, incident: Incident, text: str, actor: Actor, now: datetime
) -> Change:
    text = text.strip()
    if not text:
        raise InvalidIncident("the note is empty")
    entry = _append(session, incident, actor, "note", text, now)
    await _bump(session, incident, None, {}, now)
    return await _finish(session, incident, [entry])


async def add_step(
    session: AsyncSession,
    incident: Incident,
    text: str,
    owner_role: str,
    actor: Actor,
    now: datetime,
) -> Change:
    """A step the playbook did not have (counted as ad hoc in adherence)."""
    text = text.strip()
    if not text:
        raise InvalidIncident("the step needs a text")
    steps = await steps_of(session, incident.id)
    step = IncidentStep(
        id=new_id(),
        incident_id=incident.id,
        position=max((s.position for s in steps), default=-1) + 1,
        text=text,
        owner_role=owner_role,
        kind="manual",
        from_playbook=False,
        state=StepState.todo,
        version=1,
    )
    session.add(step)
    await _bump(session, incident, None, {}, now)
    entry = _append(session, incident, actor, "step", f"step added: {text}", now, step_id=step.id)
    return await _finish(session, incident, [entry])


async def update_step(
    session: AsyncSession,
    incident: Incident,
    step_id: str,
    state: StepState,
    actor: Actor,
    now: datetime,
    *,
    version: int | None = None,
    reason: str | None = None,
) -> Change:
    step = await session.get(IncidentStep, step_id)
    if step is None or step.incident_id != incident.id:
        raise NotFound(f"no step {step_id} on incident #{incident.number}")
    if state == StepState.skipped and not (reason or "").strip():
        raise InvalidIncident("say why the step is skipped")
    if version is not None and step.version != version:
        raise VersionConflict(
            f"the step changed (now version {step.version}): review it",
            current=step_data(step),
        )
    before = step.state
    step.state = state
    step.reason = reason.strip() if state == StepState.skipped and reason else None
    step.done_by = actor_name(actor) if state == StepState.done else None
    step.done_at = now if state == StepState.done else None
    step.version += 1
    await _bump(session, incident, None, {}, now)
    why = f" ({step.reason})" if step.reason else ""
    entry = _append(
        session,
        incident,
        actor,
        "step",
        f"step “{step.text}”: {before} → {state}{why}",
        now,
        step_id=step.id,
        frm=before,
        to=state,
    )
    return await _finish(session, incident, [entry])


# -- escalation --


def next_escalation_at(incident: Incident, done: int | None = None) -> datetime | None:
    """When the next escalation rule fires if nobody acknowledges (None: no more).
    `done`: count the rules applied as this many instead of the stored count."""
    if incident.state != IncidentState.triage:
        return None
    rules = incident.plan.get("escalation") or []
    done = incident.escalations_done if done is None else done
    if done >= len(rules) or incident.declared_at is None:
        return None
    return incident.declared_at + timedelta(seconds=rules[done]["after_s"])


async def escalate_due(session: AsyncSession, now: datetime) -> list[Change]:
    """Applies escalation rules that are due on incidents nobody acknowledged (any event):
    notify a role, raise the severity. An acknowledged incident escalates no more."""
    changes = []
    query = select(Incident).where(Incident.state == IncidentState.triage)
    for incident in (await session.scalars(query)).all():
        rules = incident.plan.get("escalation") or []
        applied: list[tuple[dict[str, Any], str]] = []  # (rule, severity after it)
        done, severity = incident.escalations_done, incident.severity
        while (due := next_escalation_at(incident, done)) is not None and due <= now:
            rule = rules[done]
            target = rule.get("raise_severity_to")
            if target and lifecycle.worse(target, severity):
                severity = target
            applied.append((rule, severity))
            done += 1
        if not applied:
            continue
        version, first = incident.version, incident.escalations_done
        try:
            await _bump(
                session, incident, version, {"escalations_done": done, "severity": severity}, now
            )
        except VersionConflict:
            continue  # acknowledged (or changed) meanwhile: a person got there first
        entries, notify = [], []
        for number, (rule, after) in enumerate(applied, start=first + 1):
            role = rule.get("notify_role")
            raised = rule.get("raise_severity_to")
            what = [f"notify {role}" if role else "", f"severity → {after}" if raised else ""]
            text = f"not acknowledged after {int(rule['after_s'])} s: " + ", ".join(
                w for w in what if w
            )
            entries.append(_append(session, incident, "system", "escalation", text, now, rule=rule))
            if role:
                notify.append(
                    {
                        # id and at: a console replaying deltas after a reconnect shows
                        # each notice once, and can tell an old one from a new one.
                        "id": f"{incident.id}:{number}",
                        "at": now,
                        "incident_id": incident.id,
                        "number": incident.number,
                        "title": incident.title,
                        "role": role,
                        "severity": after,
                        "text": f"#{incident.number} {incident.title}: {text}",
                    }
                )
        changes.append(await _finish(session, incident, entries, notify=notify))
    return changes
