"""Reconnect delays: exponential with full jitter, so a fleet does not reconnect in step."""

from __future__ import annotations

import random

from app.connectors.clock import SYSTEM_CLOCK, Clock


class Backoff:
    """uniform(0, min(cap, base * 2**n)) for the n-th failure in a row.

    The count starts again once a connection has stayed up for `stable_s`: a link that
    drops once an hour should come back at once, not after the cap.
    """

    def __init__(
        self,
        *,
        base: float = 1.0,
        cap: float = 60.0,
        stable_s: float = 60.0,
        rng: random.Random | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.base = base
        self.cap = cap
        self.stable_s = stable_s
        self.rng = rng or random.Random()
        self.clock = clock
        self.failures = 0
        self._up_since: float | None = None

    def connected(self) -> None:
        self._up_since = self.clock.monotonic()

    def next_delay(self) -> float:
        """The wait before the next attempt; call once per failed or dropped connection."""
        if self._up_since is not None and self.clock.monotonic() - self._up_since >= self.stable_s:
            self.failures = 0
        self._up_since = None
        ceiling = min(self.cap, self.base * 2**self.failures)
        self.failures += 1
        return self.rng.uniform(0, ceiling)
