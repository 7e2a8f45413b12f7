"""Webhook signatures: the Standard Webhooks scheme (https://www.standardwebhooks.com).

A delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
`webhook-signature`: space-separated `v1,<base64 HMAC-SHA256>` entries, one per secret
the sender holds while it rotates. The signed content is `id.timestamp.body` over the
raw body bytes: JSON that was parsed and re-serialised no longer verifies, so the
receiver must verify before it parses anything.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TOLERANCE_S = 300  # a delivery older or newer than this is refused (replay window)
SECRET_PREFIX = "whsec_"


class SignatureError(ValueError):
    """Why a delivery was refused; answered with 400/401, which senders do not retry."""


@dataclass(frozen=True, slots=True)
class Delivery:
    msg_id: str
    timestamp: int


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret (the prefix is optional)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret is whsec_ followed by base64") from exc


def _signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())


def sign(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers a sender adds: one v1 signature per secret (several during rotation)."""
    signatures = [
        "v1," + _signature(secret_key(s), msg_id, timestamp, body).decode() for s in secrets
    ]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


def verify(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance_s: int = TOLERANCE_S,
) -> Delivery:
    """The delivery's id and time if any of its signatures matches any of our secrets
    (we hold the old and the new one while rotating); SignatureError says why not."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    offered = headers.get("webhook-signature", "")
    if not msg_id or not stamp or not offered:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureError(f"webhook-timestamp is not Unix seconds: {stamp[:40]!r}") from None
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError(
            f"webhook-timestamp is {now - timestamp:+.0f} s from our clock "
            f"(tolerance ±{tolerance_s} s): a replay, or a sender clock that is off"
        )
    candidates = [
        value.encode()
        for version, _, value in (entry.partition(",") for entry in offered.split())
        if version == "v1" and value
    ]
    if not candidates:
        raise SignatureError("webhook-signature holds no v1 signature")
    for secret in secrets:
        expected = _signature(secret_key(secret), msg_id, timestamp, body)
        # compare_digest on every candidate: the time taken says nothing about the match.
        if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
            return Delivery(msg_id, timestamp)
    raise SignatureError("no signature matches: wrong secret, or the body was changed")
