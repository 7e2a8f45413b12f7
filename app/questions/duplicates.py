"""Merge suggestions as questions arrive: one near-duplicate index per event per worker."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import select

from app.db import Database
from app.questions.models import Question
from app.questions.repository import OPEN_STATES
from app.questions.similarity import DuplicateIndex

SYNC_S = 5.0  # questions other workers stored reach this worker's index this often


class EventDuplicates:
    """An event's open questions, indexed; kept in step with the store incrementally."""

    def __init__(self) -> None:
        self.index: DuplicateIndex[str] = DuplicateIndex()
        self.synced_until: datetime | None = None
        self.synced_at = 0.0

    def suggest(self, question_id: str, text: str) -> tuple[str, float] | None:
        """The best earlier open question this one re-asks, then indexes it."""
        found = self.index.candidates(text, limit=1, exclude=question_id)
        self.index.add(question_id, text)
        return found[0] if found else None


class DuplicateFinder:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.events: dict[str, EventDuplicates] = {}

    async def for_event(self, event_id: str) -> EventDuplicates:
        entry = self.events.setdefault(event_id, EventDuplicates())
        now = time.monotonic()
        if now - entry.synced_at >= SYNC_S:
            entry.synced_at = now
            query = select(Question.id, Question.text, Question.received_at).where(
                Question.event_id == event_id,
                Question.state.in_(OPEN_STATES),
                Question.merged_into_id.is_(None),
            )
            if entry.synced_until is not None:
                query = query.where(Question.received_at > entry.synced_until)
            async with self.db.sessions() as session:
                rows = (await session.execute(query.order_by(Question.received_at))).all()
            for question_id, text, received_at in rows:
                if question_id not in entry.index:
                    entry.index.add(question_id, text)
                entry.synced_until = received_at
        return entry
