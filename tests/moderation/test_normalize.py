# Look-alike characters are this file's subject, so ruff's ambiguous-character checks are off.
# ruff: noqa: RUF001, RUF003

import re

import pytest

from app.moderation.normalize import (
    collapse_repeats,
    fold,
    normalize,
    repeat_key,
    skeleton,
    term_pattern,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Free Crypto", "free crypto"),
        ("ｆｒｅｅ ｃｒｙｐｔｏ", "free crypto"),  # fullwidth
        ("𝐟𝐫𝐞𝐞 𝒄𝒓𝒚𝒑𝒕𝒐", "free crypto"),  # math alphabets
        ("ⓕⓡⓔⓔ", "free"),  # circled
        ("🅵🆁🅴🅴", "free"),  # negative squared, no NFKD mapping
        ("fr\u200bee cr\u200dy\u2060pto\ufeff", "free crypto"),  # zero-width
        ("fr\u00adee", "free"),  # soft hyphen
        ("frée crÿptö", "free crypto"),  # accents
        ("fre\u0336e\u0337", "free"),  # Zalgo-style combining overlays
        ("frее сrурtо", "free crypto"),  # Cyrillic е с р у о
        ("ѕрαм", "spam"),  # Cyrillic ѕ р, Greek α, Cyrillic м
        ("fr33 crypt0", "free crypto"),
        ("$p@m", "spam"),
        ("sh!t", "shit"),
        ("s_p_a_m", "spam"),
        ("s.p.a.m", "spam"),
        ("s p a m", "spam"),
        ("f r e e  c r y p t o", "free crypto"),  # a wide gap stays a word break
    ],
)
def test_normalize_defeats_evasions(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_one_i_l_and_pipe_are_one_letter() -> None:
    assert normalize("k1ll") == normalize("kill") == normalize("KiLL") == normalize("k|ll")


def test_ordinary_text_keeps_its_words_and_punctuation() -> None:
    assert normalize("Great talk, thanks!") == "great taik, thanks!"
    assert normalize("it's pam") == "it's pam"
    assert normalize("I am here") == "i am here"


def test_fold_keeps_case_insensitive_text_without_leet() -> None:
    assert fold("ＨＴＴＰＳ://Example.COM") == "https://example.com"
    assert fold("r3ply") == "r3ply"
    assert skeleton(fold("r3ply")) == "repiy"


def test_collapse_repeats_and_repeat_key() -> None:
    assert collapse_repeats("spaaaam!!!") == "spam!"
    assert repeat_key(normalize("BUY NOW!!!")) == repeat_key(normalize("buuuy   now"))
    assert repeat_key(normalize("buy now")) != repeat_key(normalize("buy later"))
    assert repeat_key(normalize("🔥🔥🔥")) == "🔥"


def test_term_pattern_needs_at_least_as_many_repeated_letters() -> None:
    pattern = re.compile(term_pattern("ass", whole_word=True))
    assert pattern.search(normalize("aaassss"))
    assert not pattern.search(normalize("as"))


def test_term_pattern_rejects_an_invisible_term() -> None:
    with pytest.raises(ValueError, match="nothing is left to match"):
        term_pattern("\u200b\u200d", whole_word=True)


def test_long_runs_are_cut_to_eight_and_still_match() -> None:
    assert normalize("spa" + "a" * 50 + "m") == "sp" + "a" * 8 + "m"
    pattern = re.compile(term_pattern("spam", whole_word=True))
    assert pattern.search(normalize("sp" + "a" * 500 + "m"))
    assert pattern.search(normalize("s" + ".s" * 40 + "pam"))  # joined, then cut
