"""Each event's stored rule set: read by the pipeline, edited from the console."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.models import User
from app.chat.rules_model import ModerationRules
from app.errors import AppError, VersionConflict
from app.moderation.rules import RuleSet, describe_errors

# An event nobody configured runs no automatic moderation (and costs nothing per line).
NO_RULES: dict[str, Any] = {"banned_terms": [], "flood": None, "spam": None}


class InvalidRules(AppError):
    status_code = 422
    code = "invalid_rules"


async def current(session: AsyncSession, event_id: str) -> tuple[int, RuleSet]:
    row = await session.get(ModerationRules, event_id, populate_existing=True)
    if row is None:
        return 0, RuleSet.model_validate(NO_RULES)
    return row.version, RuleSet.model_validate(row.rules)


def parse(rules: Any) -> RuleSet:
    try:
        return RuleSet.model_validate(rules)
    except ValidationError as exc:
        lines = describe_errors(exc)
        raise InvalidRules("fix these rules: " + "; ".join(lines), details=lines) from None


async def replace(
    session: AsyncSession, event_id: str, version: int, rules: RuleSet, actor: User | str
) -> tuple[int, RuleSet]:
    """Stores a new rule set if `version` is still current (409 with the current one if not)."""
    row = await session.get(ModerationRules, event_id)
    stored_version = row.version if row else 0
    if version != stored_version:
        cur_version, cur_rules = await current(session, event_id)
        raise VersionConflict(
            "the rules changed since you loaded them: review the current ones",
            current={"version": cur_version, "rules": cur_rules.model_dump(mode="json")},
        )
    before = row.rules if row else None
    payload = rules.model_dump(mode="json")
    if row is None:
        row = ModerationRules(event_id=event_id, rules=payload, version=1)
        session.add(row)
    else:
        row.rules, row.version, row.updated_at = payload, row.version + 1, datetime.now(UTC)
    audit.record(
        session,
        event_id=event_id,
        actor=actor,
        action="moderation_rules",
        target_type="event",
        target_id=event_id,
        before=before,
        after=payload,
    )
    await session.flush()
    return row.version, rules
