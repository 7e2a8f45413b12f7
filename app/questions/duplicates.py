"""Merge suggestions as questions arrive: one near-duplicate index per event per worker."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import select

from app.db import Database
from app.questions.models import Question
from app.questions.repository import NOT_MERGED, OPEN_STATES
from app.questions.similarity import DuplicateIndex, Signature, signature

SYNC_S = 5.0  # questions other workers stored reach this worker's index this often
# The index scans shared words; bounding it to the recent open questions bounds a lookup
# (an event rarely has more open questions than this).
INDEX_QUESTIONS = 2_000
INDEX_SCORED = 48


class EventDuplicates:
    """An event's open questions, indexed; kept in step with the store incrementally."""

    def __init__(self) -> None:
        self.index: DuplicateIndex[str] = DuplicateIndex(
            max_questions=INDEX_QUESTIONS, max_scored=INDEX_SCORED
        )
        # Verbatim re-asks (copy-paste, the same words) are the common case: found by the
        # normalised text alone, without a fuzzy scan.
        self.exact: dict[frozenset[str], str] = {}
        self.synced_until: datetime | None = None
        self.synced_at = 0.0

    def suggest(self, question_id: str, text: str) -> tuple[str, float] | None:
        """The best earlier open question this one re-asks, then indexes it."""
        sig = signature(text)
        key = frozenset(sig.terms)
        first = self.exact.get(key) if key else None
        if first is not None and first != question_id and first in self.index:
            return first, 1.0
        found = self.index.candidates(sig, limit=1, exclude=question_id)
        self._add(question_id, sig)
        return found[0] if found else None

    def _add(self, question_id: str, sig: Signature) -> None:
        self.index.add(question_id, sig)
        if sig.terms:
            self.exact.setdefault(frozenset(sig.terms), question_id)
        if len(self.exact) > 4 * INDEX_QUESTIONS:  # bounded like the index
            self.exact.clear()


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
                NOT_MERGED,
            )
            if entry.synced_until is not None:
                query = query.where(Question.received_at > entry.synced_until)
            async with self.db.sessions() as session:
                rows = (await session.execute(query.order_by(Question.received_at))).all()
            for question_id, text, received_at in rows:
                if question_id not in entry.index:
                    entry._add(question_id, signature(text))
                entry.synced_until = received_at
        return entry
