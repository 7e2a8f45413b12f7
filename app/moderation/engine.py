"""Applies one event's RuleSet to each chat line: banned terms, flood, spam score.

Built once per rule set (patterns compiled up front) and called by the pipeline on every
chat line, so `decide` does a few C-level passes over the text and nothing else. Not
thread-safe: one engine belongs to one event loop.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Literal

from app.moderation.normalize import fold, repeat_key, skeleton, term_pattern
from app.moderation.rules import FLOOD_HISTORY, Action, BannedTerm, FloodRule, RuleSet, SpamRule

Verdict = Literal["allow", "hide", "hold", "flag"]

_STRENGTH: dict[str, int] = {"allow": 0, "flag": 1, "hold": 2, "hide": 3}
_PAST_TENSE = {"hide": "hidden", "hold": "held", "flag": "flagged"}

DEFAULT_MAX_AUTHORS = 50_000

_LINK = re.compile(
    r"(?:https?://|www\.)\S+"
    # A bare domain is found by its last label and TLD only ("docs.example.com" counts once
    # as "example.com"): matching every label backtracks quadratically on "a.a.a.a...".
    r"|\b[a-z0-9-]++\.(?:com|net|org|io|co|ly|gg|xyz|me|tv|ru|cn|info|biz"
    r"|link|click|top|app|site|online|shop|live|store|cc|to|ws|su|icu|vip|fun|bet)\b(?:/\S*)?",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w{2,}")
# A repeated word must also be this share of the message's words: "the" four times in
# a long question is grammar, "buy" three times in "buy buy buy now" is not.
_REPEATED_WORD_SHARE = 0.4
_ASCII_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_LETTERS = _ASCII_UPPER + _ASCII_UPPER.lower()


@dataclass(frozen=True, slots=True)
class ChatInput:
    """What the engine needs to know about one chat line."""

    author_id: str
    author_roles: tuple[str, ...]
    text: str
    first_time: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one chat line; reasons are human-readable, rule ids are stable keys."""

    action: Verdict
    reasons: list[str] = field(default_factory=list)
    rule_ids: list[str] = field(default_factory=list)

    @property
    def hidden(self) -> bool:
        return self.action == "hide"

    @property
    def held(self) -> bool:
        return self.action == "hold"

    @property
    def flagged(self) -> bool:
        return self.action == "flag"

    @property
    def reason(self) -> str:
        """All reasons on one line, strongest first ("" when nothing matched)."""
        return "; ".join(self.reasons)


@dataclass(slots=True)
class _Finding:
    action: Action
    reason: str
    rule_id: str


class _History:
    """One author's recent messages: arrival times (non-decreasing) and text-key hashes."""

    __slots__ = ("keys", "times")

    def __init__(self) -> None:
        # Typed arrays: 8 bytes an entry and no per-entry objects, for 50k authors.
        self.times = array("d")
        self.keys = array("q")


class FloodTracker:
    """Recent messages per author, keeping at most max_authors (least recently active go first)."""

    def __init__(self, max_authors: int = DEFAULT_MAX_AUTHORS) -> None:
        self.max_authors = max_authors
        self._authors: OrderedDict[str, _History] = OrderedDict()

    def __len__(self) -> int:
        return len(self._authors)

    def record(self, author_id: str, now: float, key: int, keep_s: float) -> _History:
        """Adds a message, forgets those older than keep_s, returns the author's history."""
        history = self._authors.get(author_id)
        if history is None:
            history = self._authors[author_id] = _History()
            if len(self._authors) > self.max_authors:
                self._authors.popitem(last=False)
        else:
            self._authors.move_to_end(author_id)
        times, keys = history.times, history.keys
        if times:
            # A line stamped earlier than the last one counts as arriving with it, which
            # keeps times sorted for bisect.
            now = max(now, times[-1])
            stale = bisect_right(times, now - keep_s)
            stale = max(stale, len(times) + 1 - FLOOD_HISTORY)
            if stale:
                del times[:stale]
                del keys[:stale]
        times.append(now)
        keys.append(key)
        return history


class ModerationEngine:
    """Compiled form of one RuleSet; `decide` is called once per chat line."""

    def __init__(self, rules: RuleSet, *, flood_tracker: FloodTracker | None = None) -> None:
        self.rules = rules
        self.flood_tracker = FloodTracker() if flood_tracker is None else flood_tracker
        self._exempt_roles = frozenset(rules.exempt_roles)
        self._trusted = frozenset(rules.trusted_authors)
        self._terms: list[tuple[BannedTerm, re.Pattern[str]]] = []
        sources = []
        for banned in rules.banned_terms:
            source = term_pattern(banned.term, whole_word=banned.whole_word)
            self._terms.append((banned, re.compile(source)))
            sources.append(source)
        # One search answers "any term at all?" for the clean majority of lines; the
        # per-term patterns run only after a hit, to name every term that matched.
        self._any_term = re.compile("|".join(sources)) if sources else None
        self._flood = rules.flood
        self._spam: tuple[SpamRule, re.Pattern[str]] | None = None
        if rules.spam is not None:
            run = rules.spam.repeated_char_run
            self._spam = (rules.spam, re.compile(rf"(\S)\1{{{run - 1},}}"))

    def with_rules(self, rules: RuleSet) -> ModerationEngine:
        """A new engine for changed rules that keeps the flood history (swap it in, no restart)."""
        return ModerationEngine(rules, flood_tracker=self.flood_tracker)

    def decide(self, msg: ChatInput, now: float) -> Decision:
        """The verdict on one chat line; `now` is in seconds on a clock that only moves forward."""
        exemption = self._exemption(msg)
        if exemption is not None:
            return Decision("allow", [f"exempt: {exemption}"], ["exempt"])
        folded = fold(msg.text)
        normalized = skeleton(folded)
        findings: list[_Finding] = []
        if self._any_term is not None and self._any_term.search(normalized):
            self._match_terms(normalized, findings)
        if self._flood is not None:
            self._check_flood(self._flood, msg.author_id, normalized, now, findings)
        if self._spam is not None:
            self._check_spam(*self._spam, msg, folded, findings)
        if not findings:
            return Decision("allow")
        # Stable sort: strongest first, rule order within one strength.
        findings.sort(key=lambda f: _STRENGTH[f.action], reverse=True)
        return Decision(
            findings[0].action,
            [f.reason for f in findings],
            [f.rule_id for f in findings],
        )

    def _exemption(self, msg: ChatInput) -> str | None:
        for role in msg.author_roles:
            if role.lower() in self._exempt_roles:
                return role.lower()
        if msg.author_id in self._trusted:
            return "trusted author"
        return None

    def _match_terms(self, normalized: str, findings: list[_Finding]) -> None:
        for banned, pattern in self._terms:
            if pattern.search(normalized):
                findings.append(
                    _Finding(
                        banned.action,
                        f"{_PAST_TENSE[banned.action]}: matched term {banned.term!r}",
                        f"banned_term:{banned.term}",
                    )
                )

    def _check_flood(
        self,
        rule: FloodRule,
        author_id: str,
        normalized: str,
        now: float,
        findings: list[_Finding],
    ) -> None:
        key = hash(repeat_key(normalized))
        keep_s = max(rule.per_seconds, rule.repeat_window_s)
        history = self.flood_tracker.record(author_id, now, key, keep_s)
        times, keys = history.times, history.keys
        latest = times[-1]
        in_rate_window = len(times) - bisect_right(times, latest - rule.per_seconds)
        if in_rate_window > rule.max_messages:
            findings.append(
                _Finding(
                    rule.action,
                    f"{_PAST_TENSE[rule.action]}: {in_rate_window} messages in "
                    f"{rule.per_seconds:g} s from this author",
                    "flood.rate",
                )
            )
        first = bisect_right(times, latest - rule.repeat_window_s)
        repeats = keys.count(key) if first == 0 else keys[first:].count(key)
        if repeats > rule.max_repeats:
            findings.append(
                _Finding(
                    rule.action,
                    f"{_PAST_TENSE[rule.action]}: same message {repeats} times in "
                    f"{rule.repeat_window_s:g} s from this author",
                    "flood.repeat",
                )
            )

    def _check_spam(
        self,
        rule: SpamRule,
        repeated_char: re.Pattern[str],
        msg: ChatInput,
        folded: str,
        findings: list[_Finding],
    ) -> None:
        score = 0.0
        signals: list[str] = []

        text = msg.text
        links = len(_LINK.findall(folded)) if "." in folded or "/" in folded else 0
        if links:
            score += rule.link_weight * min(links, rule.max_links)
            signals.append(f"{links} link" + ("s" if links > 1 else ""))
            # Capitals and words are counted outside links: a URL's letters are not words.
            text, folded = _LINK.sub(" ", text), _LINK.sub(" ", folded)

        letters, capitals = _count_letters(text)
        if letters >= rule.caps_min_letters and capitals:
            ratio = capitals / letters
            if ratio >= rule.caps_min_ratio:
                score += rule.caps_weight * ratio
                signals.append(f"{ratio:.0%} capitals")

        if repeated_char.search(text):
            score += rule.repeated_chars_weight
            signals.append("repeated characters")

        words = _WORD.findall(folded)
        if len(words) >= rule.repeated_word_count and len(set(words)) < len(words):
            _word, count = Counter(words).most_common(1)[0]
            if count >= rule.repeated_word_count and count >= _REPEATED_WORD_SHARE * len(words):
                score += rule.repeated_words_weight
                signals.append("repeated words")

        if msg.first_time:
            score += rule.first_time_weight
            signals.append("first-time author")

        # Rounded as shown, so "spam score 0.70" and a 0.7 threshold agree.
        score = round(min(score, 1.0), 2)
        if score >= rule.threshold:
            findings.append(
                _Finding(
                    rule.action,
                    f"{_PAST_TENSE[rule.action]}: spam score {score:.2f} ({', '.join(signals)})",
                    "spam",
                )
            )


def _count_letters(text: str) -> tuple[int, int]:
    """(letters, capital letters) in text."""
    if text.isascii():
        raw = text.encode("ascii")
        return (
            len(raw) - len(raw.translate(None, _ASCII_LETTERS)),
            len(raw) - len(raw.translate(None, _ASCII_UPPER)),
        )
    return sum(map(str.isalpha, text)), sum(map(str.isupper, text))
