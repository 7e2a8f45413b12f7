"""The detector engine: snapshots in, decisions out, with a sentence saying why.

Pure: no I/O and no clock of its own. The caller feeds `EventSignals` snapshots
(`observe`) and asks what fires at a given time (`evaluate`), so a test drives it
with any timeline it likes and the worker with the wall clock.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.detectors.signals import EventSignals, SourceSignals
from app.playbooks.schemas import CONDITIONS, SIGNALS


class Signal(StrEnum):
    viewers_drop = "viewers_drop"
    connector_stale = "connector_stale"
    chat_raid = "chat_raid"
    ingest_lag = "ingest_lag"
    cue_overrun = "cue_overrun"
    question_backlog = "question_backlog"
    engagement_drop = "engagement_drop"
    manual = "manual"


class Mode(StrEnum):
    open_incident = "open_incident"
    suggest = "suggest"
    monitor = "monitor"
    off = "off"


class Scope(StrEnum):
    total = "total"
    per_platform = "per_platform"
    per_source = "per_source"


assert tuple(Signal) == SIGNALS, "the detectors' signals are the playbook's"

# Condition keys per signal: (required, optional), read from the playbook's own shapes.
CONDITION_KEYS: dict[Signal, tuple[frozenset[str], frozenset[str]]] = {
    Signal(name): (
        frozenset(k for k, f in shape.model_fields.items() if f.is_required()),
        frozenset(k for k, f in shape.model_fields.items() if not f.is_required()),
    )
    for name, shape in CONDITIONS.items()
}

# A platform (or the whole event) with fewer viewers than this at its peak is not judged
# for a drop: 12 → 6 is "50%" and means nothing.
MIN_AUDIENCE = 20
# Engagement per viewer is noise below this many viewers.
MIN_ENGAGEMENT_VIEWERS = 50
# A raid is judged against at least this many messages a minute: a quiet chat's baseline
# is near zero, and three people typing "hi" must not be a raid.
MIN_RAID_BASELINE = 10.0
# States in which a source is left alone: ops paused it on purpose.
QUIET_STATES = frozenset({"paused"})
# History kept beyond the longest span the rules need, so a run that began exactly one
# window ago still has its first sample despite tick jitter.
HISTORY_SLACK_S = 10.0
# Before the first evaluate names the rules, keep this much.
DEFAULT_RETENTION_S = 900.0
# A hard cap on samples per event, whatever the caller's tick rate.
MAX_SAMPLES = 20_000


@dataclass(frozen=True)
class Rule:
    """One detection signal of a playbook entry.

    `scope` None means the signal's own: viewers_drop then judges the total and each
    platform; the other signals always have one natural scope (a source, a cue, the
    event) and ignore it. A condition key set to None counts as absent.
    """

    entry_slug: str
    signal: str
    condition: Mapping[str, float | None] = field(default_factory=dict)
    window_s: float = 60.0
    cooldown_s: float = 600.0
    mode: str = Mode.open_incident
    scope: str | None = None
    severity: str = "sev3"

    def __post_init__(self) -> None:
        signal = _member(Signal, self.signal, "signal")
        _member(Mode, self.mode, "mode")
        scope = _member(Scope, self.scope, "scope") if self.scope is not None else None
        object.__setattr__(
            self, "condition", {k: v for k, v in self.condition.items() if v is not None}
        )
        required, optional = CONDITION_KEYS[signal]
        keys = set(self.condition)
        if missing := required - keys:
            raise ValueError(f"{signal} needs condition keys {', '.join(sorted(missing))}")
        if unknown := keys - required - optional:
            allowed = ", ".join(sorted(required | optional)) or "none"
            raise ValueError(
                f"{signal} does not know condition keys {', '.join(sorted(unknown))} "
                f"(allowed: {allowed})"
            )
        if signal is Signal.question_backlog and not keys:
            raise ValueError("question_backlog needs pending_gt, oldest_s or both")
        for key, value in self.condition.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"condition {key} must be a number ≥ 0, not {value!r}")
        if signal is Signal.chat_raid and (self.option("duplicate_ratio") or 0.0) > 1:
            raise ValueError("chat_raid duplicate_ratio is a share between 0 and 1")
        if self.window_s < 0 or self.cooldown_s < 0:
            raise ValueError("window_s and cooldown_s must be ≥ 0")
        if signal is Signal.viewers_drop and scope is Scope.per_source:
            raise ValueError("viewers are counted per platform: use scope total or per_platform")

    def limit(self, key: str) -> float:
        """A required condition value."""
        return float(self.condition[key])  # type: ignore[arg-type]  # None was dropped

    def option(self, key: str) -> float | None:
        value = self.condition.get(key)
        return float(value) if value is not None else None

    @property
    def span_s(self) -> float:
        """How much history this rule looks back over."""
        signal = Signal(self.signal)
        if signal in (Signal.viewers_drop, Signal.engagement_drop):
            return self.window_s
        if signal is Signal.chat_raid:
            return self.window_s + 60.0  # the baseline window ends where the last minute starts
        if signal is Signal.connector_stale:
            return self.limit("stale_s")
        return 0.0


@dataclass(frozen=True, slots=True)
class Finding:
    """What one rule sees in one scope right now, whether or not it is enough to fire."""

    rule: Rule
    scope: str  # "total", "platform:<name>", "source:<id>", "cue:<id>"
    met: bool
    explanation: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Decision:
    """A rule that fired: what, where, how strongly it is meant, and why."""

    event_id: str
    entry_slug: str
    signal: str
    scope: str
    mode: str
    severity: str
    at: float
    explanation: str
    data: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        """(signal, scope): at most one open incident each."""
        return self.signal, self.scope


RATE_SETTLE_S = 60.0  # a per-minute rate is whole once a minute has been watched


@dataclass
class _History:
    samples: deque[EventSignals] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))
    retention_s: float = DEFAULT_RETENTION_S
    fired_at: dict[tuple[str, str, str], float] = field(default_factory=dict)
    watching_since: float | None = None


class DetectorEngine:
    """Per-event history windows and cooldowns; decisions from rules."""

    def __init__(self) -> None:
        self._events: dict[str, _History] = {}

    def observe(self, signals: EventSignals) -> None:
        """Adds a snapshot; samples older than the rules' longest span are dropped."""
        history = self._events.setdefault(signals.event_id, _History())
        samples = history.samples
        if samples and signals.now < samples[-1].now:
            return  # a late snapshot: the history is in time order
        if samples and signals.now == samples[-1].now:
            samples.pop()
        samples.append(signals)
        if history.watching_since is None:
            history.watching_since = signals.now
        self._trim(history, signals.now)

    def samples(self, event_id: str) -> Sequence[EventSignals]:
        history = self._events.get(event_id)
        return tuple(history.samples) if history else ()

    def forget(self, event_id: str) -> None:
        """Drops an event's history and cooldowns (it is no longer live)."""
        self._events.pop(event_id, None)

    def last_fired(self, event_id: str, rule: Rule, scope: str) -> float | None:
        history = self._events.get(event_id)
        return history.fired_at.get(_fire_key(rule, scope)) if history else None

    def evaluate(
        self, rules: Iterable[Rule], now: float, *, event_id: str | None = None
    ) -> list[Decision]:
        """The decisions that fire at `now`, for one event or every observed one."""
        rules = list(rules)
        decisions: list[Decision] = []
        for eid in self._event_ids(event_id):
            history = self._events[eid]
            self._retain_for(history, rules, now)
            for finding in self._findings(history, rules, now):
                if not finding.met:
                    continue
                key = _fire_key(finding.rule, finding.scope)
                last = history.fired_at.get(key)
                if last is not None and now - last < finding.rule.cooldown_s:
                    continue
                history.fired_at[key] = now
                decisions.append(_decision(eid, finding, now))
        return decisions

    def diagnose(
        self, rules: Iterable[Rule], now: float, *, event_id: str | None = None
    ) -> list[Finding]:
        """Every rule's view of every scope, met or not, cooldowns aside (for ops and tests)."""
        rules = list(rules)
        return [
            finding
            for eid in self._event_ids(event_id)
            for finding in self._findings(self._events[eid], rules, now)
        ]

    # -- internals --
    def _event_ids(self, event_id: str | None) -> list[str]:
        if event_id is None:
            return list(self._events)
        return [event_id] if event_id in self._events else []

    @staticmethod
    def _trim(history: _History, now: float) -> None:
        samples = history.samples
        while len(samples) > 1 and samples[0].now < now - history.retention_s:
            samples.popleft()

    def _retain_for(self, history: _History, rules: list[Rule], now: float) -> None:
        # Sized to the rules of this call: a caller that split an event's rules over
        # several calls would keep only the last call's span.
        spans = [r.span_s for r in rules if r.mode != Mode.off]
        history.retention_s = max(spans, default=0.0) + HISTORY_SLACK_S
        self._trim(history, now)
        # A cooldown that has run out needs no memory.
        longest = max((r.cooldown_s for r in rules), default=0.0)
        for key in [k for k, at in history.fired_at.items() if now - at >= longest]:
            del history.fired_at[key]

    @staticmethod
    def _findings(history: _History, rules: list[Rule], now: float) -> Iterator[Finding]:
        samples = [s for s in history.samples if s.now <= now]
        if not samples:
            return
        # A trailing-minute rate from the first minute of watching undercounts (the chat
        # just began, or the counters started mid-minute): a raid baseline made of it
        # would be low and turn ordinary chat into a "raid". Rates judge settled samples.
        settled_at = (history.watching_since or 0.0) + RATE_SETTLE_S
        settled = [s for s in samples if s.now >= settled_at] or samples[-1:]
        for rule in rules:
            if rule.mode == Mode.off:
                continue
            judged = settled if rule.signal == Signal.chat_raid else samples
            yield from _CHECKS[Signal(rule.signal)](rule, judged, now)


def _member(enum: type[StrEnum], value: str, what: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise ValueError(f"unknown {what} {value!r} (one of {allowed})") from None


def _fire_key(rule: Rule, scope: str) -> tuple[str, str, str]:
    return rule.entry_slug, rule.signal, scope


def _decision(event_id: str, finding: Finding, now: float) -> Decision:
    rule = finding.rule
    return Decision(
        event_id=event_id,
        entry_slug=rule.entry_slug,
        signal=str(rule.signal),
        scope=finding.scope,
        mode=str(rule.mode),
        severity=rule.severity,
        at=now,
        explanation=finding.explanation,
        data=finding.data,
    )


# -- the detectors --
Check = Callable[[Rule, Sequence[EventSignals], float], Iterator[Finding]]


def _viewers_drop(rule: Rule, samples: Sequence[EventSignals], now: float) -> Iterator[Finding]:
    """Viewers fell by ≥ drop_pct % from the window's peak to now."""
    threshold = rule.limit("drop_pct")
    window = [s for s in samples if s.now >= now - rule.window_s]
    current = samples[-1]
    series: list[tuple[str, str, list[tuple[float, int]]]] = []
    if rule.scope in (None, Scope.total) and current.viewers_total is not None:
        points = [(s.now, s.viewers_total) for s in window if s.viewers_total is not None]
        series.append(("total", "total viewers", points))
    if rule.scope in (None, Scope.per_platform):
        for platform in sorted(current.viewers):
            points = [(s.now, s.viewers[platform]) for s in window if platform in s.viewers]
            series.append((f"platform:{platform}", f"{platform} viewers", points))
    for scope, label, points in series:
        # The latest peak, so "within" reads as the time the fall took.
        peak_at, peak = max(points, key=lambda p: (p[1], p[0]))
        latest = points[-1][1]
        if peak < MIN_AUDIENCE:
            continue
        drop = (peak - latest) * 100 / peak
        yield Finding(
            rule,
            scope,
            drop >= threshold,
            f"{label} fell {_pct(drop)}% ({peak:,} → {latest:,}) within {_secs(rule.window_s)}; "
            f"the rule fires at {_pct(threshold)}%",
            {
                "peak": peak,
                "peak_at": peak_at,
                "current": latest,
                "drop_pct": round(drop, 2),
                "threshold_pct": threshold,
                "window_s": rule.window_s,
            },
        )


def _connector_stale(rule: Rule, samples: Sequence[EventSignals], now: float) -> Iterator[Finding]:
    """A source failed, has not been connected for stale_s, or has sent nothing for stale_s."""
    stale_s = rule.limit("stale_s")
    for source in samples[-1].sources:
        if source.state in QUIET_STATES:
            continue
        sid = source.source_id
        label = _source_label(source)
        data: dict[str, Any] = {
            "source_id": sid,
            "platform": source.platform,
            "state": source.state,
            "stale_s": stale_s,
        }
        quiet_s = source.since_last_event_s
        if quiet_s is None:
            # Never an event: count from when this engine first saw it so.
            since = _source_held_since(samples, sid, _never_heard)
            quiet_s = now - since if since is not None else 0.0
        data["since_last_event_s"] = round(quiet_s, 3)
        if source.state == "failed":
            why = f" ({source.last_error})" if source.last_error else ""
            yield Finding(
                rule,
                f"source:{sid}",
                True,
                f"{label} has failed{why}; the rule fires on failure or after "
                f"{_secs(stale_s)} without events",
                data,
            )
            continue
        down_s = 0.0
        if source.state != "connected":
            since = _source_held_since(samples, sid, _not_connected)
            down_s = now - since if since is not None else 0.0
            data["not_connected_s"] = round(down_s, 3)
        if source.state != "connected" and down_s >= stale_s:
            text = f"{label} has been {source.state} for {_secs(down_s)}"
        elif source.state != "connected":
            text = (
                f"{label} has been {source.state} for {_secs(down_s)} "
                f"and sent nothing for {_secs(quiet_s)}"
            )
        else:
            text = f"{label} is connected and has sent nothing for {_secs(quiet_s)}"
        yield Finding(
            rule,
            f"source:{sid}",
            down_s >= stale_s or quiet_s >= stale_s,
            f"{text}; the rule fires at {_secs(stale_s)}",
            data,
        )


def _chat_raid(rule: Rule, samples: Sequence[EventSignals], now: float) -> Iterator[Finding]:
    """The last minute's rate is rate_factor times the baseline, and mostly repeats."""
    factor = rule.limit("rate_factor")
    dup_threshold = rule.option("duplicate_ratio")
    current = samples[-1]
    start, end = now - 60.0 - rule.window_s, now - 60.0
    before = [s for s in samples if start <= s.now <= end]
    data: dict[str, Any] = {
        "messages_per_min": round(current.messages_last_min, 1),
        "duplicate_ratio": round(current.duplicate_ratio, 3),
        "rate_factor": factor,
        "duplicate_threshold": dup_threshold,
        "window_s": rule.window_s,
    }
    # A baseline from a few seconds of history is a guess: half the window at least.
    if not before or before[0].now > start + rule.window_s / 2:
        yield Finding(
            rule,
            "total",
            False,
            f"chat at {_num(current.messages_last_min)} messages/min; no baseline yet "
            f"(it needs {_secs(rule.window_s / 2)} of history before the last minute)",
            data,
        )
        return
    baseline = statistics.median(s.messages_last_min for s in before)
    reference = max(baseline, MIN_RAID_BASELINE)
    ratio = current.messages_last_min / reference
    data |= {"baseline_per_min": round(baseline, 1), "reference_per_min": round(reference, 1)}
    data["rate_vs_baseline"] = round(ratio, 2)
    floor = f", floored at {_num(MIN_RAID_BASELINE)}" if baseline < reference else ""
    # Without a duplicate_ratio the rate alone decides.
    repeats_ok = dup_threshold is None or current.duplicate_ratio >= dup_threshold
    fires_at = f"{_ratio(factor)} times"
    if dup_threshold is not None:
        fires_at += f" and {_pct(dup_threshold * 100)}%"
    yield Finding(
        rule,
        "total",
        current.messages_last_min >= factor * reference and repeats_ok,
        f"chat at {_num(current.messages_last_min)} messages/min is {_ratio(ratio)} times its "
        f"baseline of {_num(baseline)}{floor} (median over the {_secs(rule.window_s)} before "
        f"the last minute), and {_pct(current.duplicate_ratio * 100)}% of the lines repeat "
        f"an earlier one; the rule fires at {fires_at}",
        data,
    )


def _ingest_lag(rule: Rule, samples: Sequence[EventSignals], now: float) -> Iterator[Finding]:
    """A connected source delivers lag_s or more behind the platform."""
    threshold = rule.limit("lag_s")
    for source in samples[-1].sources:
        # Another state's lag is that of its last delivery, not news.
        if source.state != "connected":
            continue
        yield Finding(
            rule,
            f"source:{source.source_id}",
            source.lag_s >= threshold,
            f"{_source_label(source)} delivers {_secs(source.lag_s)} behind the platform; "
            f"the rule fires at {_secs(threshold)}",
            {
                "source_id": source.source_id,
                "platform": source.platform,
                "lag_s": source.lag_s,
                "threshold_s": threshold,
            },
        )


def _cue_overrun(rule: Rule, samples: Sequence[EventSignals], now: float) -> Iterator[Finding]:
    """The live cue has run over_s or more past its planned duration."""
    threshold = rule.limit("over_s")
    for cue in samples[-1].overruns:
        yield Finding(
            rule,
            f"cue:{cue.cue_id}",
            cue.over_s >= threshold,
            f'cue "{cue.title}" has run {_secs(cue.over_s)} past its planned '
            f"{_secs(cue.planned_s)}; the rule fires at {_secs(threshold)} over",
            {
                "cue_id": cue.cue_id,
                "title": cue.title,
                "planned_s": cue.planned_s,
                "over_s": cue.over_s,
                "threshold_s": threshold,
            },
        )


def _question_backlog(rule: Rule, samples: Sequence[EventSignals], now: float) -> Iterator[Finding]:
    """More than pending_gt questions wait, or the oldest has waited oldest_s."""
    pending_gt = rule.option("pending_gt")
    oldest_s = rule.option("oldest_s")
    current = samples[-1]
    pending, oldest = current.questions_pending, current.oldest_pending_s
    met = (pending_gt is not None and pending > pending_gt) or (
        oldest_s is not None and oldest is not None and oldest >= oldest_s
    )
    if pending:
        waited = f", the oldest waiting {_secs(oldest)}" if oldest is not None else ""
        seen = f"{pending:,} question{'s' if pending != 1 else ''} pending{waited}"
    else:
        seen = "no question pending"
    limits = []
    if pending_gt is not None:
        limits.append(f"above {_num(pending_gt)} pending")
    if oldest_s is not None:
        limits.append(f"at {_secs(oldest_s)} waiting")
    yield Finding(
        rule,
        "total",
        met,
        f"{seen}; the rule fires {' or '.join(limits)}",
        {
            "pending": pending,
            "oldest_pending_s": oldest,
            "pending_gt": pending_gt,
            "oldest_s": oldest_s,
        },
    )


def _engagement_drop(rule: Rule, samples: Sequence[EventSignals], now: float) -> Iterator[Finding]:
    """Interactions per 100 viewers per minute stayed below the floor for the whole window."""
    floor = rule.limit("per_100_viewers_per_min_lt")
    current = samples[-1]
    viewers = current.viewers_total
    if viewers is None or viewers < MIN_ENGAGEMENT_VIEWERS:
        return

    def below(s: EventSignals) -> bool:
        rate = _engagement(s)
        return rate is not None and rate < floor

    since = _held_since(samples, below)
    held_s = now - since if since is not None else 0.0
    rate = _engagement(current)
    assert rate is not None  # viewers checked above
    yield Finding(
        rule,
        "total",
        since is not None and held_s >= rule.window_s,
        f"engagement is {_rate(rate)} interactions per 100 viewers per minute "
        f"({_num(current.interactions_last_min)} from {viewers:,} viewers), below the floor of "
        f"{_rate(floor)} for {_secs(held_s)}; the rule fires after {_secs(rule.window_s)} below",
        {
            "per_100_viewers_per_min": round(rate, 3),
            "interactions_per_min": round(current.interactions_last_min, 1),
            "viewers": viewers,
            "floor": floor,
            "below_for_s": round(held_s, 3),
            "window_s": rule.window_s,
        },
    )


def _manual(rule: Rule, samples: Sequence[EventSignals], now: float) -> Iterator[Finding]:
    """People open these; nothing here decides them."""
    return iter(())


_CHECKS: dict[Signal, Check] = {
    Signal.viewers_drop: _viewers_drop,
    Signal.connector_stale: _connector_stale,
    Signal.chat_raid: _chat_raid,
    Signal.ingest_lag: _ingest_lag,
    Signal.cue_overrun: _cue_overrun,
    Signal.question_backlog: _question_backlog,
    Signal.engagement_drop: _engagement_drop,
    Signal.manual: _manual,
}


# -- helpers --
def _held_since(
    samples: Sequence[EventSignals], holds: Callable[[EventSignals], bool]
) -> float | None:
    """When the unbroken run of samples for which `holds` is true, ending now, began."""
    since = None
    for sample in reversed(samples):
        if not holds(sample):
            break
        since = sample.now
    return since


def _source_held_since(
    samples: Sequence[EventSignals], source_id: str, holds: Callable[[SourceSignals], bool]
) -> float | None:
    def check(sample: EventSignals) -> bool:
        source = sample.source(source_id)
        return source is not None and holds(source)

    return _held_since(samples, check)


def _not_connected(source: SourceSignals) -> bool:
    return source.state != "connected"


def _never_heard(source: SourceSignals) -> bool:
    return source.since_last_event_s is None


def _engagement(s: EventSignals) -> float | None:
    if s.viewers_total is None or s.viewers_total < MIN_ENGAGEMENT_VIEWERS:
        return None
    return s.interactions_last_min * 100 / s.viewers_total


def _source_label(source: SourceSignals) -> str:
    name = f' "{source.name}"' if source.name else ""
    return f"{source.platform} source{name}"


def _down(value: float, places: int) -> float:
    """Rounded down: a value just under a threshold never prints as the threshold."""
    scale = 10**places
    return math.floor(value * scale + 1e-9) / scale


def _trim(value: float, places: int) -> str:
    text = f"{_down(value, places):,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _pct(value: float) -> str:
    return _trim(value, 1)


def _ratio(value: float) -> str:
    return _trim(value, 1)


def _rate(value: float) -> str:
    return _trim(value, 2)


def _num(value: float) -> str:
    return _trim(value, 0) if value >= 100 else _trim(value, 1)


def _secs(value: float) -> str:
    # Up to two minutes a count of seconds reads best ("95 s"); past that, minutes.
    if value < 120:
        return f"{_trim(value, 1)} s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
