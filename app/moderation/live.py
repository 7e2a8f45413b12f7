"""What the pipeline keeps per event for automatic moderation: the engine, first-timers."""

from __future__ import annotations

import time
from collections import OrderedDict

from sqlalchemy import select

from app.chat.rules_model import ModerationRules
from app.db import Database
from app.moderation import store
from app.moderation.engine import ModerationEngine
from app.moderation.rules import RuleSet

REFRESH_S = 2.0  # how soon a rule edit in the console applies, without a restart
SEEN_AUTHORS = 100_000  # per event: bounded, the oldest forgotten first


def _is_empty(rules: RuleSet) -> bool:
    return not rules.banned_terms and rules.flood is None and rules.spam is None


class EventRules:
    """One event's engine (None when it has no rules) and the authors seen so far."""

    __slots__ = ("checked_at", "engine", "seen", "version")

    def __init__(self) -> None:
        self.version = -1
        self.engine: ModerationEngine | None = None
        self.checked_at = 0.0
        self.seen: OrderedDict[str, None] = OrderedDict()

    def first_time(self, author_id: str) -> bool:
        """True for an author's first line this worker has seen in this event."""
        if author_id in self.seen:
            self.seen.move_to_end(author_id)
            return False
        self.seen[author_id] = None
        if len(self.seen) > SEEN_AUTHORS:
            self.seen.popitem(last=False)
        return True


class RuleCache:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.events: dict[str, EventRules] = {}

    async def get(self, event_id: str) -> EventRules:
        entry = self.events.setdefault(event_id, EventRules())
        now = time.monotonic()
        if now - entry.checked_at < REFRESH_S:
            return entry
        entry.checked_at = now
        async with self.db.sessions() as session:
            version = await session.scalar(
                select(ModerationRules.version).where(ModerationRules.event_id == event_id)
            )
            version = version or 0
            if version != entry.version:
                _, rules = await store.current(session, event_id)
                if _is_empty(rules):
                    entry.engine = None
                elif entry.engine is None:
                    entry.engine = ModerationEngine(rules)
                else:  # keeps each author's flood history across the edit
                    entry.engine = entry.engine.with_rules(rules)
                entry.version = version
        return entry
