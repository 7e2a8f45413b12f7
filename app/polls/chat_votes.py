"""Chat voting: `!vote 2`, `!2`, `!vote 1 3`, `!b`, `!rate 4` read from real chat lines.

Only a line that is the command and nothing else counts (trailing emoji and punctuation
are tolerated, words are not): `!2nd place lol`, `I vote 2` and links stay plain chat.
"""

from __future__ import annotations

import re
import unicodedata

from app.polls.models import PollKind

RATING_MAX = 5
LETTERS = "abcdefghij"  # up to 10 options
_CHOICE = r"(?:\d{1,2}|[a-j])"
# "!vote 1 3", "!vote 1,3", "!v 2", "!vote: 2"; "!rate 4", "!rate 4/5"; "!2", "!b"
_COMMAND = re.compile(
    rf"""^!\s?(?:
        (?P<verb>vote|v|rate)\s*:?\s+(?P<list>{_CHOICE}(?:\s*[,;&\s]\s*{_CHOICE})*)(?:\s*/\s*5)?
        | (?P<short>{_CHOICE})
    )(?P<rest>.*)$""",
    re.IGNORECASE | re.VERBOSE,
)


def _tail_is_noise(rest: str) -> bool:
    """What may follow the command: emoji, punctuation, spaces; no words, no numbers."""
    return not any(unicodedata.category(c)[0] in "LN" for c in rest)


def parse_vote(text: str, kind: PollKind, option_count: int) -> list[int] | None:
    """The positions (a rating: [1..5]) a chat line votes for, or None if it is no vote."""
    line = unicodedata.normalize("NFKC", text).strip()  # fullwidth digits and "!" too (IME input)
    if not line.startswith("!"):
        return None
    match = _COMMAND.match(line)
    if match is None or not _tail_is_noise(match["rest"]):
        return None
    if match["verb"] and match["verb"].lower() == "rate" and kind is not PollKind.rating:
        return None
    raw = match["short"] or match["list"]
    tokens = re.findall(_CHOICE, raw, re.IGNORECASE)
    choices: list[int] = []
    for token in tokens:
        if token.isdigit():
            choices.append(int(token))
        elif kind is PollKind.rating:
            return None  # "!b" on a 1..5 rating means nothing
        else:
            choices.append(LETTERS.index(token.lower()) + 1)
    return valid_choices(choices, kind, option_count)


def valid_choices(choices: list[int], kind: PollKind, option_count: int) -> list[int] | None:
    """The choices as stored (sorted, distinct), or None when the poll cannot take them."""
    distinct = sorted(set(choices))
    if not distinct:
        return None
    top = RATING_MAX if kind is PollKind.rating else option_count
    if distinct[0] < 1 or distinct[-1] > top:
        return None
    if kind is not PollKind.multiple and len(distinct) != 1:
        return None
    return distinct


def why_invalid(choices: object, kind: PollKind, option_count: int) -> str | None:
    """Why a ballot's choices do not fit the poll (None if they do), for the dead letter."""
    if not isinstance(choices, list) or not choices:
        return "choices must be a non-empty list of option positions"
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in choices):
        return "choices must be integers (option positions, 1-based)"
    if valid_choices(choices, kind, option_count) is not None:
        return None
    if kind is PollKind.rating:
        return f"a rating takes exactly one value from 1 to {RATING_MAX}"
    if kind is PollKind.single and len(set(choices)) > 1:
        return "this poll takes a single choice"
    return f"choices must be between 1 and {option_count}"
