"""Time for connectors: the real clock, or a faster one so fakes can compress hours."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall time, monotonic time and sleeping, all in one place so tests can speed them up."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock(Clock):
    """Runs `speed` times faster than real time (a platform's 5-minute wait in 5 s at 60x)."""

    def __init__(self, speed: float, *, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be above 0")
        self.speed = speed
        self._real0 = time.monotonic()
        self._wall0 = start or datetime.now(UTC)

    def monotonic(self) -> float:
        return (time.monotonic() - self._real0) * self.speed

    def now(self) -> datetime:
        return self._wall0 + timedelta(seconds=self.monotonic())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


SYSTEM_CLOCK = Clock()
