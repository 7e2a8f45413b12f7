"""What the pipeline keeps per event for chat voting: the open poll, re-read briefly."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select

from app.db import Database
from app.polls.models import Poll, PollKind, PollOption, PollState

REFRESH_S = 1.0  # how soon a launch or close reaches chat voting on this worker


@dataclass(frozen=True)
class OpenPoll:
    id: str
    kind: PollKind
    option_count: int


class OpenPollCache:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.events: dict[str, tuple[float, OpenPoll | None]] = {}

    async def get(self, event_id: str) -> OpenPoll | None:
        checked = self.events.get(event_id)
        now = time.monotonic()
        if checked is not None and now - checked[0] < REFRESH_S:
            return checked[1]
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(Poll.id, Poll.kind, func.count(PollOption.position))
                    .outerjoin(PollOption, PollOption.poll_id == Poll.id)
                    .where(Poll.event_id == event_id, Poll.state == PollState.open)
                    .group_by(Poll.id, Poll.kind)
                )
            ).first()
        found = None if row is None else OpenPoll(row[0], PollKind(row[1]), int(row[2]))
        self.events[event_id] = (now, found)
        return found

    def forget(self, event_id: str) -> None:
        self.events.pop(event_id, None)
