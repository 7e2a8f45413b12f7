"""Simulator scenarios: a live event described as a YAML file, validated on load."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"


class ScenarioError(ValueError):
    """A scenario file that cannot be played; the message names the file and the field."""


class _Strict(BaseModel):
    # A misspelt key in a hand-written file should fail loudly, not be ignored.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PlatformMix(_Strict):
    share: float = Field(gt=0, le=1, description="this platform's part of the audience")
    chat_weight: float = Field(default=1.0, ge=0, description="how chatty its audience is")
    upvotes: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="chance that a chat line here comes with an upvote on a recent question "
        "of this platform (for platforms whose Q&A has upvotes)",
    )


class _Phase(_Strict):
    at_s: float | None = Field(default=None, ge=0, description="start; default: when the last ends")
    jitter: float = Field(default=0.02, ge=0, le=0.5, description="relative noise per tick")


class Ramp(_Phase):
    type: Literal["ramp"]
    from_: int | None = Field(default=None, alias="from", ge=0)
    to: int = Field(ge=0)
    over_s: float = Field(gt=0)


class Plateau(_Phase):
    type: Literal["plateau"]
    for_s: float = Field(gt=0)


class Drop(_Phase):
    type: Literal["drop"]
    percent: float = Field(gt=0, le=100)
    over_s: float = Field(default=20, gt=0)


class Recover(_Phase):
    type: Literal["recover"]
    over_s: float = Field(gt=0)
    to: int | None = Field(default=None, ge=0, description="default: the level before the drop")


ViewerPhase = Annotated[Ramp | Plateau | Drop | Recover, Field(discriminator="type")]


class LineGroup(_Strict):
    weight: float = Field(ge=0)
    texts: list[str] = Field(min_length=1)
    repeat_to: int | None = Field(
        default=None, ge=1, description="repeat the text until it is at least this long"
    )


class Users(_Strict):
    count: int = Field(ge=2)
    first_names: list[str] = Field(min_length=1)
    last_names: list[str] = Field(min_length=1)


class Chat(_Strict):
    base_rate: float = Field(ge=0, description="messages/s per platform at the reference audience")
    reference_viewers: int | None = Field(default=None, gt=0, description="default: the peak")
    question_ratio: float = Field(default=0.05, ge=0, le=1)
    duplicate_question_ratio: float = Field(default=0.2, ge=0, le=1)
    min_gap_s: float = Field(
        default=15,
        ge=0,
        description="a person writes at most one line this often, while others can write "
        "(the busiest chatters of a real audience do not type a line every few seconds)",
    )
    questions: list[str] = Field(min_length=1)
    lines: dict[str, LineGroup] = Field(min_length=1)
    users: Users

    # The pipeline decides what a question is from the text; the scenario's ratio only
    # means something if question texts, and only they, end with "?".
    @field_validator("questions")
    @classmethod
    def _questions_end_with_mark(cls, texts: list[str]) -> list[str]:
        for i, text in enumerate(texts):
            if not text.rstrip().endswith("?"):
                raise ValueError(f"questions[{i}] must end with '?': {text!r}")
        return texts

    @field_validator("lines")
    @classmethod
    def _lines_are_not_questions(cls, groups: dict[str, LineGroup]) -> dict[str, LineGroup]:
        for name, group in groups.items():
            for i, text in enumerate(group.texts):
                if text.rstrip().endswith("?"):
                    raise ValueError(f"{name}.texts[{i}] ends with '?'; put it in questions")
        if not any(g.weight > 0 for g in groups.values()):
            raise ValueError("at least one line group needs a weight above 0")
        return groups


class SpamBurst(_Strict):
    at_s: float = Field(ge=0)
    for_s: float = Field(gt=0)
    rate: float = Field(gt=0, description="spam messages per second, on top of normal chat")
    platform: str
    accounts: list[str] = Field(min_length=1)
    texts: list[str] = Field(min_length=1)


class StreamDrop(_Strict):
    at_s: float = Field(ge=0)
    for_s: float = Field(gt=0)
    platforms: list[str] | None = Field(default=None, description="default: every platform")
    viewer_factor: float = Field(default=0.1, ge=0, le=1)
    chat_factor: float = Field(default=0.05, ge=0, le=1)
    recover_s: float = Field(default=60, ge=0, description="audience returns over this long")


class Presence(_Strict):
    platforms: list[str] = Field(min_length=1)
    max_per_tick: int = Field(default=10, ge=1)


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the audience curve: linear from v0 to v1 between start and end."""

    start: float
    end: float
    v0: float
    v1: float
    jitter: float


class Scenario(_Strict):
    title: str = ""
    seed: int = 0
    duration_s: float = Field(gt=0)
    viewer_tick_s: float = Field(default=5, gt=0)
    platforms: dict[str, PlatformMix] = Field(min_length=1)
    viewers: list[ViewerPhase] = Field(min_length=1)
    chat: Chat
    spam_bursts: list[SpamBurst] = Field(default_factory=list)
    stream_drops: list[StreamDrop] = Field(default_factory=list)
    presence: Presence | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        total = sum(p.share for p in self.platforms.values())
        if abs(total - 1) > 0.01:
            raise ValueError(f"platforms: shares add up to {total:.3f}, they must add up to 1")
        known = set(self.platforms)

        def check(field: str, names: list[str]) -> None:
            for name in names:
                if name not in known:
                    raise ValueError(f"{field}: {name!r} is not in platforms ({', '.join(known)})")

        for i, burst in enumerate(self.spam_bursts):
            check(f"spam_bursts[{i}].platform", [burst.platform])
            self._within(f"spam_bursts[{i}]", burst.at_s + burst.for_s)
        for i, drop in enumerate(self.stream_drops):
            check(f"stream_drops[{i}].platforms", drop.platforms or [])
            self._within(f"stream_drops[{i}]", drop.at_s + drop.for_s)
        if self.presence:
            check("presence.platforms", self.presence.platforms)
        self._within("viewers", self.viewer_segments()[-1].end)
        return self

    def _within(self, field: str, end: float) -> None:
        if end > self.duration_s:
            raise ValueError(f"{field}: ends at {end:g} s, after duration_s ({self.duration_s:g})")

    def viewer_segments(self) -> list[Segment]:
        """The audience curve as consecutive linear segments starting at 0 s."""
        segments: list[Segment] = []
        level, now, jitter = 0.0, 0.0, 0.02
        before_drop: float | None = None
        for i, phase in enumerate(self.viewers):
            start = now if phase.at_s is None else phase.at_s
            if start < now:
                raise ValueError(f"viewers[{i}].at_s: {start:g} is before the last phase ends")
            if start > now:  # a gap holds the level
                segments.append(Segment(now, start, level, level, jitter))
            v0 = level
            if isinstance(phase, Ramp):
                v0 = level if phase.from_ is None else phase.from_
                v1, length = float(phase.to), phase.over_s
            elif isinstance(phase, Plateau):
                v1, length = level, phase.for_s
            elif isinstance(phase, Drop):
                before_drop = level
                v1, length = level * (1 - phase.percent / 100), phase.over_s
            else:
                target = phase.to if phase.to is not None else before_drop
                if target is None:
                    raise ValueError(f"viewers[{i}]: recover needs `to` or an earlier drop")
                v1, length = float(target), phase.over_s
            jitter = phase.jitter
            segments.append(Segment(start, start + length, v0, v1, jitter))
            level, now = v1, start + length
        return segments


class AudienceCurve:
    """Total audience over scenario time, evaluated fast (one bisect per call)."""

    def __init__(self, scenario: Scenario) -> None:
        self.segments = scenario.viewer_segments()
        self._starts = [s.start for s in self.segments]
        self.peak = max(max(s.v0, s.v1) for s in self.segments)

    def at(self, t: float) -> tuple[float, float]:
        """(viewers, jitter) at time t; after the last phase the level holds."""
        seg = self.segments[max(0, bisect.bisect_right(self._starts, t) - 1)]
        if t >= seg.end:
            return seg.v1, seg.jitter
        return seg.v0 + (seg.v1 - seg.v0) * (t - seg.start) / (seg.end - seg.start), seg.jitter


def load_scenario(path: str | Path) -> Scenario:
    """Reads and validates a scenario file; a bare name ("demo") means a built-in one."""
    path = Path(path)
    if path.suffix == "" and path.parent == Path("."):
        path = SCENARIO_DIR / f"{path}.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: expected a mapping of scenario fields at the top level")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_field_path(err['loc'])}: {err['msg']}" if err["loc"] else err["msg"]
            for err in exc.errors()
        )
        raise ScenarioError(f"{path}: {problems}") from exc


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
