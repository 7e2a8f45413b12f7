"""Request bodies of the sources API; answers are plain dicts built by the service."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Kind = Literal["chat", "qa"]


class SourceIn(BaseModel):
    platform: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=128)
    kind: Kind = "chat"
    config: dict[str, Any] = Field(default_factory=dict, description="non-secret settings")
    credentials: dict[str, str] = Field(
        default_factory=dict, description='secrets, or "env:NAME" pointers; never sent back'
    )


class SourceEditIn(BaseModel):
    version: int = Field(ge=1, description="the source's version as the console last saw it")
    name: str | None = Field(default=None, min_length=1, max_length=128)
    kind: Kind | None = None
    config: dict[str, Any | None] | None = Field(
        default=None, description="merged into the config; a null value removes the key"
    )
    credentials: dict[str, str | None] | None = Field(
        default=None, description="merged into the credentials; a null value removes the key"
    )


class VersionIn(BaseModel):
    version: int = Field(ge=1, description="the source's version as the console last saw it")
