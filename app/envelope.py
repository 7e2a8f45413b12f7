"""The normalized envelope every connector produces, whatever its platform."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_MAX_TEXT = 2000
_ID_NAMESPACE = uuid.UUID("5f0c6f0e-7d1c-4c55-9d3e-2b9a1f6c0c01")


class Kind(StrEnum):
    chat = "chat"
    question = "question"
    vote = "vote"
    viewers = "viewers"
    presence = "presence"
    stream_state = "stream_state"
    moderation_result = "moderation_result"
    poll_tally = "poll_tally"  # a platform's own counts for a native poll (native_polls.py)
    shares = "shares"  # a platform's running count of shares (or forwards) of the stream


class Author(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=128)
    name: str = Field(max_length=128)
    roles: tuple[str, ...] = ()


class Envelope(BaseModel):
    """One thing that happened on a platform, as the pipeline sees it."""

    model_config = ConfigDict(frozen=True)

    event_id: str = Field(min_length=1, max_length=64)
    source_id: str = Field(min_length=1, max_length=64)
    platform: str = Field(min_length=1, max_length=32)
    kind: Kind
    platform_message_id: str = Field(min_length=1, max_length=128)
    author: Author | None = None
    text: str | None = None
    truncated: bool = False
    original_length: int | None = None
    # kind-specific fields: viewer count, vote choice, presence join/leave, ...
    data: dict[str, Any] = Field(default_factory=dict)
    platform_at: datetime
    ingest_at: datetime
    raw: Any = None

    @field_validator("platform_at", "ingest_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamps must carry a timezone")
        return value.astimezone(UTC)

    @property
    def dedupe_key(self) -> tuple[str, str]:
        return (self.source_id, self.platform_message_id)

    @property
    def row_id(self) -> str:
        """Stable id for the row this envelope becomes: the same message, the same id."""
        return message_row_id(self.source_id, self.platform_message_id)

    def to_json(self) -> bytes:
        # orjson straight from the fields: the same bytes as model_dump(mode="json"),
        # several times cheaper, and this runs once per chat line in every connector.
        fields = dict(self.__dict__)
        if self.author is not None:
            fields["author"] = self.author.__dict__
        return orjson.dumps(fields, option=orjson.OPT_UTC_Z)

    @classmethod
    def trusted(cls, fields: dict[str, Any]) -> Envelope:
        """An envelope from every field, already checked as the validators would (hot paths).

        pydantic validation is most of a chat line's cost at Twitch rates. The caller
        guarantees aware UTC datetimes, ids within their lengths and the text rule of
        make_envelope; `_trusted_matches_validated` proves the shortcut at import and
        turns it off if pydantic ever stops building models this way.
        """
        if not _TRUSTED_OK:
            return cls(**fields)
        return _assemble(cls, _ENVELOPE_FIELDS, fields)

    @staticmethod
    def trusted_author(id: str, name: str, roles: tuple[str, ...] = ()) -> Author:
        """An Author from checked values (see trusted)."""
        if not _TRUSTED_OK:
            return Author(id=id, name=name, roles=roles)
        return _assemble(Author, _AUTHOR_FIELDS, {"id": id, "name": name, "roles": roles})

    @classmethod
    def from_json(cls, payload: bytes | str) -> Envelope:
        return cls.model_validate_json(payload)


def message_row_id(source_id: str, platform_message_id: str) -> str:
    return uuid.uuid5(_ID_NAMESPACE, f"{source_id}\x1f{platform_message_id}").hex


def make_envelope(
    *,
    event_id: str,
    source_id: str,
    platform: str,
    kind: Kind,
    platform_message_id: str,
    platform_at: datetime,
    author: Author | None = None,
    text: str | None = None,
    data: dict[str, Any] | None = None,
    raw: Any = None,
    ingest_at: datetime | None = None,
    max_text: int = DEFAULT_MAX_TEXT,
) -> Envelope:
    """Builds an envelope; text longer than max_text is cut and flagged, never dropped."""
    truncated = False
    original_length = None
    if text is not None and len(text) > max_text:
        truncated, original_length = True, len(text)
        text = text[:max_text]
    return Envelope(
        event_id=event_id,
        source_id=source_id,
        platform=platform,
        kind=kind,
        platform_message_id=platform_message_id,
        author=author,
        text=text,
        truncated=truncated,
        original_length=original_length,
        data=data or {},
        platform_at=platform_at,
        ingest_at=ingest_at or datetime.now(UTC),
        raw=raw,
    )


_Model = TypeVar("_Model", bound=BaseModel)
# Shared, never mutated: the models are frozen and model_copy copies the set it gets.
_ENVELOPE_FIELDS = set(Envelope.model_fields)
_AUTHOR_FIELDS = set(Author.model_fields)
_set = object.__setattr__


def _assemble(cls: type[_Model], fields: set[str], values: dict[str, Any]) -> _Model:
    """A model from checked values, set up as BaseModel.model_construct does, minus its loop."""
    model = cls.__new__(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", fields)
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def _trusted_matches_validated() -> bool:
    at = datetime(2024, 5, 1, 17, 0, 0, 2000, tzinfo=UTC)
    values: dict[str, Any] = {
        "event_id": "e", "source_id": "s", "platform": "twitch", "kind": Kind.chat,
        "platform_message_id": "m", "text": "hi", "truncated": False,
        "original_length": None, "data": {}, "platform_at": at, "ingest_at": at, "raw": None,
    }  # fmt: skip
    try:
        author = _assemble(Author, _AUTHOR_FIELDS, {"id": "1", "name": "a", "roles": ("mod",)})
        ordered = {name: {**values, "author": author}[name] for name in Envelope.model_fields}
        fast = _assemble(Envelope, _ENVELOPE_FIELDS, ordered)
        checked = Envelope(**values, author=Author(id="1", name="a", roles=("mod",)))
        copied = fast.model_copy(update={"text": "x"})
        return (
            fast == checked
            and fast.to_json() == checked.to_json()
            and Envelope.from_json(fast.to_json()) == checked
            and copied.text == "x"
            and fast.text == "hi"
            and copied.model_fields_set is not _ENVELOPE_FIELDS
            and set(Envelope.model_fields) == _ENVELOPE_FIELDS
        )
    except Exception:
        return False


_TRUSTED_OK = _trusted_matches_validated()
