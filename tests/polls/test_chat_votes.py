"""Chat-vote parsing on lines as chat really writes them."""

from __future__ import annotations

import pytest

from app.polls.chat_votes import parse_vote, why_invalid
from app.polls.models import PollKind

S, M, R = PollKind.single, PollKind.multiple, PollKind.rating

CASES = [
    # (line, kind, options, expected)
    ("!vote 2", S, 3, [2]),
    ("!2", S, 3, [2]),
    ("  !VOTE   3  ", S, 3, [3]),
    ("!Vote: 1", S, 3, [1]),
    ("!v 2", S, 3, [2]),
    ("!b", S, 3, [2]),
    ("!vote A", S, 3, [1]),
    ("!C", S, 3, [3]),
    ("!vote 2 🔥🔥", S, 3, [2]),
    ("!2!!", S, 3, [2]),
    ("\uff01\uff12", S, 3, [2]),  # fullwidth, as a Japanese IME types it
    ("!vote 1 3", M, 4, [1, 3]),
    ("!vote 3,1", M, 4, [1, 3]),
    ("!vote 1, 3 & 4", M, 4, [1, 3, 4]),
    ("!vote 2 2", M, 4, [2]),
    ("!vote a c", M, 4, [1, 3]),
    ("!rate 4", R, 0, [4]),
    ("!rate 4/5", R, 0, [4]),
    ("!vote 5", R, 0, [5]),
    ("!4", R, 0, [4]),
    # not votes: plain chat, or commands this poll cannot take
    ("!2nd place lol", S, 3, None),
    ("I vote 2", S, 3, None),
    ("vote 2", S, 3, None),
    ("2", S, 3, None),
    ("@streamer !vote 2", S, 3, None),
    ("!vote 2 PogChamp", S, 3, None),
    ("!vote 2 https://spam.example/win", S, 3, None),
    ("https://example.com/!2", S, 3, None),
    ("!vote", S, 3, None),
    ("!vote 4", S, 3, None),  # out of range
    ("!0", S, 3, None),
    ("!vote 1 3", S, 3, None),  # several on a single-choice poll
    ("!d", S, 3, None),
    ("!hi everyone", S, 3, None),
    ("!rate 4", S, 3, None),
    ("!rate 6", R, 0, None),
    ("!b", R, 0, None),
    ("!vote 1 3", R, 0, None),
    ("!!!", S, 3, None),
    ("!ban @troll", S, 3, None),
    ("", S, 3, None),
]


@pytest.mark.parametrize(("line", "kind", "options", "expected"), CASES)
def test_chat_vote_parsing(
    line: str, kind: PollKind, options: int, expected: list[int] | None
) -> None:
    assert parse_vote(line, kind, options) == expected


def test_why_a_ballot_does_not_fit() -> None:
    assert why_invalid([2], S, 3) is None
    assert "single choice" in (why_invalid([1, 2], S, 3) or "")
    assert "between 1 and 3" in (why_invalid([4], S, 3) or "")
    assert "1 to 5" in (why_invalid([6], R, 0) or "")
    assert "non-empty list" in (why_invalid("2", S, 3) or "")
    assert "integers" in (why_invalid([True], S, 3) or "")
