"""Text normalization for rule matching, built to defeat the usual chat evasions.

`fold(text)` is the Unicode clean-up every rule can use; `skeleton(folded)` goes on to
merge look-alike characters, so that a banned term and its disguised spellings end up as
the same string. Both are one or two C-level passes (`unicodedata.normalize`,
`str.translate`, a regex), with a fast path for plain ASCII, because they run on every
chat line.

The steps, in order, and why each is there:

1. NFKD: compatibility folding, the part of NFKC that matters here (fullwidth
   "ｆｒｅｅ", math alphabets "𝐟𝐫𝐞𝐞", circled and parenthesized letters, ligatures);
   the decomposed form also splits accents off their letters so step 3 can drop them.
2. casefold: "FREE", "Free" and "ﬀ" compare equal; stronger than lower() for "ß", "ſ".
3. drop format characters (category Cf: zero-width space/joiners U+200B..U+200F,
   U+2060..U+2064, BOM U+FEFF, soft hyphen, bidi controls, tag characters), blank
   fillers (Hangul fillers), and combining marks (Mn/Me: accents, Zalgo, variation
   selectors): they are invisible or decorative, so inserting them must not hide a word.
4. confusables: Cyrillic, Greek, Armenian, small-capital and enclosed letters that look
   like Latin ones ("а е о р с х у і ѕ", "α ο ρ", "🅵") become that Latin letter,
   because a reader sees the Latin word.
5. leetspeak: 0→o 1→i 3→e 4→a 5→s 7→t @→a $→s |→i, and "!" between letters →i,
   because "fr33 crypt0" reads as "free crypto". "1" reads as either i or l, so "l"
   itself folds to "i" too (1, l, i, | are one letter to the matcher; both the term and
   the text are folded the same way, so "kill", "k1ll" and "kiII" all match "kill").
6. "_" becomes "-": an underscore is a separator to a reader, and after this `\\w`
   in a pattern means exactly "letter or digit".
7. spaced-out letters are joined: a run of three or more single characters with short
   separators between them ("s p a m", "s.p.a.m", "f-r-e-e") becomes one word ("spam"),
   and a gap of two or more spaces inside such a run stays a word break, so
   "f r e e  c r y p t o" becomes "free crypto". Limitation: a real one-letter word
   just before the run is joined to it ("a s p a m" → "aspam").
8. a run of more than 8 equal characters is cut to 8: a reader sees "many", and it
   keeps matching linear on a line of 2000 "a"s.

Repeated letters ("spaaaam") are otherwise not collapsed in the text. Instead
`term_pattern` turns each run of n equal letters in a banned term into "n or more of
that letter", so "spaaaam" matches "spam" while "as" does not match "ass". Separators
inside a word ("sp.am", "fr-ee") are allowed between letters, up to three at a time.
"""

# Look-alike characters are this file's subject, so ruff's ambiguous-character checks are off.
# ruff: noqa: RUF001, RUF002

from __future__ import annotations

import itertools
import re
import unicodedata
from itertools import groupby

# Look-alikes of Latin letters, keyed by their casefolded form (step 4).
_CONFUSABLES = {
    # Cyrillic
    "а": "a",
    "в": "b",
    "е": "e",
    "з": "3",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "п": "n",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "х": "x",
    "ь": "b",
    "ѕ": "s",
    "і": "i",
    "ј": "j",
    "ӏ": "i",
    "ԁ": "d",
    "һ": "h",
    "ԛ": "q",
    "ԝ": "w",
    "ү": "y",
    # Greek
    "α": "a",
    "β": "b",
    "γ": "y",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "μ": "u",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "σ": "o",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ω": "w",
    "ϲ": "c",
    "ϳ": "j",
    # Armenian
    "օ": "o",
    "ս": "u",
    "ո": "n",
    "հ": "h",
    # Latin variants and small capitals
    "ı": "i",
    "ȷ": "j",
    "ɑ": "a",
    "ɡ": "g",
    "ɩ": "i",
    "ʀ": "r",
    "ʏ": "y",
    "ᴀ": "a",
    "ʙ": "b",
    "ᴄ": "c",
    "ᴅ": "d",
    "ᴇ": "e",
    "ɢ": "g",
    "ʜ": "h",
    "ɪ": "i",
    "ᴊ": "j",
    "ᴋ": "k",
    "ʟ": "l",
    "ᴍ": "m",
    "ɴ": "n",
    "ᴏ": "o",
    "ᴘ": "p",
    "ꜱ": "s",
    "ᴛ": "t",
    "ᴜ": "u",
    "ᴠ": "v",
    "ᴡ": "w",
    "ᴢ": "z",
}

# Step 5; "l" is here because "1" stands for both i and l.
_LEET = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "@": "a",
    "$": "s",
    "|": "i",
    "¡": "i",
    "€": "e",
    "l": "i",
    "_": "-",
}

# Blank "letters" that render as nothing and are used to pad words apart.
_INVISIBLE_LETTERS = (0x115F, 0x1160, 0x3164, 0xFFA0)
_STRIPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf"})


def _build_fold_table() -> dict[int, None]:
    """Code points that step 3 deletes (planes 0-1 and the tag/variation-selector block)."""
    table: dict[int, None] = {}
    for code in itertools.chain(range(0x20000), range(0xE0000, 0xE1000)):
        if unicodedata.category(chr(code)) in _STRIPPED_CATEGORIES:
            table[code] = None
    for code in _INVISIBLE_LETTERS:
        table[code] = None
    return table


def _build_skeleton_table() -> dict[int, str]:
    table = {ord(k): v for k, v in _CONFUSABLES.items()}
    # Enclosed letters without a compatibility decomposition: regional indicators,
    # negative circled and negative squared capitals.
    for first in (0x1F1E6, 0x1F150, 0x1F170):
        for offset in range(26):
            table[first + offset] = chr(ord("a") + offset)
    # Confusables that land on a leet character continue to its letter ("з" → "3" → "e").
    table.update({ord(k): v for k, v in _LEET.items()})
    return {code: _LEET.get(value, value) for code, value in table.items()}


_FOLD_TABLE = _build_fold_table()
_SKELETON_TABLE = _build_skeleton_table()

_BANG_IN_WORD = re.compile(r"(?<=\w)!+(?=\w)")
# Three or more one-character tokens, each gap one to three separators; the cheaper
# two-token search rules most lines out first.
_SPACED_LETTERS = re.compile(r"\b\w(?:\W{1,3}\w\b){2,}")
_TWO_SPACED_LETTERS = re.compile(r"\b\w\W{1,3}\w\b")
_WIDE_GAP = re.compile(r"\s{2,}")
_NON_WORD = re.compile(r"\W+")
MAX_RUN = 8
_LONG_RUN = re.compile(rf"(.)\1{{{MAX_RUN},}}")
# The repeats after a character's first occurrence (a lookbehind, so "" replaces them).
_REPEATED_CHAR = re.compile(r"(?<=(.))\1+")

# Between two letters of a word: up to three separators that are not whitespace.
_IN_WORD_GAP = r"[^\w\s]{0,3}"
# Between two words of a term: any separators, or none ("freecrypto").
_WORD_GAP = r"\W*"


def fold(text: str) -> str:
    """Steps 1-3: compatibility-folded, casefolded, invisible characters and accents dropped."""
    if text.isascii():
        # ASCII is its own NFKD and holds no format characters or combining marks.
        return text.lower()
    return unicodedata.normalize("NFKD", text).casefold().translate(_FOLD_TABLE)


def skeleton(folded: str) -> str:
    """Steps 4-8 on a `fold()`ed string: the form banned terms are matched against."""
    if "!" in folded:
        folded = _BANG_IN_WORD.sub("i", folded)
    result = folded.translate(_SKELETON_TABLE)
    if _TWO_SPACED_LETTERS.search(result):
        result = _SPACED_LETTERS.sub(_join_spaced, result)
    return _LONG_RUN.sub(_cut_run, result)


def normalize(text: str) -> str:
    """All steps: `skeleton(fold(text))`."""
    return skeleton(fold(text))


def _cut_run(match: re.Match[str]) -> str:
    return match.group(1) * MAX_RUN


def _join_spaced(match: re.Match[str]) -> str:
    return " ".join(_NON_WORD.sub("", part) for part in _WIDE_GAP.split(match.group()))


def collapse_repeats(text: str) -> str:
    """Each run of one repeated character becomes one ("spaaam!!!" → "spam!")."""
    return _REPEATED_CHAR.sub("", text)


def repeat_key(normalized: str) -> str:
    """What counts as "the same message" for flood repeats: letters only, runs collapsed."""
    letters = _NON_WORD.sub("", normalized)
    return collapse_repeats(letters or "".join(normalized.split()))


def term_pattern(term: str, *, whole_word: bool) -> str:
    """The regex source that finds `term` in `normalize()`d text; ValueError if nothing is left."""
    normalized = normalize(term)
    words = re.findall(r"\w+", normalized)
    if not words:
        # A term of symbols only (an emoji): matched as written, wherever it appears.
        symbols = "".join(normalized.split())
        if not symbols:
            raise ValueError("nothing is left to match once invisible characters are removed")
        return re.escape(symbols)
    body = _WORD_GAP.join(_word_pattern(word) for word in words)
    return rf"\b{body}\b" if whole_word else body


def _word_pattern(word: str) -> str:
    parts = []
    for char, run in groupby(word):
        letter = re.escape(char)
        count = sum(1 for _ in run)
        # n equal letters in the term: n or more in the text. Possessive, because the
        # next letter always differs, so giving one back can never help a match; bounded,
        # so that each start position scans a bounded stretch ("ss.ss.ss..." stays linear).
        parts.append(
            f"{letter}(?:{_IN_WORD_GAP}{letter}){{{count - 1},{count - 1 + 2 * MAX_RUN}}}+"
        )
    return _IN_WORD_GAP.join(parts)
