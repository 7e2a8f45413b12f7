from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class EventIn(BaseModel):
    slug: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=1, max_length=200)


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    slug: str
    title: str
    status: str
    starts_at: datetime | None


class SourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    platform: str
    name: str
    kind: str
    enabled: bool
    capabilities: list[str] = []


class EventDetail(EventOut):
    sources: list[SourceOut]
    role: str
