"""The simulator connector: plays a scenario as a live event across several platforms."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import random
import string
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.bus import Bus
from app.connectors.base import Action, ActionResult, Capability, Connector
from app.connectors.native_polls import POLL_END, POLL_START
from app.connectors.scenario import AudienceCurve, Scenario, load_scenario
from app.connectors.simulated_polls import HOST, SimulatedPolls
from app.envelope import DEFAULT_MAX_TEXT, Author, Envelope, Kind, make_envelope

# Fields of one timeline item: make_envelope's keyword arguments minus event_id/platform_at.
Fields = dict[str, Any]

_STEP_S = 0.25  # rates are re-evaluated this often; arrivals inside a step are exact
_BATCH_S = 0.1  # scenario time gathered into one emit call at speed 1
_MIN_BATCH_REAL_S = 0.02  # at high speed, still no more than ~50 emit calls a second
_SPEAKER_TRIES = 8  # picks before a rested chatter is given up on

# Order of same-instant items: the stream state first, then counts, then chat.
_PRIORITY = {Kind.stream_state: 0, Kind.viewers: 1, Kind.presence: 2, Kind.chat: 3}

# How a viewer re-asks someone else's question "near-verbatim".
_RE_ASKED: tuple[Callable[[str], str], ...] = (
    lambda q: q,
    lambda q: q.lower(),
    lambda q: f"+1 {q}",
    lambda q: f"same question: {q[0].lower()}{q[1:]}",
    lambda q: f"{q.rstrip('?')}??",
    lambda q: f"@host {q}",
)
_SPAM_SUFFIXES = ("", "", "", " !!", " 🔥", " 💯", " ✅", " >>>")


class _Arrivals:
    """A Poisson process whose rate may change every step (cumulative-intensity method)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.left = rng.expovariate(1.0)  # intensity still to accumulate before the next one

    def between(self, t0: float, dt: float, rate: float) -> list[float]:
        if rate <= 0:
            return []
        out, span, used = [], rate * dt, 0.0
        while self.left <= span - used:
            used += self.left
            out.append(t0 + used / rate)
            self.left = self.rng.expovariate(1.0)
        self.left -= span - used
        return out


class _UserPool:
    """One platform's chatters: ids and names in that platform's style, Zipf-like activity."""

    def __init__(self, platform: str, count: int, scenario: Scenario, rng: random.Random) -> None:
        users = scenario.chat.users
        seen: set[str] = set()
        self.authors: list[Author] = []
        while len(self.authors) < count:
            author_id = _platform_user_id(platform, rng)
            if author_id not in seen:
                seen.add(author_id)
                first, last = rng.choice(users.first_names), rng.choice(users.last_names)
                self.authors.append(
                    Author(id=author_id, name=_display_name(platform, first, last, rng))
                )
        # A few regulars write most of the chat, as in any real audience.
        self.cum_weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(count)))

    def pick(self, rng: random.Random) -> Author:
        return rng.choices(self.authors, cum_weights=self.cum_weights)[0]


class _Room:
    """Who is watching one platform now: a join takes someone who is not watching (a
    chatter first, then a newcomer who never writes), a leave someone who is, so the
    joins and leaves a platform would report add up to the audience the scenario draws."""

    def __init__(
        self, platform: str, regulars: list[Author], scenario: Scenario, rng: random.Random
    ) -> None:
        self.platform, self.scenario, self.rng = platform, scenario, rng
        self.away = list(regulars)
        self.watching: list[Author] = []
        self.known = {a.id for a in regulars}

    def join(self) -> Author:
        if self.away:
            author = self.away.pop(self.rng.randrange(len(self.away)))
        else:
            author = self._newcomer()
        self.watching.append(author)
        return author

    def leave(self) -> Author:
        author = self.watching.pop(self.rng.randrange(len(self.watching)))
        self.away.append(author)
        return author

    def _newcomer(self) -> Author:
        users = self.scenario.chat.users
        while (author_id := _platform_user_id(self.platform, self.rng)) in self.known:
            pass
        self.known.add(author_id)
        first, last = self.rng.choice(users.first_names), self.rng.choice(users.last_names)
        return Author(id=author_id, name=_display_name(self.platform, first, last, self.rng))


def _platform_user_id(platform: str, rng: random.Random) -> str:
    if platform == "twitch":
        return str(rng.randrange(10_000_000, 999_999_999))
    if platform == "youtube":
        return "UC" + "".join(rng.choices(string.ascii_letters + string.digits + "-_", k=22))
    if platform == "zoom":
        return str(rng.randrange(16_000_000, 17_000_000))
    return f"{platform}-{rng.getrandbits(48):012x}"


def _display_name(platform: str, first: str, last: str, rng: random.Random) -> str:
    if platform == "twitch":
        return rng.choice(
            (
                f"{first}{last}".lower(),
                f"{first.lower()}_{rng.randrange(100)}",
                f"{first}_tv".lower(),
            )
        )
    if platform == "youtube":
        return rng.choice((f"{first} {last}", f"@{first}{last}{rng.randrange(1000)}".lower()))
    return f"{first} {last}"


class EventScript:
    """The pure part of the simulator: a scenario turned into a deterministic timeline."""

    def __init__(
        self,
        scenario: Scenario,
        sources: dict[str, str],
        *,
        seed: int | None = None,
        rate_scale: float = 1.0,
        crowd: float = 1.0,
    ) -> None:
        """`rate_scale` multiplies the chat; `crowd` the scenario's users who write it. The
        live simulator grows both together (a busier chat is a bigger audience, each at a
        human pace); the benchmark's feeder keeps the scenario's users, as it measures
        throughput and would otherwise hold millions of them."""
        if set(sources) != set(scenario.platforms):
            raise ValueError(
                f"sources must map exactly the scenario's platforms "
                f"({', '.join(sorted(scenario.platforms))}), got {', '.join(sorted(sources))}"
            )
        if rate_scale <= 0 or crowd <= 0:
            raise ValueError("rate_scale and crowd must be above 0")
        self.scenario = scenario
        self.sources = dict(sources)
        self.seed = scenario.seed if seed is None else seed
        self.rate_scale = rate_scale
        self.crowd = crowd
        self.curve = AudienceCurve(scenario)

    def timeline(self, lap: int = 0) -> Iterator[tuple[float, Fields]]:
        """Yields (scenario_time_s, envelope fields) in time order; same seed, same items."""
        yield from _Lap(self, lap).items()

    def envelopes(
        self,
        event_id: str,
        count: int | None = None,
        *,
        rate: float | None = None,
        start_at: datetime | None = None,
        max_text: int = DEFAULT_MAX_TEXT,
    ) -> Iterator[Envelope]:
        """Envelopes without a clock, lap after lap until `count`; `rate` spaces platform_at."""
        start_at = start_at or datetime.now(UTC)
        produced = 0
        for lap in itertools.count():
            for t, fields in self.timeline(lap):
                if count is not None and produced >= count:
                    return
                offset = produced / rate if rate else lap * self.scenario.duration_s + t
                yield make_envelope(
                    event_id=event_id,
                    platform_at=start_at + timedelta(seconds=offset),
                    max_text=max_text,
                    **fields,
                )
                produced += 1
            if count is None:
                return


class _Lap:
    """One play-through of the scenario; all randomness comes from (seed, lap)."""

    def __init__(self, script: EventScript, lap: int) -> None:
        self.script, self.lap = script, lap
        self.scenario = sc = script.scenario
        prefix = f"{script.seed}:{lap}"
        # Separate streams so that, say, a different rate_scale leaves viewer counts alone.
        self.rng_text = random.Random(f"{prefix}:text")
        self.rng_viewers = random.Random(f"{prefix}:viewers")
        self.rng_users = random.Random(f"{script.seed}:users")  # the same audience every lap
        self.rng_votes = random.Random(f"{prefix}:votes")
        self.seq = 0
        # (message id, text, author id, platform)
        self.recent_questions: list[tuple[str, str, str, str]] = []
        self.fresh_questions: list[str] = []
        self.pools = self._pools()
        self.last_said: dict[str, float] = {}  # author id -> when they last wrote
        self.rooms = {
            p: _Room(p, self.pools[p].authors, sc, random.Random(f"{prefix}:presence:{p}"))
            for p in (sc.presence.platforms if sc.presence else ())
        }
        self.spam_authors = {
            (b.platform, name): Author(
                id=_platform_user_id(b.platform, random.Random(f"{script.seed}:spam:{name}")),
                name=name,
            )
            for b in sc.spam_bursts
            for name in b.accounts
        }
        self.chat_arrivals = {
            p: _Arrivals(random.Random(f"{prefix}:chat:{p}")) for p in sc.platforms
        }
        self.spam_arrivals = [
            _Arrivals(random.Random(f"{prefix}:spam:{i}")) for i in range(len(sc.spam_bursts))
        ]
        groups = list(sc.chat.lines.values())
        self.line_groups = groups
        self.line_weights = list(itertools.accumulate(g.weight for g in groups))
        self.reference = sc.chat.reference_viewers or script.curve.peak or 1

    def _pools(self) -> dict[str, _UserPool]:
        sc = self.scenario
        people = sc.chat.users.count * self.script.crowd
        weights = {p: m.share * max(m.chat_weight, 0.01) for p, m in sc.platforms.items()}
        total = sum(weights.values())
        return {
            p: _UserPool(p, max(2, round(people * w / total)), sc, self.rng_users)
            for p, w in weights.items()
        }

    # -- what is scheduled at fixed times: stream state, viewer ticks --
    def _fixed(self) -> Iterator[tuple[float, int, str, str]]:
        sc = self.scenario
        for p in sc.platforms:
            yield 0.0, _PRIORITY[Kind.stream_state], p, "up"
        for drop in sc.stream_drops:
            for p in drop.platforms or sc.platforms:
                yield drop.at_s, _PRIORITY[Kind.stream_state], p, "down"
                yield drop.at_s + drop.for_s, _PRIORITY[Kind.stream_state], p, "up"
        # Platforms are polled at staggered offsets, as separate API clients would be.
        for i, p in enumerate(sc.platforms):
            t = sc.viewer_tick_s * i / len(sc.platforms)
            while t < sc.duration_s:
                yield t, _PRIORITY[Kind.viewers], p, "tick"
                t += sc.viewer_tick_s

    def _stream_factors(self, platform: str, t: float) -> tuple[float, float]:
        """(viewer factor, chat factor) from stream drops at time t."""
        viewers = chat = 1.0
        for drop in self.scenario.stream_drops:
            if drop.platforms and platform not in drop.platforms:
                continue
            down_end = drop.at_s + drop.for_s
            if drop.at_s <= t < down_end:
                viewers, chat = min(viewers, drop.viewer_factor), min(chat, drop.chat_factor)
            elif down_end <= t < down_end + drop.recover_s:
                back = (
                    drop.viewer_factor + (1 - drop.viewer_factor) * (t - down_end) / drop.recover_s
                )
                viewers, chat = min(viewers, back), min(chat, back)
        return viewers, chat

    def items(self) -> Iterator[tuple[float, Fields]]:
        sc = self.scenario
        fixed = list(self._fixed())
        heapq.heapify(fixed)
        for step in range(math.ceil(sc.duration_s / _STEP_S)):
            t0 = step * _STEP_S
            t1 = min(t0 + _STEP_S, sc.duration_s)
            due: list[tuple[float, int, int, str, Any]] = []
            while fixed and fixed[0][0] < t1:
                t, prio, platform, what = heapq.heappop(fixed)
                due.append((t, prio, len(due), platform, what))
            mid = (t0 + t1) / 2
            audience = self.script.curve.at(mid)[0] / self.reference
            for p, mix in sc.platforms.items():
                rate = sc.chat.base_rate * mix.chat_weight * audience * self.script.rate_scale
                rate *= self._stream_factors(p, mid)[1]
                for t in self.chat_arrivals[p].between(t0, t1 - t0, rate):
                    due.append((t, _PRIORITY[Kind.chat], len(due), p, None))
            for i, burst in enumerate(sc.spam_bursts):
                if burst.at_s <= mid < burst.at_s + burst.for_s:
                    rate = burst.rate * self.script.rate_scale
                    for t in self.spam_arrivals[i].between(t0, t1 - t0, rate):
                        due.append((t, _PRIORITY[Kind.chat], len(due), burst.platform, burst))
            due.sort()
            for t, _prio, _order, platform, what in due:
                yield from self._render(t, platform, what)

    def _render(self, t: float, platform: str, what: Any) -> Iterator[tuple[float, Fields]]:
        if what is None:
            yield t, self._chat(platform, t)
            if (vote := self._upvote(platform)) is not None:
                yield t, vote
        elif what == "tick":
            yield from ((t, f) for f in self._viewer_tick(platform, t))
        elif what in ("up", "down"):
            yield t, self._fields(Kind.stream_state, platform, data={"state": what})
        else:
            yield t, self._spam(platform, what)

    def _fields(self, kind: Kind, platform: str, **extra: Any) -> Fields:
        self.seq += 1
        return {
            "source_id": self.script.sources[platform],
            "platform": platform,
            "kind": kind,
            # Unique per (seed, lap, sequence) so a looping demo never collides in dedupe.
            "platform_message_id": f"sim-{self.script.seed}-{self.lap}-{self.seq}",
            "author": None,
            "text": None,
            "data": {},
            "raw": None,
        } | extra

    def _viewer_tick(self, platform: str, t: float) -> Iterator[Fields]:
        total, jitter = self.script.curve.at(t)
        expected = total * self.scenario.platforms[platform].share
        expected *= self._stream_factors(platform, t)[0]
        count = max(0, round(expected * (1 + self.rng_viewers.gauss(0, jitter))))
        yield self._fields(Kind.viewers, platform, data={"count": count})
        yield from self._presence(platform, int(expected))

    def _presence(self, platform: str, present: int) -> Iterator[Fields]:
        # Joins and leaves follow the audience trend, not the count's tick-to-tick noise.
        room = self.rooms.get(platform)
        if room is None or self.scenario.presence is None:
            return
        change = present - len(room.watching)
        moved = min(abs(change), self.scenario.presence.max_per_tick)  # the rest: later ticks
        for _ in range(moved):
            author, action = (room.join(), "join") if change > 0 else (room.leave(), "leave")
            yield self._fields(Kind.presence, platform, author=author, data={"action": action})

    def _speaker(self, platform: str, t: float) -> Author:
        """Who writes now: the pool's pick (a few regulars write most), passed over while
        they wrote within min_gap_s. When the regulars are all resting, anyone in the pool
        may speak; when everyone is, whoever was picked (a small pool keeps the
        scenario's rate rather than its pace)."""
        pool, gap = self.pools[platform], self.scenario.chat.min_gap_s
        for attempt in range(_SPEAKER_TRIES):
            rng = self.rng_text
            author = pool.pick(rng) if attempt < _SPEAKER_TRIES // 2 else rng.choice(pool.authors)
            if t - self.last_said.get(author.id, -math.inf) >= gap:
                break
        self.last_said[author.id] = t
        return author

    def _chat(self, platform: str, t: float) -> Fields:
        rng, chat = self.rng_text, self.scenario.chat
        author = self._speaker(platform, t)
        if rng.random() < chat.question_ratio:
            if self.recent_questions and rng.random() < chat.duplicate_question_ratio:
                return self._re_asked(platform, author)
            text = self._fresh_question()
            fields = self._chat_fields(platform, author, text, "question")
            self.recent_questions = [
                *self.recent_questions[-29:],
                (fields["platform_message_id"], text, author.id, platform),
            ]
            return fields
        group = rng.choices(self.line_groups, cum_weights=self.line_weights)[0]
        text = rng.choice(group.texts)
        if group.repeat_to:
            text = " ".join([text] * math.ceil(group.repeat_to / (len(text) + 1)))
        return self._chat_fields(platform, author, text, "chat")

    def _fresh_question(self) -> str:
        # Deal from a shuffled deck so fresh questions rarely repeat by chance; that keeps
        # real duplicates (re-asked by someone else) the only near-verbatim repeats.
        if not self.fresh_questions:
            self.fresh_questions = list(self.scenario.chat.questions)
            self.rng_text.shuffle(self.fresh_questions)
        return self.fresh_questions.pop()

    def _re_asked(self, platform: str, author: Author) -> Fields:
        rng = self.rng_text
        original_id, original_text, original_author, _ = rng.choice(self.recent_questions)
        for _ in range(5):
            if author.id != original_author:
                break
            author = self.pools[platform].pick(rng)
        text = rng.choice(_RE_ASKED)(original_text)
        return self._chat_fields(
            platform, author, text, "duplicate_question", duplicate_of=original_id
        )

    def _upvote(self, platform: str) -> Fields | None:
        rng, share = self.rng_votes, self.scenario.platforms[platform].upvotes
        if not share or rng.random() >= share:
            return None
        here = [q for q in self.recent_questions if q[3] == platform]
        if not here:
            return None
        question_id = rng.choice(here)[0]
        author = self.pools[platform].pick(rng)
        return self._fields(Kind.vote, platform, author=author, data={"question": question_id})

    def _spam(self, platform: str, burst: Any) -> Fields:
        rng = self.rng_text
        author = self.spam_authors[(platform, rng.choice(burst.accounts))]
        text = rng.choice(burst.texts) + rng.choice(_SPAM_SUFFIXES)
        return self._chat_fields(platform, author, text, "spam")

    def _chat_fields(
        self, platform: str, author: Author, text: str, label: str, **truth: str
    ) -> Fields:
        # raw carries the ground truth (what the simulator meant) for tests and the
        # benchmark; the pipeline must judge from the text like any other platform's.
        return self._fields(
            Kind.chat, platform, author=author, text=text, raw={"simulated": label, **truth}
        )


class Simulator(Connector):
    """Plays a scenario in real or compressed time on every simulated platform's source."""

    platform = "simulator"
    capabilities = frozenset(
        {
            Capability.delete,
            Capability.timeout,
            Capability.ban,
            Capability.viewer_counts,
            Capability.native_polls,
            Capability.send_message,
        }
    )

    def __init__(
        self,
        *,
        bus: Bus,
        event_id: str,
        sources: dict[str, str],
        scenario: Scenario | str | Path = "demo",
        seed: int | None = None,
        speed: float = 1.0,
        rate_scale: float = 1.0,
        loop: bool = False,
        max_text: int = DEFAULT_MAX_TEXT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`clock` and `sleep` pace playback; `wall` dates it (a test replays a show on a
        fixed day with a clock that moves only when the simulator sleeps)."""
        if not sources:
            raise ValueError("sources must map at least one simulated platform to a source id")
        if speed <= 0:
            raise ValueError("speed must be above 0")
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        # More chat comes from more people, each at the scenario's pace (see EventScript).
        self.script = EventScript(
            scenario, sources, seed=seed, rate_scale=rate_scale, crowd=max(1.0, rate_scale)
        )
        super().__init__(bus=bus, event_id=event_id, source_id=next(iter(sources.values())))
        self.scenario = scenario
        self.sources = dict(sources)
        self.speed = speed
        self.loop = loop
        self.max_text = max_text
        self._clock = clock
        self._sleep = sleep
        self._wall = wall
        self._chat_ids: set[tuple[str, str]] = set()  # (source id, message id) emitted
        self._muted: set[str] = set()
        self._platforms = {source_id: platform for platform, source_id in sources.items()}
        self._audience: dict[str, list[Author]] | None = None
        self.polls = SimulatedPolls(
            event_id=event_id,
            seed=self.script.seed,
            speed=speed,
            voters=self._voters,
            emit=self.emit,
            sleep=sleep,
            spawn=self._spawn,
        )

    def source_ids(self) -> list[str]:
        return list(self.sources.values())

    def timeline(self, lap: int = 0) -> Iterator[tuple[float, Fields]]:
        """Yields (scenario_time_s, envelope fields) without a clock; see EventScript."""
        return self.script.timeline(lap)

    async def produce(self) -> None:
        self.connected()
        for lap in itertools.count():
            await self._play(lap)
            if not self.loop:
                return

    async def _play(self, lap: int) -> None:
        started, started_at = self._clock(), self._wall()
        window = max(_BATCH_S, _MIN_BATCH_REAL_S * self.speed)
        batch: list[tuple[float, Fields]] = []
        window_end = window
        for t, fields in self.timeline(lap):
            if t >= window_end:
                await self._flush(batch, started, started_at, window_end)
                batch = []
                window_end = (math.floor(t / window) + 1) * window
            batch.append((t, fields))
        await self._flush(batch, started, started_at, min(window_end, self.scenario.duration_s))
        await self._wait_until(started, self.scenario.duration_s)

    async def _wait_until(self, started: float, scenario_t: float) -> None:
        # Always yields to the loop, so command handling runs even when playback lags.
        await self._sleep(max(0.0, started + scenario_t / self.speed - self._clock()))

    async def _flush(
        self,
        batch: list[tuple[float, Fields]],
        started: float,
        started_at: datetime,
        window_end: float,
    ) -> None:
        await self._wait_until(started, window_end)
        # Mutes are checked now, not when the batch was gathered: a timeout that landed
        # while we waited applies to what was due during the wait.
        now = self._wall()
        envelopes = [
            make_envelope(
                event_id=self.event_id,
                platform_at=started_at + timedelta(seconds=t / self.speed),
                ingest_at=now,
                max_text=self.max_text,
                **fields,
            )
            for t, fields in batch
            if not (fields["kind"] == Kind.chat and fields["author"].id in self._muted)
        ]
        if not envelopes:
            return
        await self.emit(envelopes)
        self._chat_ids.update(
            (e.source_id, e.platform_message_id) for e in envelopes if e.kind == Kind.chat
        )

    def _voters(self, platform: str) -> list[Author]:
        # The same audience as the chat's (the users pool does not change between laps).
        if self._audience is None:
            pools = _Lap(self.script, 0).pools
            self._audience = {p: pool.authors for p, pool in pools.items()}
        return [a for a in self._audience.get(platform, []) if a.id not in self._muted]

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        # Kept with the connector's tasks, so stopping it stops the voting too.
        task = asyncio.ensure_future(work)
        self._tasks.append(task)
        return task

    async def perform(self, action: Action) -> ActionResult:
        params = action.params
        platform = self._platforms.get(action.source_id, "")
        if action.type == POLL_START:
            return await self.polls.start(platform, action.source_id, params)
        if action.type == POLL_END:
            return await self.polls.end(action.source_id, str(params.get("poll_id") or ""))
        if action.type == "send_message":
            text = str(params.get("text") or "").strip()
            if not text:
                return ActionResult("failed", "send_message needs text")
            now = self._wall()
            await self.emit(
                [
                    make_envelope(
                        event_id=self.event_id,
                        source_id=action.source_id,
                        platform=platform,
                        kind=Kind.chat,
                        platform_message_id=f"sim-sent-{action.id}",
                        platform_at=now,
                        ingest_at=now,
                        author=HOST,
                        text=text,
                        max_text=self.max_text,
                    )
                ]
            )
            return ActionResult("done")
        if action.type == "delete":
            message_id = params.get("message_id")
            if not message_id:
                return ActionResult("failed", "missing message_id")
            if (action.source_id, str(message_id)) not in self._chat_ids:
                return ActionResult("failed", "unknown message")
            return ActionResult("done")  # deleting twice is fine: commands are at-least-once
        if action.type in ("timeout", "ban"):
            author_id = params.get("author_id")
            if not author_id:
                return ActionResult("failed", "missing author_id")
            if action.type == "timeout":
                duration = params.get("duration_s")
                if (
                    not isinstance(duration, int | float)
                    or isinstance(duration, bool)
                    or duration <= 0
                ):
                    return ActionResult("failed", "duration_s must be a positive number")
            # A simulated timeout lasts the rest of the run: the scenario has no time to
            # bring the author back in a way a test could rely on.
            self._muted.add(str(author_id))
            return ActionResult("done")
        return ActionResult("not_supported", f"simulator cannot {action.type}")


def simulated_envelopes(
    event_id: str,
    sources: dict[str, str],
    count: int | None,
    *,
    scenario: Scenario | str | Path = "demo",
    seed: int | None = None,
    rate: float | None = None,
    rate_scale: float = 1.0,
    start_at: datetime | None = None,
    max_text: int = DEFAULT_MAX_TEXT,
) -> Iterator[Envelope]:
    """`count` envelopes (None: one lap) of a simulated event, no bus or clock (benchmark)."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    script = EventScript(scenario, sources, seed=seed, rate_scale=rate_scale)
    return script.envelopes(event_id, count, rate=rate, start_at=start_at, max_text=max_text)
