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
        "held": bool(row.get("held")),
        "flagged": bool(row.get("flagged")),
        "moderation_reason": row.get("moderation_reason"),
        "version": row.get("version") or 1,
        "platform_at": row["platform_at"],
        "received_at": row["received_at"],
    }


def question_data(row: dict[str, Any]) -> dict[str, Any]:
    votes, boost = row["votes"], row.get("boost") or 0
    return {
        "id": row["id"],
        "source_id": row["source_id"],
        "platform": row["platform"],
        "author_name": "Anonymous" if row.get("anonymous") else row["author_name"],
        "text": row["text"],
        "original_text": row.get("original_text"),
        "state": row["state"],
        "votes": votes,
        "boost": boost,
        "score": votes + boost,
        "version": row["version"],
        "pinned": bool(row.get("pinned")),
        "tags": list(row.get("tags") or []),
        "anonymous": bool(row.get("anonymous")),
        "host_note": row.get("host_note") or "",
        "claimed_by": row.get("claimed_by"),
        "claimed_by_name": row.get("claimed_by_name"),
        "claimed_until": row.get("claimed_until"),
        "merged_into": row.get("merged_into_id"),
        "merged_count": row.get("merged_count") or 0,
        "duplicate_of": row.get("duplicate_of_id"),
        "duplicate_score": row.get("duplicate_score"),
        "received_at": row["received_at"],
        "updated_at": row.get("updated_at") or row["received_at"],
    }


def row_dict(obj: ChatMessage | Question) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}
