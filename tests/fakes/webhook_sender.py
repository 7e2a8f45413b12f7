"""A Standard Webhooks sender, honest or not, for the generic webhook connector.

It signs `id.timestamp.body` with one secret or, while rotating, two; keeps `webhook-id`
stable across retries, re-signing each attempt with a fresh timestamp; counts an answer
as an acknowledgement only if it is 2xx and in time; retries on its (compressible)
schedule after a late or failed acknowledgement, and gives up on 4xx (a refused
signature stays refused). It can also misbehave: a tampered body, a timestamp off by
more than the tolerance, or JSON re-serialised after signing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from app.connectors.clock import ScaledClock
from app.connectors.signatures import sign

# Svix's schedule for Standard Webhooks: immediately, then 5 s, 5 min, 30 min, 2 h.
RETRY_SCHEDULE_S = (5.0, 300.0, 1800.0, 7200.0)


@dataclass
class Attempt:
    msg_id: str
    status: int | None
    acknowledged: bool
    at_s: float  # when it was sent: sender clock seconds since the sender started


class WebhookSender:
    """Delivers JSON to one endpoint, signed with `secrets` (two while rotating)."""

    def __init__(
        self,
        url: str,
        secrets: Sequence[str],
        *,
        client: httpx.AsyncClient,
        speed: float = 3600.0,
        ack_deadline_s: float = 5.0,
        max_in_flight: int = 50,
    ) -> None:
        self.url = url
        self.secrets = list(secrets)
        self.client = client
        self.clock = ScaledClock(speed)
        self.ack_deadline_s = ack_deadline_s
        self.late_acks = 0  # the next N acknowledgements arrive too late (a slow network)
        self.attempts: list[Attempt] = []
        # Senders cap their parallel requests per endpoint; the deadline starts when sent.
        self._in_flight = asyncio.Semaphore(max_in_flight)

    async def deliver(
        self,
        payload: dict[str, Any] | bytes,
        *,
        msg_id: str | None = None,
        offset_s: int = 0,
        tamper: bool = False,
        reserialize: bool = False,
        secrets: Sequence[str] | None = None,
        retries: bool = True,
    ) -> list[Attempt]:
        """Sends until acknowledged (or refused, or out of retries); returns the attempts."""
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
        mine: list[Attempt] = []
        for delay in (0.0, *(RETRY_SCHEDULE_S if retries else ())):
            await self.clock.sleep(delay)
            async with self._in_flight:  # signed and timed once it is really sent
                attempt = await self._attempt(body, msg_id, offset_s, tamper, reserialize, secrets)
            mine.append(attempt)
            if attempt.acknowledged or (attempt.status is not None and 400 <= attempt.status < 500):
                break
        return mine

    async def _attempt(
        self,
        body: bytes,
        msg_id: str,
        offset_s: int,
        tamper: bool,
        reserialize: bool,
        secrets: Sequence[str] | None,
    ) -> Attempt:
        headers = sign(secrets or self.secrets, msg_id, int(time.time()) + offset_s, body)
        sent = body
        if tamper:
            sent = body.replace(b"}", b', "injected": true}', 1)
        if reserialize:
            # What a proxy that parses and re-encodes JSON does: same data, other bytes.
            sent = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)
        at_s, started = self.clock.monotonic(), time.monotonic()
        status: int | None = None
        try:
            response = await self.client.post(
                self.url,
                content=sent,
                headers={**headers, "content-type": "application/json"},
                timeout=self.ack_deadline_s,
            )
            status = response.status_code
        except httpx.HTTPError:
            pass
        in_time = time.monotonic() - started <= self.ack_deadline_s
        if status is not None and in_time and self.late_acks > 0:
            self.late_acks -= 1
            in_time = False
        attempt = Attempt(msg_id, status, 200 <= (status or 0) < 300 and in_time, at_s)
        self.attempts.append(attempt)
        return attempt

    async def deliver_many(self, payloads: Sequence[dict[str, Any]]) -> list[list[Attempt]]:
        return list(await asyncio.gather(*(self.deliver(p) for p in payloads)))
