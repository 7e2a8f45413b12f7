from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ReviewIn(BaseModel):
    version: int = Field(ge=1, description="the message's version as the console last saw it")


class PlatformActionIn(BaseModel):
    type: Literal["delete", "timeout", "ban"]
    duration_s: int | None = Field(default=None, ge=1, le=1_209_600)
    reason: str | None = Field(default=None, max_length=500)
