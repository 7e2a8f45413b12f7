"""Small pieces shared by the bench processes: fast UTC timestamps, a latency histogram,
JSON-lines control over stdin/stdout, and the file-descriptor limit."""

from __future__ import annotations

import asyncio
import resource
import sys
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson

_minute_epoch: dict[str, float] = {}


def parse_utc(value: str) -> float:
    """Epoch seconds of an ISO-8601 UTC string ("...T12:34:56.123456+00:00" or "...Z").

    Cheaper than datetime.fromisoformat per item: the minute prefix is cached, and every
    time the server sends is UTC (the harness runs on one machine, one clock).
    """
    base = _minute_epoch.get(value[:16])
    if base is None:
        base = datetime.fromisoformat(value[:16] + ":00+00:00").timestamp()
        if len(_minute_epoch) > 10_000:
            _minute_epoch.clear()
        _minute_epoch[value[:16]] = base
    tail = value[17:]
    if tail.endswith("Z"):
        tail = tail[:-1]
    elif tail.endswith("+00:00"):
        tail = tail[:-6]
    return base + float(tail)


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Hist:
    """A latency histogram in ms: 0.1 ms buckets below 1 s, 1 ms below 10 s, 10 ms above."""

    __slots__ = ("counts", "n", "total")

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()  # key: bucket lower bound in 0.1 ms units
        self.n = 0
        self.total = 0.0

    def add(self, ms: float) -> None:
        if ms < 0:
            ms = 0.0
        if ms < 1000:
            key = int(ms * 10)
        elif ms < 10_000:
            key = int(ms) * 10
        else:
            key = int(ms / 10) * 100
        self.counts[key] += 1
        self.n += 1
        self.total += ms

    def merge(self, other: dict[str, Any]) -> None:
        for k, v in other["counts"].items():
            self.counts[int(k)] += int(v)
        self.n += int(other["n"])
        self.total += float(other["total"])

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": {str(k): v for k, v in self.counts.items()},
            "n": self.n,
            "total": self.total,
        }

    def percentile(self, q: float) -> float | None:
        if self.n == 0:
            return None
        rank = q * self.n
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                return key / 10
        return max(self.counts) / 10

    def summary(self) -> dict[str, Any]:
        if self.n == 0:
            return {"samples": 0, "p50": None, "p99": None, "p999": None, "mean": None, "max": None}
        return {
            "samples": self.n,
            "p50": self.percentile(0.50),
            "p99": self.percentile(0.99),
            "p999": self.percentile(0.999),
            "mean": round(self.total / self.n, 2),
            "max": max(self.counts) / 10,
        }


def raise_nofile() -> tuple[int, int]:
    """Raises the soft file-descriptor limit to the hard one; returns (soft, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def emit(message: dict[str, Any]) -> None:
    """One JSON line to the orchestrator on stdout."""
    sys.stdout.write(orjson.dumps(message).decode() + "\n")
    sys.stdout.flush()


async def stdin_lines() -> asyncio.StreamReader:
    """An asyncio reader of this process's stdin (the orchestrator's commands)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader
