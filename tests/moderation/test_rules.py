# Look-alike characters are this file's subject, so ruff's ambiguous-character checks are off.
# ruff: noqa: RUF001

import pytest
from pydantic import ValidationError

from app.moderation.rules import FloodRule, RuleSet, SpamRule, describe_errors


def errors_of(payload: dict[str, object]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        RuleSet.model_validate(payload)
    return describe_errors(caught.value)


def test_defaults_turn_flood_and_spam_on() -> None:
    rules = RuleSet.model_validate({})
    assert rules.flood == FloodRule()
    assert rules.spam == SpamRule()
    assert rules.flood.max_messages == 5
    assert rules.exempt_roles == ["moderator", "broadcaster", "owner", "host"]


def test_null_turns_a_rule_off_and_json_round_trips() -> None:
    rules = RuleSet.model_validate_json(
        '{"banned_terms": [{"term": "free crypto", "action": "hold"}],'
        ' "flood": null, "spam": {"threshold": 0.5}}'
    )
    assert rules.flood is None
    assert rules.spam is not None and rules.spam.threshold == 0.5
    assert rules.banned_terms[0].whole_word is True
    assert RuleSet.model_validate_json(rules.model_dump_json()) == rules


def test_unknown_action_names_the_field() -> None:
    lines = errors_of({"banned_terms": [{"term": "spam", "action": "delete"}]})
    assert len(lines) == 1
    assert lines[0].startswith("banned_terms.0.action: ")
    assert "'hide', 'hold' or 'flag'" in lines[0]


@pytest.mark.parametrize("term", ["   ", "\u200b\u200c", ""])
def test_blank_or_invisible_term_names_the_field(term: str) -> None:
    lines = errors_of(
        {
            "banned_terms": [
                {"term": "ok term", "action": "flag"},
                {"term": term, "action": "hide"},
            ]
        }
    )
    assert len(lines) == 1
    assert lines[0].startswith("banned_terms.1.term: ")


def test_duplicate_after_normalization_names_both_entries() -> None:
    lines = errors_of(
        {
            "banned_terms": [
                {"term": "spam", "action": "hold"},
                {"term": "crypto", "action": "hold"},
                {"term": "ЅРАМ", "action": "hide"},  # Cyrillic capitals
            ]
        }
    )
    assert len(lines) == 1
    assert lines[0].startswith("banned_terms: ")
    assert "banned_terms.2 ('ЅРАМ') is the same term as banned_terms.0 ('spam')" in lines[0]


def test_same_term_whole_word_and_substring_may_coexist() -> None:
    rules = RuleSet.model_validate(
        {
            "banned_terms": [
                {"term": "spam", "action": "flag"},
                {"term": "spam", "action": "hide", "whole_word": False},
            ]
        }
    )
    assert len(rules.banned_terms) == 2


def test_misspelt_key_is_rejected_not_ignored() -> None:
    lines = errors_of({"banned_terms": [{"term": "x1", "action": "flag", "whole_words": False}]})
    assert lines == ["banned_terms.0.whole_words: Extra inputs are not permitted"]


def test_flood_and_spam_limits_name_the_field() -> None:
    lines = errors_of(
        {"flood": {"per_seconds": 0, "max_messages": 1000}, "spam": {"threshold": 1.5}}
    )
    fields = sorted(line.split(":")[0] for line in lines)
    assert fields == ["flood.max_messages", "flood.per_seconds", "spam.threshold"]


def test_roles_are_lowercased_and_blank_ones_rejected() -> None:
    assert RuleSet(exempt_roles=[" VIP ", "Moderator"]).exempt_roles == ["vip", "moderator"]
    assert errors_of({"exempt_roles": ["mod", " "]})[0].startswith("exempt_roles: ")
    assert errors_of({"trusted_authors": [""]})[0].startswith("trusted_authors: ")
