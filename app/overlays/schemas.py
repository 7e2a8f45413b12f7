from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class OverlayUrls(BaseModel):
    poll: str
    question: str
    segment: str


class OverlayTokenOut(BaseModel):
    """A token as listed: never the secret, only its first characters."""

    id: str
    prefix: str
    created_at: datetime
    created_by: str


class OverlayTokenCreated(OverlayTokenOut):
    """The answer to a create: the only time the whole token is shown."""

    token: str
    urls: OverlayUrls
