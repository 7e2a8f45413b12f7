"""What a cue, its actions and the GO request look like on the wire."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.auth.models import Role

# Who may own a segment: anyone on the team, not the audience.
OwnerRole = Literal["admin", "ops_lead", "moderator", "host"]
assert set(OwnerRole.__args__) == {r.value for r in Role} - {"viewer"}  # type: ignore[attr-defined]


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenPoll(_Action):
    type: Literal["open_poll"]
    poll_id: str = Field(min_length=1, max_length=64)


class ClosePoll(_Action):
    type: Literal["close_poll"]
    poll_id: str = Field(min_length=1, max_length=64)


class OpenQa(_Action):
    type: Literal["open_qa"]


class CloseQa(_Action):
    type: Literal["close_qa"]


class ShowQuestion(_Action):
    type: Literal["show_question"]
    question_id: str = Field(min_length=1, max_length=64)


class ShowChecklist(_Action):
    type: Literal["show_checklist"]
    title: str = Field("", max_length=200)
    items: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=50
    )


CueAction = Annotated[
    OpenPoll | ClosePoll | OpenQa | CloseQa | ShowQuestion | ShowChecklist,
    Field(discriminator="type"),
]


class CueSpec(BaseModel):
    """A cue as planned: what import, export and create share."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    planned_start_at: AwareDatetime | None = None
    planned_duration_s: int = Field(0, ge=0, le=24 * 3600)
    owner_role: OwnerRole = "host"
    notes: str = Field("", max_length=10_000)
    actions: list[CueAction] = Field(default_factory=list, max_length=20)

    def columns(self) -> dict[str, Any]:
        fields = self.model_dump()
        fields["actions"] = [a.model_dump(mode="json") for a in self.actions]
        return fields


class CueIn(CueSpec):
    position: int | None = Field(None, ge=0, description="where to insert; the end by default")


class CueEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    title: str | None = Field(None, min_length=1, max_length=200)
    planned_start_at: AwareDatetime | None = None
    planned_duration_s: int | None = Field(None, ge=0, le=24 * 3600)
    owner_role: OwnerRole | None = None
    notes: str | None = Field(None, max_length=10_000)
    actions: list[CueAction] | None = Field(None, max_length=20)
    position: int | None = Field(None, ge=0)
    state: Literal["pending", "skipped"] | None = None


class GoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expected_live: str | None = Field(
        description="the cue you see live (null before the first cue): GO fails with 409 "
        "if someone moved the show on since"
    )
