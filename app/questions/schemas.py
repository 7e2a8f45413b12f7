from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.questions.models import QuestionState


class TransitionIn(BaseModel):
    to: QuestionState
    version: int = Field(ge=1)


class EditIn(BaseModel):
    version: int = Field(ge=1)
    text: str | None = Field(default=None, min_length=1, max_length=2000)
    tags: list[str] | None = Field(default=None, max_length=20)
    anonymous: bool | None = None
    host_note: str | None = Field(default=None, max_length=2000)
    pinned: bool | None = None


class BoostIn(BaseModel):
    version: int = Field(ge=1)
    amount: Literal[1, -1]


class ClaimIn(BaseModel):
    version: int = Field(ge=1)


class BulkIn(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=500)
    to: QuestionState


class MergeIn(BaseModel):
    into: str = Field(min_length=1, max_length=32)
    version: int = Field(ge=1)
