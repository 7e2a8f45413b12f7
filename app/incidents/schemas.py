"""What incident requests look like on the wire."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.incidents.models import IncidentState, StepState

Severity = Literal["sev1", "sev2", "sev3", "sev4"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentIn(_In):
    """Open an incident: from a playbook entry (its title, category, severity and
    steps), or by hand with a title and category."""

    entry_slug: str | None = Field(None, max_length=64)
    title: str | None = Field(None, min_length=1, max_length=200)
    category: str | None = Field(None, min_length=1, max_length=32)
    severity: Severity | None = None
    impact_started_at: AwareDatetime | None = None
    drill: bool = False
    note: str | None = Field(None, max_length=5000)


class TransitionIn(_In):
    to: IncidentState
    version: int
    reason: str | None = Field(None, max_length=2000)


class IncidentEdit(_In):
    version: int
    severity: Severity


class MatchIn(_In):
    version: int
    entry_slug: str = Field(min_length=1, max_length=64)


class RoleIn(_In):
    role: str = Field(min_length=1, max_length=32)
    user_id: str = Field(min_length=1, max_length=32)


class NoteIn(_In):
    text: str = Field(min_length=1, max_length=5000)


class StepIn(_In):
    text: str = Field(min_length=1, max_length=2000)
    owner_role: Literal["admin", "ops_lead", "moderator", "host"] = "ops_lead"


class StepEdit(_In):
    state: StepState
    version: int | None = None
    reason: str | None = Field(None, max_length=2000)
