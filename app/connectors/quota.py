"""YouTube's daily quota: what each call costs, what is left, and how fast we may poll."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.connectors.clock import SYSTEM_CLOCK, Clock

# Units per call (developers.google.com/youtube/v3/determine_quota_cost and each live
# method's own page; the ban costs are unconfirmed, so every figure lives in one table).
COSTS: dict[str, int] = {
    "videos.list": 1,
    "liveChatMessages.list": 5,
    "liveChatMessages.streamList": 5,  # per connection, however many messages it carries
    "liveChatMessages.insert": 20,  # a chat message or a poll (liveChatMessages/insert)
    "liveChatMessages.transition": 20,  # closing a poll (liveChatMessages/transition)
    "liveChatMessages.delete": 20,  # the method's own page (liveChatMessages/delete)
    "liveChatBans.insert": 50,  # unconfirmed: counted high so the ledger errs safe
    "liveChatBans.delete": 50,
}
DEFAULT_DAILY_QUOTA = 10_000
DEFAULT_RESERVE = 500  # kept for moderation and native polls: polling never spends it
PACIFIC = ZoneInfo("America/Los_Angeles")  # YouTube resets every project at midnight PT


def next_reset(now: datetime) -> datetime:
    """The next midnight Pacific time after `now`, in UTC."""
    local = now.astimezone(PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=PACIFIC)
    return midnight.astimezone(UTC)


@dataclass(frozen=True)
class PollPlan:
    """How long to wait before the next poll, and what ops should read about it."""

    wait_s: float
    exhausted: bool
    note: str | None


class QuotaLedger:
    """Units spent since the last reset, as this connector counted them.

    YouTube does not say what is left, so this is our own count; a 403 quotaExceeded
    (someone else sharing the project) overrides it with `exhausted()`.
    """

    def __init__(
        self,
        daily: int = DEFAULT_DAILY_QUOTA,
        *,
        reserve: int = DEFAULT_RESERVE,
        clock: Clock = SYSTEM_CLOCK,
        costs: dict[str, int] | None = None,
    ) -> None:
        self.daily = daily
        self.reserve = min(reserve, daily)
        self.clock = clock
        self.costs = costs or COSTS
        self.spent = 0
        self.reset_at = next_reset(clock.now())

    def _roll(self) -> None:
        now = self.clock.now()
        if now >= self.reset_at:
            self.spent = 0
            self.reset_at = next_reset(now)

    @property
    def left(self) -> int:
        self._roll()
        return max(0, self.daily - self.spent)

    def seconds_to_reset(self) -> float:
        self._roll()
        return max(0.0, (self.reset_at - self.clock.now()).total_seconds())

    def cost(self, method: str) -> int:
        return self.costs[method]

    def can_afford(self, method: str, *, from_reserve: bool = False) -> bool:
        """Polling (and plain chat sends) keep out of the reserve; moderation and native
        polls may use it."""
        floor = 0 if from_reserve else self.reserve
        return self.left - self.cost(method) >= floor

    def charge(self, method: str) -> None:
        """Counts a call that reached YouTube (invalid requests cost too)."""
        self._roll()
        self.spent += self.cost(method)

    def exhausted(self) -> None:
        """YouTube said quotaExceeded: nothing is left until the reset."""
        self._roll()
        self.spent = max(self.spent, self.daily)

    def reset_label(self) -> str:
        return self.reset_at.astimezone(UTC).strftime("%H:%M UTC")

    def plan_poll(
        self, min_interval_s: float, method: str = "liveChatMessages.list", *, planned: int = 0
    ) -> PollPlan:
        """The wait before the next poll so the units left (minus reserve and `planned`)
        last until the reset; never shorter than what the platform asked for."""
        until_reset = self.seconds_to_reset()
        usable = self.left - self.reserve - planned
        polls = usable // self.cost(method)
        if polls <= 0:
            return PollPlan(
                until_reset, True, f"quota exhausted until {self.reset_label()} (midnight Pacific)"
            )
        needed = until_reset / polls
        if needed > min_interval_s:
            return PollPlan(needed, False, f"slowed to 1 poll / {needed:.0f} s to last until reset")
        return PollPlan(min_interval_s, False, None)

    # -- persistence, so a new lease holder inherits what was spent --
    def to_dict(self) -> dict[str, Any]:
        return {"spent": self.spent, "reset_at": self.reset_at.isoformat()}

    def restore(self, saved: dict[str, Any]) -> None:
        """Takes over a predecessor's count, unless its day has already reset."""
        try:
            reset_at = datetime.fromisoformat(str(saved["reset_at"]))
            spent = int(saved["spent"])
        except (KeyError, TypeError, ValueError):
            return
        if reset_at == self.reset_at and spent >= 0:
            self.spent = max(self.spent, spent)


def units_for(every_s: float, seconds: float, cost: int) -> int:
    """Units a call repeated every `every_s` costs over `seconds`."""
    if every_s <= 0:
        return 0
    return math.ceil(seconds / every_s) * cost
