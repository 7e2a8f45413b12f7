"""Incident response figures: how fast the team detected, acknowledged, mitigated and
resolved, and how closely it followed the playbook. Drills and cancelled incidents are
left out: a rehearsal or a false alarm says nothing about the response.

Every duration is measured from detection (when the incident, or the signal that opened
it, was first seen), except time to detect, which runs from the impact's start where
that is known (a detector's window, or what a person entered).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.incidents.models import Incident, IncidentState, IncidentStep, StepState
from app.incidents.service import incidents_of

MEASURES: tuple[tuple[str, str, str], ...] = (
    # (name, from, to)
    ("detect", "impact_started_at", "detected_at"),
    ("acknowledge", "detected_at", "acknowledged_at"),
    ("mitigate", "detected_at", "mitigated_at"),
    ("resolve", "detected_at", "resolved_at"),
)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1): a value that happened, never an interpolation."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def summarise(values: Sequence[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "median_s": percentile(values, 0.5),
        "p90_s": percentile(values, 0.9),
    }


def response_times(incidents: Iterable[Incident]) -> dict[str, Any]:
    """Median and p90 of each measure, overall, per category and per severity."""
    counted = [i for i in incidents if not i.drill and i.state != IncidentState.cancelled]
    groups: dict[str, dict[str, list[Incident]]] = {
        "all": {"all": counted},
        "category": defaultdict(list),
        "severity": defaultdict(list),
    }
    for incident in counted:
        groups["category"][incident.category].append(incident)
        groups["severity"][incident.severity].append(incident)
    out: dict[str, Any] = {}
    for by, buckets in groups.items():
        out[by] = {
            key: {
                name: summarise(
                    [
                        s
                        for i in members
                        if (s := _seconds(getattr(i, start), getattr(i, end))) is not None
                    ]
                )
                for name, start, end in MEASURES
            }
            for key, members in sorted(buckets.items())
        }
    out["incidents"] = len(counted)
    return out


def adherence(playbook: Sequence[IncidentStep], ad_hoc: Sequence[IncidentStep]) -> dict[str, Any]:
    """Playbook steps done, skipped and left open, and steps added ad hoc."""
    done = sum(1 for s in playbook if s.state == StepState.done)
    skipped = sum(1 for s in playbook if s.state == StepState.skipped)
    return {
        "playbook_steps": len(playbook),
        "done": done,
        "skipped": skipped,
        "open": len(playbook) - done - skipped,
        "ad_hoc": len(ad_hoc),
        "ad_hoc_done": sum(1 for s in ad_hoc if s.state == StepState.done),
        "done_ratio": round(done / len(playbook), 3) if playbook else None,
    }


def counted(incidents: Sequence[Incident]) -> list[Incident]:
    """The incidents the figures count: drills and cancelled ones left out."""
    return [i for i in incidents if not i.drill and i.state != IncidentState.cancelled]


async def for_event(session: AsyncSession, event_id: str) -> dict[str, Any]:
    """The event's response times and playbook adherence (drills and cancelled left out)."""
    return await summary(session, await incidents_of(session, event_id, open_only=False))


async def summary(session: AsyncSession, incidents: Sequence[Incident]) -> dict[str, Any]:
    """for_event's figures over incidents already read (the report has them)."""
    counted_ids = [i.id for i in counted(incidents)]
    steps = (
        (
            await session.scalars(
                select(IncidentStep).where(IncidentStep.incident_id.in_(counted_ids))
            )
        ).all()
        if counted_ids
        else []
    )
    return {
        "response": response_times(incidents),
        "adherence": adherence(
            [s for s in steps if s.from_playbook], [s for s in steps if not s.from_playbook]
        ),
        "drills": sum(1 for i in incidents if i.drill),
        "cancelled": sum(1 for i in incidents if i.state == IncidentState.cancelled),
    }
