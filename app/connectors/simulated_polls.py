"""Simulated viewers answering a launched poll, each platform its own way.

The demo and the preflight's poll dry run need an audience that votes: on the platforms
the simulator plays that have polls of their own (Twitch, YouTube) the platform counts
and reports totals (poll_tally envelopes, as their connectors do); elsewhere viewers
type `!vote 2` in chat after the instructions are posted, so the chat-voting path runs
end to end. Votes are spread over the poll's first minute (in scenario time), from
seeded randomness: the same poll id and seed give the same votes.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.connectors.base import ActionResult
from app.connectors.native_polls import tally_envelope
from app.envelope import Author, Envelope, Kind, make_envelope

NATIVE_PLATFORMS = frozenset({"twitch", "youtube"})
VOTING_WINDOW_S = 60.0  # scenario seconds over which the simulated votes arrive
REPORT_EVERY_S = 2.0  # scenario seconds between a native poll's tally reports
HOST = Author(id="sim-host", name="Host", roles=("broadcaster",))


@dataclass
class _Running:
    poll_id: str
    platform: str
    source_id: str
    counts: list[int]
    task: asyncio.Task[None] | None = None
    reports: int = 0


class SimulatedPolls:
    def __init__(
        self,
        *,
        event_id: str,
        seed: int,
        speed: float,
        voters: Callable[[str], Sequence[Author]],
        emit: Callable[[Sequence[Envelope]], Awaitable[None]],
        sleep: Callable[[float], Awaitable[None]],
        spawn: Callable[[Awaitable[None]], asyncio.Task[None]],
    ) -> None:
        self.event_id, self.seed, self.speed = event_id, seed, speed
        self.voters, self.emit, self.sleep, self.spawn = voters, emit, sleep, spawn
        self.running: dict[tuple[str, str], _Running] = {}  # (source id, poll id)

    async def start(self, platform: str, source_id: str, params: dict[str, Any]) -> ActionResult:
        poll_id, options = str(params.get("poll_id") or ""), params.get("options")
        if not poll_id or not isinstance(options, list) or len(options) < 2:
            return ActionResult("failed", "poll_start needs poll_id and at least two options")
        run = _Running(poll_id, platform, source_id, [0] * len(options))
        self.running[(source_id, poll_id)] = run
        if platform not in NATIVE_PLATFORMS:
            await self.emit([self._chat(run, HOST, str(params.get("chat_text") or ""))])
        run.task = self.spawn(self._vote(run))
        return ActionResult("done", None if platform in NATIVE_PLATFORMS else "chat voting")

    async def end(self, source_id: str, poll_id: str) -> ActionResult:
        run = self.running.pop((source_id, poll_id), None)
        if run is None:
            return ActionResult("done", "no native poll to end")
        if run.task is not None:
            run.task.cancel()
        if run.platform in NATIVE_PLATFORMS:
            await self.emit([self._tally(run, final=True)])
        return ActionResult("done")

    async def _vote(self, run: _Running) -> None:
        rng = random.Random(f"{self.seed}:poll:{run.poll_id}:{run.platform}")
        crowd = list(self.voters(run.platform))
        rng.shuffle(crowd)
        crowd = crowd[: rng.randint(max(1, len(crowd) // 3), max(1, len(crowd) * 2 // 3))]
        # A favourite, a runner-up and the rest: results worth looking at.
        weights = sorted((rng.random() ** 2 for _ in run.counts), reverse=True)
        rng.shuffle(weights)
        times = sorted(rng.uniform(0, VOTING_WINDOW_S) for _ in crowd)
        now, last_report = 0.0, 0.0
        for at, author in zip(times, crowd, strict=True):
            await self.sleep((at - now) / self.speed)
            now = at
            choice = rng.choices(range(1, len(run.counts) + 1), weights=weights)[0]
            if run.platform in NATIVE_PLATFORMS:
                run.counts[choice - 1] += 1
                if now - last_report >= REPORT_EVERY_S:
                    await self.emit([self._tally(run, final=False)])
                    last_report = now
            else:
                text = rng.choice((f"!vote {choice}", f"!{choice}", f"!vote {choice} 🙌"))
                await self.emit([self._chat(run, author, text)])
        if run.platform in NATIVE_PLATFORMS:
            await self.emit([self._tally(run, final=False)])

    def _tally(self, run: _Running, *, final: bool) -> Envelope:
        run.reports += 1
        return tally_envelope(
            event_id=self.event_id,
            source_id=run.source_id,
            platform=run.platform,
            poll_id=run.poll_id,
            platform_poll_id=f"sim-{run.platform}-{run.poll_id}",
            counts=run.counts,
            final=final,
            at=datetime.now(UTC),
            seq="final" if final else str(run.reports),
        )

    def _chat(self, run: _Running, author: Author, text: str) -> Envelope:
        run.reports += 1
        return make_envelope(
            event_id=self.event_id,
            source_id=run.source_id,
            platform=run.platform,
            kind=Kind.chat,
            platform_message_id=f"sim-poll-{run.poll_id}-{run.reports}",
            platform_at=datetime.now(UTC),
            author=author,
            text=text,
            raw={"simulated": "poll"},
        )
