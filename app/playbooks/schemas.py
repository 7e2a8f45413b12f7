"""What a playbook entry is: detection, response steps, escalation, targets, templates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from app.auth.models import Role

# The signals the detectors know; `manual` is an entry an operator opens by hand.
SIGNALS = (
    "viewers_drop",
    "connector_stale",
    "chat_raid",
    "ingest_lag",
    "cue_overrun",
    "question_backlog",
    "engagement_drop",
    "manual",
)
CATEGORIES = (
    "stream",
    "audio",
    "connector",
    "chat",
    "speaker",
    "schedule",
    "content",
    "platform",
    "engagement",
    "questions",
)
SEVERITIES = ("sev1", "sev2", "sev3", "sev4")  # sev1 is the worst

Category = Literal[
    "stream",
    "audio",
    "connector",
    "chat",
    "speaker",
    "schedule",
    "content",
    "platform",
    "engagement",
    "questions",
]
Severity = Literal["sev1", "sev2", "sev3", "sev4"]
OwnerRole = Literal["admin", "ops_lead", "moderator", "host"]
Mode = Literal["open_incident", "suggest", "monitor", "off"]
Scope = Literal["total", "per_platform", "per_source"]
assert get_args(Category) == CATEGORIES and get_args(Severity) == SEVERITIES
assert set(get_args(OwnerRole)) == {r.value for r in Role} - {"viewer"}

DAY_S = 86_400


def _between(low: float, high: float) -> Callable[[Any], Any]:
    """One message naming both bounds, where Field(ge, le) would name only the one missed."""

    def check(value: Any) -> Any:
        if not low <= value <= high:
            raise PydanticCustomError(
                "out_of_range", "must be between {low} and {high}", {"low": low, "high": high}
            )
        return value

    return check


def _slug(value: str) -> str:
    parts = value.split("-")
    if not value or len(value) > 64 or not all(p and p.isascii() and p.isalnum() for p in parts):
        raise PydanticCustomError(
            "slug", "must be lowercase letters and digits joined by dashes, e.g. stream-down"
        )
    if value != value.lower():
        raise PydanticCustomError("slug", "must be lowercase, e.g. stream-down")
    return value


def _identifier(value: str) -> str:
    if not (value and value.isascii() and value.replace("_", "a").isalnum() and value.islower()):
        raise PydanticCustomError("identifier", "must be lower_snake_case, e.g. post_notice")
    return value


Slug = Annotated[str, AfterValidator(_slug)]
Percent = Annotated[int, AfterValidator(_between(1, 100))]
Ratio = Annotated[float, AfterValidator(_between(0, 1))]
Seconds = Annotated[int, AfterValidator(_between(1, DAY_S))]
SecondsOrZero = Annotated[int, AfterValidator(_between(0, DAY_S))]
Count = Annotated[int, AfterValidator(_between(0, 1_000_000))]
Title = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- conditions, one shape per signal --
class ViewersDropCondition(_Strict):
    """Viewers fell by at least drop_pct % within the window."""

    drop_pct: Percent


class ConnectorStaleCondition(_Strict):
    """No event from a connector for stale_s seconds (or it is disconnected)."""

    stale_s: Seconds


class ChatRaidCondition(_Strict):
    """Chat rate at least rate_factor times its baseline, and (if set) that share of duplicates."""

    rate_factor: Annotated[float, AfterValidator(_between(1, 1000))]
    duplicate_ratio: Ratio | None = None


class IngestLagCondition(_Strict):
    """Platform time to ingest time over lag_s seconds."""

    lag_s: Seconds


class CueOverrunCondition(_Strict):
    """The live cue is over_s seconds past its planned duration."""

    over_s: SecondsOrZero


class QuestionBacklogCondition(_Strict):
    """More than pending_gt questions pending, or the oldest pending for oldest_s."""

    pending_gt: Count | None = None
    oldest_s: Seconds | None = None

    @model_validator(mode="after")
    def _one_at_least(self) -> QuestionBacklogCondition:
        if self.pending_gt is None and self.oldest_s is None:
            raise ValueError("give pending_gt, oldest_s or both")
        return self


class EngagementDropCondition(_Strict):
    """Chat messages per 100 viewers per minute below the floor."""

    per_100_viewers_per_min_lt: Annotated[float, AfterValidator(_between(0, 10_000))]


class ManualCondition(_Strict):
    """Nothing to watch: an operator opens it."""


CONDITIONS: dict[str, type[BaseModel]] = {
    "viewers_drop": ViewersDropCondition,
    "connector_stale": ConnectorStaleCondition,
    "chat_raid": ChatRaidCondition,
    "ingest_lag": IngestLagCondition,
    "cue_overrun": CueOverrunCondition,
    "question_backlog": QuestionBacklogCondition,
    "engagement_drop": EngagementDropCondition,
    "manual": ManualCondition,
}
assert tuple(CONDITIONS) == SIGNALS


# -- detection: the union on `signal` picks the condition's shape --
class _Detection(_Strict):
    signal: str
    condition: BaseModel
    window_s: SecondsOrZero = 60
    cooldown_s: SecondsOrZero = 600
    mode: Mode = "open_incident"
    scope: Scope | None = None


class ViewersDropDetection(_Detection):
    signal: Literal["viewers_drop"]
    condition: ViewersDropCondition


class ConnectorStaleDetection(_Detection):
    signal: Literal["connector_stale"]
    condition: ConnectorStaleCondition


class ChatRaidDetection(_Detection):
    signal: Literal["chat_raid"]
    condition: ChatRaidCondition


class IngestLagDetection(_Detection):
    signal: Literal["ingest_lag"]
    condition: IngestLagCondition


class CueOverrunDetection(_Detection):
    signal: Literal["cue_overrun"]
    condition: CueOverrunCondition


class QuestionBacklogDetection(_Detection):
    signal: Literal["question_backlog"]
    condition: QuestionBacklogCondition


class EngagementDropDetection(_Detection):
    signal: Literal["engagement_drop"]
    condition: EngagementDropCondition


class ManualDetection(_Detection):
    signal: Literal["manual"]
    condition: ManualCondition = Field(default_factory=ManualCondition)


Detection = Annotated[
    ViewersDropDetection
    | ConnectorStaleDetection
    | ChatRaidDetection
    | IngestLagDetection
    | CueOverrunDetection
    | QuestionBacklogDetection
    | EngagementDropDetection
    | ManualDetection,
    Field(discriminator="signal"),
]


# -- response --
class StepAction(BaseModel):
    """What an automatic step does: a type, and whatever that type needs."""

    model_config = ConfigDict(extra="allow")

    type: Annotated[str, AfterValidator(_identifier)]


class Step(_Strict):
    text: Annotated[str, Field(min_length=1, max_length=500)]
    owner_role: OwnerRole
    kind: Literal["manual", "automatic"] = "manual"
    action: StepAction | None = None

    @model_validator(mode="after")
    def _action_matches_kind(self) -> Step:
        if self.kind == "automatic" and self.action is None:
            raise ValueError("an automatic step needs an action: {type: ...}")
        if self.kind == "manual" and self.action is not None:
            raise ValueError("a manual step has no action: make it kind: automatic")
        return self


class Escalation(_Strict):
    """After after_s seconds without acknowledgement: notify a role, raise the severity."""

    after_s: Seconds
    notify_role: OwnerRole | None = None
    raise_severity_to: Severity | None = None

    @model_validator(mode="after")
    def _does_something(self) -> Escalation:
        if self.notify_role is None and self.raise_severity_to is None:
            raise ValueError("give notify_role, raise_severity_to or both")
        return self


class Targets(_Strict):
    acknowledge_s: Seconds
    mitigate_s: Seconds


class Templates(_Strict):
    audience_notice: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    speaker_message: Annotated[str, Field(min_length=1, max_length=2000)] | None = None


class EntrySpec(_Strict):
    """One thing that can go wrong: how to spot it, who does what, how fast."""

    slug: Slug
    title: Title
    category: Category
    default_severity: Severity
    owner_role: OwnerRole
    detection: list[Detection] = Field(default_factory=list, max_length=10)
    steps: list[Step] = Field(min_length=1, max_length=30)
    escalation: list[Escalation] = Field(default_factory=list, max_length=10)
    targets: Targets
    templates: Templates = Field(default_factory=Templates)

    def columns(self) -> dict[str, Any]:
        """The entry as stored and exported: every field, optional ones only when set."""
        return self.model_dump(mode="json", exclude_none=True)


class PlaybookSpec(_Strict):
    name: Title
    entries: list[EntrySpec] = Field(min_length=1, max_length=200)


# -- what pydantic cannot see field by field --
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    loc: Loc
    message: str
    first: Loc | None = None  # where the value it clashes with is


def severity_rank(severity: str) -> int:
    """1 for sev1 (the worst) … 4 for sev4."""
    return SEVERITIES.index(severity) + 1


def problems(spec: PlaybookSpec) -> list[Problem]:
    """Rules across fields: unique slugs, a scope the signal has, escalation in time
    order and only upwards, mitigation no sooner than acknowledgement."""
    found: list[Problem] = []
    first_slug: dict[str, int] = {}
    for i, entry in enumerate(spec.entries):
        here: Loc = ("entries", i)
        if entry.slug in first_slug:
            found.append(
                Problem(
                    (*here, "slug"),
                    f"duplicate slug {entry.slug!r}: slugs name entries, rename one of the two",
                    ("entries", first_slug[entry.slug], "slug"),
                )
            )
        else:
            first_slug[entry.slug] = i
        for j, detection in enumerate(entry.detection):
            if detection.signal == "viewers_drop" and detection.scope == "per_source":
                found.append(
                    Problem(
                        (*here, "detection", j, "scope"),
                        "viewers are counted per platform: use total or per_platform",
                    )
                )
        previous = 0
        for j, rule in enumerate(entry.escalation):
            if rule.after_s <= previous:
                found.append(
                    Problem(
                        (*here, "escalation", j, "after_s"),
                        f"must be later than the rule before it ({previous} s)",
                    )
                )
            previous = rule.after_s
            raised = rule.raise_severity_to
            if raised is not None and severity_rank(raised) >= severity_rank(
                entry.default_severity
            ):
                found.append(
                    Problem(
                        (*here, "escalation", j, "raise_severity_to"),
                        f"must be worse than the entry's default_severity "
                        f"{entry.default_severity} (sev1 is the worst)",
                    )
                )
        if entry.targets.mitigate_s < entry.targets.acknowledge_s:
            found.append(
                Problem(
                    (*here, "targets", "mitigate_s"),
                    f"must be at least acknowledge_s ({entry.targets.acknowledge_s} s): "
                    "mitigation comes after acknowledgement",
                )
            )
    return found
