"""Generic inbound webhooks (Standard Webhooks signing) for custom platforms and forms.

The body shape is documented in docs/PROTOCOL.md, "Inbound webhooks":
{"type": "chat"|"question"|"viewers"|"shares"|"vote", "id", "author": {"id", "name"},
"text", "count", "question", "at"}.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from app.connectors import signatures
from app.connectors.base import Capability
from app.connectors.credentials import Credentials
from app.connectors.inbox import Delivery, Malformed, Reply, WebhookConnectorBase
from app.connectors.signatures import SignatureError
from app.envelope import Author, Envelope, Kind

SHAPE = (
    'expected {"type": "chat"|"question"|"viewers"|"shares"|"vote", "id"?: str, '
    '"author": {"id": str, "name": str}, "text": str (chat, question), '
    '"count": int >= 0 (viewers, shares), "question": str (vote), "at"?: ISO 8601}'
)
_KINDS = {
    "chat": Kind.chat,
    "question": Kind.question,
    "viewers": Kind.viewers,
    "shares": Kind.shares,
    "vote": Kind.vote,
}
_COUNTS = {Kind.viewers: "current audience", Kind.shares: "shares of the stream so far"}


class WebhookConnector(WebhookConnectorBase):
    """A custom platform or form posting signed JSON events to /hooks/{source_id}."""

    platform = "webhook"
    capabilities = frozenset({Capability.viewer_counts})
    kept_headers: ClassVar[tuple[str, ...]] = ("webhook-id", "webhook-timestamp")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # "webhook:<label>" keeps two custom sources apart (viewer counts are per platform).
        label = str(self.config.get("label") or "").strip()
        self.platform_name = f"webhook:{label}"[:32] if label else "webhook"

    @classmethod
    def verify(
        cls,
        config: Mapping[str, Any],
        credentials: Credentials,
        headers: Mapping[str, str],
        body: bytes,
        now: datetime,
    ) -> Reply:
        # While the sender rotates, it signs with both; we accept either of ours.
        secrets = [s for s in (credentials.get("secret"), credentials.get("previous_secret")) if s]
        if not secrets:
            raise SignatureError("this webhook source has no secret credential")
        try:
            signatures.verify(secrets, headers, body, now.timestamp())
        except SignatureError:
            raise
        except ValueError:
            raise SignatureError("this source's secret is not whsec_<base64>; fix it") from None
        return Reply()

    def delivery_id(self, delivery: Delivery) -> str | None:
        return delivery.headers.get("webhook-id") or None

    def parse(self, delivery: Delivery) -> Sequence[Envelope]:
        item = delivery.json()
        if not isinstance(item, dict):
            raise Malformed(f"the body is not a JSON object; {SHAPE}")
        kind = _KINDS.get(item.get("type"))  # type: ignore[arg-type]
        if kind is None:
            raise Malformed(f'"type" is {item.get("type")!r}; {SHAPE}')
        message_id = item.get("id") or delivery.headers.get("webhook-id")
        if not isinstance(message_id, str) or not 0 < len(message_id) <= 128:
            raise Malformed(f'"id" must be a string of 1-128 characters; {SHAPE}')
        author = _author(item.get("author"), required=kind not in _COUNTS)
        at = _at(item.get("at")) or delivery.received_at
        text: str | None = None
        data: dict[str, Any] = {}
        if kind in (Kind.chat, Kind.question):
            text = item.get("text")
            if not isinstance(text, str) or not text.strip():
                raise Malformed(f'a {kind} needs a non-empty "text"; {SHAPE}')
        elif kind in _COUNTS:
            count = item.get("count")
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise Malformed(f'{kind} need "count" ({_COUNTS[kind]}), an integer >= 0; {SHAPE}')
            data = {"count": count}
        else:
            question = item.get("question")
            if not isinstance(question, str) or not question:
                raise Malformed(
                    f'a vote needs "question", the id of the question voted on; {SHAPE}'
                )
            data = {"question": question}
        return [
            self.envelope(
                kind,
                message_id,
                platform_at=at,
                author=author,
                text=text,
                data=data,
                platform=self.platform_name,
            )
        ]


def _author(value: Any, *, required: bool) -> Author | None:
    if value is None and not required:
        return None
    if not isinstance(value, dict):
        raise Malformed(f'"author" must be {{"id", "name"}}; {SHAPE}')
    author_id, name = value.get("id"), value.get("name", "")
    if not isinstance(author_id, str | int) or not 0 < len(str(author_id)) <= 128:
        raise Malformed(f'"author.id" must be a string of 1-128 characters; {SHAPE}')
    if not isinstance(name, str):
        raise Malformed(f'"author.name" must be a string; {SHAPE}')
    return Author(id=str(author_id), name=name[:128])


def _at(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Malformed(f'"at" must be an ISO 8601 time; {SHAPE}')
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(f'"at" is not an ISO 8601 time: {value[:40]!r}; {SHAPE}') from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)
