"""Console deltas: serialised once here, spliced into every console's frames later."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from app.chat.models import ChatMessage
from app.questions.models import Question

Delta = tuple[str, bytes]  # (topic, JSON object without "seq")


def delta(topic: str, kind: str, data: dict[str, Any]) -> Delta:
    body = {"topic": topic, "type": kind, "at": datetime.now(UTC), "data": data}
    return topic, orjson.dumps(body)


def chat_message_data(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "source_id": row["source_id"],
        "platform": row["platform"],
        "author_id": row["author_id"],
        "author_name": row["author_name"],
        "text": row["text"],
        "truncated": row["truncated"],
        "is_question": row["is_question"],
        "hidden": row["hidden"],
        "platform_at": row["platform_at"],
        "received_at": row["received_at"],
    }


def question_data(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "source_id": row["source_id"],
        "platform": row["platform"],
        "author_name": row["author_name"],
        "text": row["text"],
        "state": row["state"],
        "votes": row["votes"],
        "version": row["version"],
        "received_at": row["received_at"],
    }


def row_dict(obj: ChatMessage | Question) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}
