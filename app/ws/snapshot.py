"""What a console needs to render before deltas start: recent chat, open questions, the
open poll, the run-of-show, open incidents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.chat import repository as chat_repo
from app.chat import service as chat_service
from app.cues import service as cues
from app.db import Database
from app.incidents import service as incidents
from app.pipeline.deltas import chat_message_data, question_data, row_dict
from app.polls import service as polls
from app.questions import repository as questions_repo

SNAPSHOT_CHAT = 200
SNAPSHOT_QUESTIONS = 500


def snapshot_loader(db: Database) -> Any:
    async def load(event_id: str) -> dict[str, Any]:
        async with db.sessions() as session:
            chat = await chat_repo.recent(session, event_id, SNAPSHOT_CHAT)
            questions = await questions_repo.open_questions(session, event_id, SNAPSHOT_QUESTIONS)
            actions = await chat_repo.recent_actions(session, event_id, SNAPSHOT_CHAT)
            live_polls = await polls.live_polls(session, event_id)
            sheet = await cues.sheet_view(session, event_id, datetime.now(UTC))
            open_incidents = [
                await incidents.data(session, i)
                for i in await incidents.incidents_of(session, event_id)
            ]
        return {
            "chat": [chat_message_data(row_dict(m)) for m in chat],
            "questions": [question_data(row_dict(q)) for q in questions],
            # So a reloaded console still shows what the platforms answered.
            "moderation": [chat_service.action_data(a) for a in actions],
            "polls": live_polls,
            # The run-of-show with its live cue, so a console shows the segment at once.
            "cues": sheet,
            "incidents": open_incidents,
        }

    return load
