"""Is this chat line a question? Cheap rules, run on every message."""

from __future__ import annotations

import re

# URLs (and bare domains with a path) are removed first: their "?" starts a query string.
_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)+/\S*", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]{2,}")
_QA_PREFIX = re.compile(r"^\s*(?:q|question)\s*[:\-]", re.IGNORECASE)


def is_question(text: str | None) -> bool:
    """A question mark after real words (not in a URL), or an explicit "Q:" prefix."""
    if not text:
        return False
    if _QA_PREFIX.match(text):
        return True
    stripped = _URL.sub(" ", text)
    if "?" not in stripped:
        return False
    # "???" or "ok?" alone are reactions, not questions for the host.
    before_mark = stripped[: stripped.rfind("?")]
    return len(_WORD.findall(before_mark)) >= 2
