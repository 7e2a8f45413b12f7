"""Twitch EventSub WebSocket frames -> envelopes: pure functions, cheap per chat line.

A busy channel sends hundreds of chat notifications a second through one reader, so
the chat path checks here the constraints Envelope would validate (id lengths, aware
UTC timestamps), applies make_envelope's truncation rule, and builds the envelope with
Envelope.trusted (no second validation). Every other kind goes through make_envelope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from app.connectors.errors import Malformed
from app.envelope import DEFAULT_MAX_TEXT, Envelope, Kind, make_envelope

CHAT_MESSAGE = "channel.chat.message"
MESSAGE_DELETE = "channel.chat.message_delete"
CLEAR_USER_MESSAGES = "channel.chat.clear_user_messages"
POLL_BEGIN = "channel.poll.begin"
POLL_PROGRESS = "channel.poll.progress"
POLL_END = "channel.poll.end"

# Badge set ids that mean something to moderation rules; founders are subscribers too.
ROLE_BADGES = {
    "broadcaster": "broadcaster",
    "moderator": "moderator",
    "vip": "vip",
    "subscriber": "subscriber",
    "founder": "subscriber",
}
_MAX_ID = 128


@dataclass(slots=True)
class Frame:
    """One EventSub WebSocket message: its metadata and its payload."""

    message_id: str
    message_type: str
    timestamp: str
    subscription_type: str | None
    payload: dict[str, Any]


def parse_frame(raw: bytes | str) -> Frame:
    """Decodes a frame's envelope (metadata + payload); raises Malformed."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Malformed(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Malformed("frame is not an object")
    meta = body.get("metadata")
    payload = body.get("payload")
    if not isinstance(meta, dict) or not isinstance(payload, dict):
        raise Malformed("frame lacks metadata or payload")
    message_id = meta.get("message_id")
    message_type = meta.get("message_type")
    if not isinstance(message_id, str) or not message_id or not isinstance(message_type, str):
        raise Malformed("metadata lacks message_id or message_type")
    timestamp = meta.get("message_timestamp")
    sub_type = meta.get("subscription_type")
    return Frame(
        message_id,
        message_type,
        timestamp if isinstance(timestamp, str) else "",
        sub_type if isinstance(sub_type, str) else None,
        payload,
    )


def parse_time(value: Any) -> datetime:
    """An RFC 3339 timestamp (Twitch sends nanoseconds and 'Z') as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        raise Malformed("missing timestamp")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise Malformed(f"bad timestamp {value[:40]!r}") from None
    if at.tzinfo is None:
        raise Malformed("timestamp without a timezone")
    return at if at.tzinfo is UTC else at.astimezone(UTC)


def _text(value: Any, field: str, limit: int = _MAX_ID) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise Malformed(f"event.{field} missing or invalid")
    return value


@dataclass(slots=True, kw_only=True)
class EnvelopeFactory:
    """Builds a source's envelopes from notification frames; holds what every one shares."""

    event_id: str
    source_id: str
    now: Callable[[], datetime]
    platform: str = "twitch"
    max_text: int = DEFAULT_MAX_TEXT

    def notification(self, frame: Frame) -> Envelope | None:
        """The envelope of a notification; None for a type we do not use; raises Malformed."""
        event = frame.payload.get("event")
        if not isinstance(event, dict):
            raise Malformed("notification without an event")
        kind = frame.subscription_type
        if kind is None:
            subscription = frame.payload.get("subscription")
            kind = subscription.get("type") if isinstance(subscription, dict) else None
        if kind == CHAT_MESSAGE:
            return self.chat(frame, event)
        if kind == MESSAGE_DELETE:
            data = {
                "event": "message_deleted",
                "message_id": _text(event.get("message_id"), "message_id"),
                "user_id": event.get("target_user_id"),
                "user_name": event.get("target_user_name"),
            }
            return self._state(frame, data)
        if kind == CLEAR_USER_MESSAGES:
            data = {
                "event": "user_cleared",
                "user_id": _text(event.get("target_user_id"), "target_user_id"),
                "user_name": event.get("target_user_name"),
            }
            return self._state(frame, data)
        if kind in (POLL_BEGIN, POLL_PROGRESS, POLL_END):
            return self._state(
                frame, {"event": "poll." + kind.rsplit(".", 1)[1], "poll": poll(event)}
            )
        return None

    def chat(self, frame: Frame, event: dict[str, Any]) -> Envelope:
        """channel.chat.message -> Kind.chat (the hot path: no pydantic validation)."""
        message_id = _text(event.get("message_id"), "message_id")
        author_id = _text(event.get("chatter_user_id"), "chatter_user_id")
        name = event.get("chatter_user_name") or event.get("chatter_user_login") or author_id
        if not isinstance(name, str) or len(name) > _MAX_ID:
            raise Malformed("event.chatter_user_name invalid")
        message = event.get("message")
        text = message.get("text") if isinstance(message, dict) else None
        if not isinstance(text, str) or not text:
            raise Malformed("event.message.text missing")
        roles: tuple[str, ...] = ()
        badges = event.get("badges")
        if badges:
            if not isinstance(badges, list):
                raise Malformed("event.badges is not a list")
            roles = tuple(
                [
                    ROLE_BADGES[set_id]
                    for b in badges
                    if type(b) is dict and (set_id := b.get("set_id")) in ROLE_BADGES
                ]
            )
        try:
            platform_at = datetime.fromisoformat(frame.timestamp)
        except ValueError:
            raise Malformed(f"bad timestamp {frame.timestamp[:40]!r}") from None
        if platform_at.tzinfo is not UTC:
            platform_at = parse_time(frame.timestamp)  # other offsets, or none (refused)
        truncated, original_length = False, None
        if len(text) > self.max_text:
            truncated, original_length = True, len(text)
            text = text[: self.max_text]
        # In declaration order: to_json writes the fields as pydantic would.
        return Envelope.trusted(
            {
                "event_id": self.event_id,
                "source_id": self.source_id,
                "platform": self.platform,
                "kind": Kind.chat,
                "platform_message_id": message_id,
                "author": Envelope.trusted_author(author_id, name, roles),
                "text": text,
                "truncated": truncated,
                "original_length": original_length,
                "data": {},
                "platform_at": platform_at,
                "ingest_at": self.now(),
                "raw": None,
            }
        )

    def _state(self, frame: Frame, data: dict[str, Any]) -> Envelope:
        return make_envelope(
            event_id=self.event_id,
            source_id=self.source_id,
            platform=self.platform,
            kind=Kind.stream_state,
            # The notification's own id: unique per event, the same on a redelivery.
            platform_message_id=f"eventsub:{frame.message_id}"[:_MAX_ID],
            platform_at=parse_time(frame.timestamp),
            data=data,
            ingest_at=self.now(),
        )


def poll(event: dict[str, Any]) -> dict[str, Any]:
    """A poll event's fields, choices with their votes (0 in begin, where Twitch omits them)."""
    choices = event.get("choices")
    if not isinstance(choices, list):
        raise Malformed("poll without choices")
    out: list[dict[str, Any]] = []
    for choice in choices:
        if not isinstance(choice, dict):
            raise Malformed("poll choice is not an object")
        out.append(
            {
                "id": _text(choice.get("id"), "choices.id"),
                "title": str(choice.get("title") or ""),
                "votes": _count(choice.get("votes")),
                "channel_points_votes": _count(choice.get("channel_points_votes")),
                "bits_votes": _count(choice.get("bits_votes")),
            }
        )
    result: dict[str, Any] = {
        "id": _text(event.get("id"), "id"),
        "title": str(event.get("title") or ""),
        "choices": out,
    }
    for field in ("status", "started_at", "ends_at", "ended_at"):
        if isinstance(event.get(field), str):
            result[field] = event[field]
    return result


def _count(value: Any) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Malformed("poll vote count invalid")
    return value


class RecentIds:
    """A bounded set of recently seen ids (EventSub redelivers with the same message_id)."""

    __slots__ = ("_ids", "limit")

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._ids: dict[str, None] = {}

    def first_time(self, message_id: str) -> bool:
        """True the first time an id is seen; the oldest ids are forgotten past the limit."""
        ids = self._ids
        if message_id in ids:
            return False
        ids[message_id] = None
        if len(ids) > self.limit:
            del ids[next(iter(ids))]
        return True
