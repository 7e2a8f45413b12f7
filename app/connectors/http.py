"""Platform REST calls: one client per source, errors mapped to what a connector does next."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from app.connectors.clock import SYSTEM_CLOCK, Clock
from app.connectors.errors import AuthFailed, PlatformError, RateLimited

Headers = Callable[[], Mapping[str, str]]


def error_reason(response: httpx.Response) -> str:
    """The platform's own words for an error, from the body shapes platforms use."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):  # Google: {"error":{"message","errors":[{"reason"}]}}
            reasons = [e.get("reason") for e in error.get("errors") or [] if isinstance(e, dict)]
            return str(reasons[0] if reasons and reasons[0] else error.get("message", ""))[:300]
        for field in ("message", "error", "reason"):
            if isinstance(body.get(field), str):
                return str(body[field])[:300]
    return response.text[:300]


class PlatformHTTP:
    """An httpx client with a platform's base URL and auth, and its limits remembered."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: Headers | None = None,
        clock: Clock = SYSTEM_CLOCK,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )
        self.headers = headers or (lambda: {})
        self.clock = clock
        # From Ratelimit-Remaining / Ratelimit-Reset (Twitch Helix), when the platform sends them.
        self.ratelimit_remaining: int | None = None
        self.ratelimit_reset_at: float | None = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Sends one call; raises AuthFailed, RateLimited or PlatformError on a refusal."""
        response = await self.client.request(
            method,
            path,
            params=params,
            json=json,
            headers={**self.headers(), **(headers or {})},
        )
        self._remember_limits(response)
        if response.status_code == 401:
            raise AuthFailed(f"{method} {path}: 401 {error_reason(response)}")
        if response.status_code == 429:
            raise RateLimited(
                f"{method} {path}: 429 {error_reason(response)}", self._wait(response)
            )
        if response.status_code >= 400:
            raise PlatformError(response.status_code, error_reason(response))
        return response

    def _remember_limits(self, response: httpx.Response) -> None:
        remaining = response.headers.get("ratelimit-remaining")
        reset = response.headers.get("ratelimit-reset")
        if remaining is not None and remaining.isdigit():
            self.ratelimit_remaining = int(remaining)
        if reset is not None and reset.isdigit():
            self.ratelimit_reset_at = float(reset)

    def _wait(self, response: httpx.Response) -> float:
        retry_after = response.headers.get("retry-after")
        if retry_after is not None:
            try:
                return float(retry_after)
            except ValueError:
                pass
        if self.ratelimit_reset_at is not None:
            return max(0.0, self.ratelimit_reset_at - self.clock.now().timestamp())
        return 1.0

    async def close(self) -> None:
        await self.client.aclose()
