"""Incidents of a live show: their lifecycle, steps, roles and append-only timeline."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class IncidentState(StrEnum):
    triage = "triage"
    acknowledged = "acknowledged"
    mitigating = "mitigating"
    monitoring = "monitoring"
    resolved = "resolved"
    closed = "closed"
    cancelled = "cancelled"


OPEN_STATES = (
    IncidentState.triage,
    IncidentState.acknowledged,
    IncidentState.mitigating,
    IncidentState.monitoring,
)


class StepState(StrEnum):
    todo = "todo"
    in_progress = "in_progress"
    done = "done"
    skipped = "skipped"


class Incident(Base):
    __tablename__ = "incident"
    __table_args__ = (
        Index("ix_incident_event_id_state", "event_id", "state"),
        UniqueConstraint("event_id", "number"),
        # One open incident per detector signal and scope, held by the database: two
        # workers' detectors (or a detector and a person) cannot both open it.
        Index(
            "uq_incident_open_signal",
            "event_id",
            "signal",
            "scope",
            unique=True,
            postgresql_where=text(
                "signal IS NOT NULL AND state IN ('triage','acknowledged','mitigating','monitoring')"
            ),
            sqlite_where=text(
                "signal IS NOT NULL AND state IN ('triage','acknowledged','mitigating','monitoring')"
            ),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column()  # 1, 2, … per event: what people say on comms
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))  # sev1 (worst) .. sev4
    state: Mapped[IncidentState] = mapped_column(String(16), default=IncidentState.triage)
    # The playbook entry it follows (slug + version), and a detector's suggestion that
    # a person confirms or corrects.
    entry_slug: Mapped[str | None] = mapped_column(String(64), default=None)
    playbook_version: Mapped[int | None] = mapped_column(default=None)
    suggested_slug: Mapped[str | None] = mapped_column(String(64), default=None)
    match_confirmed: Mapped[bool] = mapped_column(default=False)
    # What opened it: a detector's signal and scope ("total", "platform:twitch", …) or
    # None for one a person opened.
    signal: Mapped[str | None] = mapped_column(String(32), default=None)
    scope: Mapped[str | None] = mapped_column(String(80), default=None)
    explanation: Mapped[str] = mapped_column(Text, default="")
    detection: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    drill: Mapped[bool] = mapped_column(default=False)
    # Milestones, each stamped the first time it is reached (see service.transition).
    impact_started_at: Mapped[datetime | None] = mapped_column(default=None)
    detected_at: Mapped[datetime | None] = mapped_column(default=None)
    declared_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    mitigated_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    # Its entry's escalation rules, targets and templates as they were when it opened
    # (a later playbook version does not change a running incident).
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Escalation rules of the plan already applied (count, in order).
    escalations_done: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncidentStep(Base):
    __tablename__ = "incident_step"
    __table_args__ = (Index("ix_incident_step_incident_id", "incident_id", "position"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    text: Mapped[str] = mapped_column(Text)
    owner_role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="manual")  # manual | automatic
    action: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    from_playbook: Mapped[bool] = mapped_column(default=True)  # False: added ad hoc
    state: Mapped[StepState] = mapped_column(String(16), default=StepState.todo)
    reason: Mapped[str | None] = mapped_column(Text, default=None)  # why skipped
    done_by: Mapped[str | None] = mapped_column(String(64), default=None)
    done_at: Mapped[datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(default=1)


class IncidentRole(Base):
    """Who holds a role on an incident, with history: a handover ends one row, starts one."""

    __tablename__ = "incident_role"
    __table_args__ = (Index("ix_incident_role_incident_id", "incident_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))  # lead, comms, platform, speaker_liaison…
    user_id: Mapped[str] = mapped_column(String(32))
    user_name: Mapped[str] = mapped_column(String(128))
    assigned_by: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class TimelineEntry(Base):
    """Append-only: nothing updates or deletes a row (service.append is the only writer)."""

    __tablename__ = "timeline_entry"
    __table_args__ = (Index("ix_timeline_entry_incident_id", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))  # user:<name>, detector:<signal>, system
    kind: Mapped[str] = mapped_column(String(24))  # state, note, step, role, severity, …
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DetectorSignal(Base):
    """What a detector decided that did not open an incident (a suggestion, a monitor
    reading) or that an open incident already covered: the Ops view lists them."""

    __tablename__ = "detector_signal"
    __table_args__ = (Index("ix_detector_signal_event_id_at", "event_id", "at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    signal: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(80))
    entry_slug: Mapped[str | None] = mapped_column(String(64), default=None)
    mode: Mapped[str] = mapped_column(String(16))  # suggest | monitor | open_incident
    outcome: Mapped[str] = mapped_column(String(24))  # suggested, monitored, deduplicated
    explanation: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    incident_id: Mapped[str | None] = mapped_column(String(32), default=None)
    drill: Mapped[bool] = mapped_column(default=False)
