"""What the audience may send: sliding-window rate limits and text rules.

The windows live in memory, per API process: the page is one public route, and an
attacker spread over several processes still meets the per-IP limit in each one. With N
API processes a client gets at most N times the limits below.
"""

from __future__ import annotations

import math
import time
import unicodedata
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from app.errors import AppError

MAX_TEXT = 500
MAX_NAME = 60


@dataclass(frozen=True)
class Window:
    limit: int
    seconds: float


# A person types a question in far more than 10 s; three in a row is the most anyone needs.
QUESTIONS_PER_CLIENT = (Window(3, 30), Window(20, 3600))
# One venue's Wi-Fi is one address: generous, only there to stop a script that drops cookies.
QUESTIONS_PER_IP = (Window(30, 30), Window(300, 3600))
VOTES_PER_CLIENT = (Window(20, 10),)
# The default of CONTROLROOM_AUDIENCE_IP_VOTES_PER_10S (Settings.audience_ip_votes_per_10s).
VOTES_PER_IP = (Window(300, 10),)


def votes_per_ip(per_10s: int) -> tuple[Window, ...]:
    """The per-IP vote windows for a configured limit (one address behind a venue's NAT,
    or a benchmark whose voters all come from 127.0.0.1, may need more than 300)."""
    return VOTES_PER_IP if per_10s == VOTES_PER_IP[0].limit else (Window(per_10s, 10),)


class TooMany(AppError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s


class TextTooLong(AppError):
    status_code = 413
    code = "text_too_long"


class InvalidText(AppError):
    status_code = 422
    code = "invalid_text"


class Limiter:
    """Counts actions per key in sliding windows; check() raises TooMany when one is full."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def check(self, what: str, keys: dict[str, tuple[Window, ...]]) -> None:
        """Records one `what` for every key, or none if any key is over its limit."""
        now = self.clock()
        for key, windows in keys.items():
            hits = self._hits[key]
            longest = max(w.seconds for w in windows)
            while hits and hits[0] <= now - longest:
                hits.popleft()
            for window in windows:
                recent = [t for t in hits if t > now - window.seconds]
                if len(recent) >= window.limit:
                    wait = math.ceil(recent[-window.limit] + window.seconds - now)
                    raise TooMany(
                        f"too many {what}: at most {window.limit} every {_span(window.seconds)};"
                        f" try again in {wait} s",
                        retry_after_s=max(1, wait),
                    )
        for key in keys:
            self._hits[key].append(now)
        if len(self._hits) > 50_000:
            self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] < now - 3600]:
            del self._hits[key]


def _span(seconds: float) -> str:
    return f"{int(seconds)} s" if seconds < 120 else f"{int(seconds // 60)} min"


# Bidirectional overrides make text read differently from how it is stored.
_BIDI_OVERRIDES = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _control(c: str) -> bool:
    return (unicodedata.category(c) in ("Cc", "Cs") and c != "\n") or c in _BIDI_OVERRIDES


def clean_text(text: str, *, field: str, max_length: int, required: bool = True) -> str:
    """The text trimmed; 422 if empty or carrying control characters, 413 if too long."""
    cleaned = text.replace("\r\n", "\n").replace("\t", " ")
    cleaned = unicodedata.normalize("NFC", cleaned).strip()
    if required and not cleaned:
        raise InvalidText(f"{field} is empty: write something first")
    if any(_control(c) for c in cleaned) or (field == "name" and "\n" in cleaned):
        raise InvalidText(f"{field} contains control characters: send plain text only")
    if len(cleaned) > max_length:
        raise TextTooLong(
            f"{field} is {len(cleaned)} characters: shorten it to {max_length} or fewer"
        )
    return cleaned
