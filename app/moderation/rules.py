"""One event's chat-moderation rules, edited from the console as JSON."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.moderation.normalize import normalize, term_pattern

Action = Literal["hide", "hold", "flag"]

# Per-author history the flood rule keeps (see engine.FloodTracker); limits below stay under it.
FLOOD_HISTORY = 64

Weight = Annotated[float, Field(ge=0, le=1)]
Seconds = Annotated[float, Field(gt=0, le=3600)]


class _Rule(BaseModel):
    # extra="forbid": a misspelt key from the console is an error, not a silently ignored rule.
    model_config = ConfigDict(extra="forbid", frozen=True)


class BannedTerm(_Rule):
    """A word or phrase; its disguised spellings match too (see normalize.py)."""

    term: str = Field(min_length=1, max_length=100)
    action: Action
    whole_word: bool = True

    @field_validator("term")
    @classmethod
    def _matchable(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("term is blank; give a word or phrase")
        term_pattern(value, whole_word=True)  # ValueError names what is wrong
        return value


class FloodRule(_Rule):
    """Too many messages, or the same message too often, from one author."""

    max_messages: int = Field(default=5, ge=1, le=FLOOD_HISTORY - 4)
    per_seconds: Seconds = 10
    max_repeats: int = Field(default=3, ge=1, le=FLOOD_HISTORY - 4)
    repeat_window_s: Seconds = 60
    action: Action = "hold"


class SpamRule(_Rule):
    """A score from 0 to 1 summed from weighted signals; at or above threshold, act."""

    threshold: float = Field(default=0.7, gt=0, le=1)
    action: Action = "hold"
    # Per link, counted up to max_links.
    link_weight: Weight = 0.3
    max_links: int = Field(default=3, ge=1, le=20)
    # Times the share of capital letters, once that share reaches caps_min_ratio
    # in a message with at least caps_min_letters letters.
    caps_weight: Weight = 0.3
    caps_min_ratio: float = Field(default=0.6, gt=0, le=1)
    caps_min_letters: int = Field(default=8, ge=1)
    # One non-space character repeated repeated_char_run times or more in a row.
    repeated_chars_weight: Weight = 0.15
    repeated_char_run: int = Field(default=6, ge=2, le=100)
    # One word said repeated_word_count times or more, making up 40% or more of the words.
    repeated_words_weight: Weight = 0.2
    repeated_word_count: int = Field(default=3, ge=2, le=100)
    # The author's first message in this event.
    first_time_weight: Weight = 0.15


class RuleSet(_Rule):
    """Everything the engine applies to one event's chat; `null` turns flood or spam off."""

    banned_terms: list[BannedTerm] = Field(default_factory=list, max_length=1000)
    flood: FloodRule | None = Field(default_factory=FloodRule)
    spam: SpamRule | None = Field(default_factory=SpamRule)
    exempt_roles: list[str] = Field(
        default_factory=lambda: ["moderator", "broadcaster", "owner", "host"]
    )
    trusted_authors: list[str] = Field(default_factory=list, max_length=10_000)

    @field_validator("banned_terms")
    @classmethod
    def _no_duplicate_terms(cls, terms: list[BannedTerm]) -> list[BannedTerm]:
        seen: dict[tuple[str, bool], int] = {}
        for index, banned in enumerate(terms):
            key = (normalize(banned.term), banned.whole_word)
            first = seen.setdefault(key, index)
            if first != index:
                raise ValueError(
                    f"banned_terms.{index} ({banned.term!r}) is the same term as "
                    f"banned_terms.{first} ({terms[first].term!r}) once normalized; "
                    "keep one of them"
                )
        return terms

    @field_validator("exempt_roles")
    @classmethod
    def _roles_lowercase(cls, roles: list[str]) -> list[str]:
        cleaned = [role.strip().lower() for role in roles]
        if not all(cleaned):
            raise ValueError("a role is blank; remove it")
        return cleaned

    @field_validator("trusted_authors")
    @classmethod
    def _authors_present(cls, authors: list[str]) -> list[str]:
        if not all(author.strip() for author in authors):
            raise ValueError("an author id is blank; remove it")
        return authors


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per problem, each starting with the field path: "flood.per_seconds: ..."."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "rules"
        lines.append(f"{where}: {error['msg']}")
    return lines
