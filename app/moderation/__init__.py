"""Automatic chat moderation: rule sets, text normalization, the per-line engine."""

from app.moderation.engine import ChatInput, Decision, FloodTracker, ModerationEngine
from app.moderation.rules import BannedTerm, FloodRule, RuleSet, SpamRule, describe_errors

__all__ = [
    "BannedTerm",
    "ChatInput",
    "Decision",
    "FloodRule",
    "FloodTracker",
    "ModerationEngine",
    "RuleSet",
    "SpamRule",
    "describe_errors",
]
