"""Frames of the console WebSocket protocol (docs/PROTOCOL.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

TOPICS = frozenset({"chat", "questions", "polls", "gauges", "incidents", "cues", "sources"})
DEFAULT_TOPICS = frozenset({"chat", "questions", "polls", "cues", "gauges", "sources", "incidents"})
# Gauges are high-rate and only the latest matters: a lagging console gets them coalesced.
COALESCED_TOPICS = frozenset({"gauges"})


# Frames are UTF-8 JSON sent as binary WebSocket messages: built once per topic set,
# the same bytes are written to every console. As text frames, the server would
# re-encode each frame for each console (14% of a serve process's CPU under load).


def batch_frame(seq_from: int, seq_to: int, items: Sequence[bytes]) -> bytes:
    """Splices already-serialised items into one frame: no item is encoded again."""
    head = b'{"type":"batch","seq_from":%d,"seq_to":%d,"items":[' % (seq_from, seq_to)
    return head + b",".join(items) + b"]}"


def splice_item(frame: bytes, item: bytes) -> bytes:
    """Adds one more item at the end of a batch frame's items."""
    body = frame[:-2]
    return body + (b"" if body.endswith(b"[") else b",") + item + b"]}"


def hello_frame(
    seq: int, snapshot: dict[str, Any] | None, *, resumed: bool, replayed: int
) -> bytes:
    return orjson.dumps(
        {
            "type": "hello",
            "server_time": datetime.now(UTC),
            "seq": seq,
            "resumed": resumed,
            "replayed": replayed,
            "snapshot": snapshot,
        }
    )


def resync_frame(reason: str) -> bytes:
    return orjson.dumps({"type": "resync", "reason": reason})


def ping_frame() -> bytes:
    return orjson.dumps({"type": "ping", "server_time": datetime.now(UTC)})


class SubscribeError(ValueError):
    """A subscribe message the server cannot honour; the text says how to fix it."""


def parse_subscribe(raw: str | bytes) -> tuple[frozenset[str], int | None]:
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SubscribeError(f"not JSON: {exc}") from None
    if not isinstance(msg, dict) or msg.get("type") != "subscribe":
        raise SubscribeError('send {"type":"subscribe","topics":[...],"since":null} first')
    topics = msg.get("topics") or sorted(DEFAULT_TOPICS)
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise SubscribeError("topics must be a list of names")
    unknown = set(topics) - TOPICS
    if unknown:
        raise SubscribeError(f"unknown topics {sorted(unknown)}; known: {sorted(TOPICS)}")
    since = msg.get("since")
    if since is not None and (not isinstance(since, int) or since < 0):
        raise SubscribeError("since must be null or the last seq_to you saw")
    return frozenset(topics), since
