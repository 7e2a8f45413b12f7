"""A playbook's automatic steps, run when the incident opens.

- post_audience_notice: the entry's audience notice, posted in every chat that allows
  sending (a send_message command per source, after the commit);
- send_speaker_message: there is no channel to speakers here, so the message goes on
  the timeline for the host to pass on, and the step says so;
- anything else (chat_slow_mode, …): no connected platform does it from here yet, so
  the step is skipped with that reason, never silently marked done.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import Action, Capability
from app.connectors.registry import capabilities_for
from app.db import new_id
from app.events.models import Source
from app.incidents.models import Incident, IncidentStep, StepState

ACTOR = "system:playbook"


async def run(
    session: AsyncSession, incident: Incident, steps: Sequence[IncidentStep], now: datetime
) -> tuple[list[tuple[str, str]], list[tuple[str, bytes]]]:
    """Runs the automatic steps; returns (timeline lines (kind, text), commands)."""
    lines: list[tuple[str, str]] = []
    commands: list[tuple[str, bytes]] = []
    templates = incident.plan.get("templates") or {}
    for step in steps:
        if step.kind != "automatic" or not step.action:
            continue
        kind = str(step.action.get("type"))
        if kind == "post_audience_notice" and templates.get("audience_notice"):
            # A drill's notice goes to the drill's own chat only, never the audience's.
            senders = [
                s
                for s in await _sources(session, incident.event_id)
                if Capability.send_message in capabilities_for(s.platform)
                and s.is_drill == incident.drill
            ]
            text = str(templates["audience_notice"])
            commands += [
                (s.id, Action(new_id(), "send_message", s.id, {"text": text}).to_json())
                for s in senders
            ]
            if senders:
                _done(step, now)
                lines.append(("step", f"audience notice posted to {len(senders)} chats: {text}"))
            else:
                _skip(step, "no connected chat can post messages", lines)
        elif kind == "send_speaker_message" and templates.get("speaker_message"):
            _skip(step, "no channel to speakers here: pass the message on", lines)
            lines.append(("note", f"for the speaker: {templates['speaker_message']}"))
        else:
            _skip(step, f"{kind} is not available from here: do it by hand", lines)
    return lines, commands


async def _sources(session: AsyncSession, event_id: str) -> Sequence[Source]:
    query = select(Source).where(Source.event_id == event_id, Source.enabled.is_(True))
    return (await session.scalars(query)).all()


def _done(step: IncidentStep, now: datetime) -> None:
    step.state, step.done_by, step.done_at = StepState.done, ACTOR, now


def _skip(step: IncidentStep, reason: str, lines: list[tuple[str, str]]) -> None:
    step.state, step.reason = StepState.skipped, reason
    lines.append(("step", f"step “{step.text}” skipped: {reason}"))
