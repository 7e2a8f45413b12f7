from __future__ import annotations

from pydantic import BaseModel, Field

from app.polls.models import PollKind

MAX_DURATION_S = 24 * 3600


class PollIn(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    kind: PollKind = PollKind.single
    options: list[str] = Field(default_factory=list, max_length=10)
    duration_s: int | None = Field(default=None, ge=5, le=MAX_DURATION_S)
    cue_id: str | None = Field(default=None, max_length=32)


class PollEditIn(BaseModel):
    version: int = Field(ge=1)
    title: str | None = Field(default=None, min_length=1, max_length=300)
    kind: PollKind | None = None
    options: list[str] | None = Field(default=None, max_length=10)
    duration_s: int | None = Field(default=None, ge=5, le=MAX_DURATION_S)
    cue_id: str | None = Field(default=None, max_length=32)


class PollVersionIn(BaseModel):
    version: int = Field(ge=1)
