"""A six-minute event with known answers, replayed through the real pipeline.

Every envelope goes through the bus and PipelineWorker.process; the gauge ticker
samples the minutes as it does live (tick_gauges at chosen times). The expected
figures are worked out by hand in EXPECTED and in the tests' comments.

  minute        0    1    2    3    4    5
  twitch        60  120  180  150  120  120    viewers (750 viewer-minutes)
  youtube       40   80  120  100   80   80    viewers (500)
  total        100  200  300  250  200  200    peak 300 at minute 2, average 208.33
  twitch chat    2    4    6    3    2    1    18 lines, one of them a question (m2)
  youtube chat   1    2    3    2    1    1    10 lines, one hidden by a moderator (m3)

  cues: Welcome [0:00, 2:00), Keynote [2:00, 5:00), Q&A [5:00, 6:00)
  presence (zoom): z1 0:00-5:00 (300 s); z2 1:00-2:00 + 3:00-4:00 (120 s);
    z3 2:00-5:50 with a repeated join at 2:30 (230 s); z4 leaves at 1:30, joined
    before we listened (90 s); z5 joins at 3:20, never leaves (until 6:00: 160 s)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from app.cues import service as cues
from app.cues.schemas import CueSpec
from app.envelope import Author, Kind, make_envelope, message_row_id
from app.incidents import service as incidents
from app.incidents.models import IncidentState
from app.pipeline.worker import PipelineWorker
from app.polls import service as polls
from app.polls.models import PollKind
from app.questions import service as questions
from app.questions.models import Question, QuestionState, QuestionVote
from tests.conftest import Seeded, Stack
from tests.pipeline.harness import drain

T0 = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
VIEWERS = {
    "twitch": [60, 120, 180, 150, 120, 120],
    "youtube": [40, 80, 120, 100, 80, 80],
}
CHAT = {"twitch": [2, 4, 6, 3, 2, 1], "youtube": [1, 2, 3, 2, 1, 1]}
CHATTERS = {"twitch": ["t1", "t2", "t3", "t4"], "youtube": ["y1", "y2", "y3"]}
QUESTION_TEXT = "How does it scale past one region?"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@dataclass
class Played:
    seeded: Seeded
    poll_id: str
    question_id: str  # the twitch question (asked in chat, answered 90 s later)
    incident_id: str


class Feed:
    """Envelopes of the seeded sources, each with its own platform message id."""

    def __init__(self, stack: Stack, seeded: Seeded) -> None:
        self.stack, self.seeded = stack, seeded
        self.sources = {s.config.get("plays", s.platform): s for s in seeded.sources}
        self.pending: list[bytes] = []
        self.seq = 0

    def add(
        self,
        platform: str,
        kind: Kind,
        when: datetime,
        *,
        author: str | None = None,
        text: str | None = None,
        data: dict[str, Any] | None = None,
        pmid: str | None = None,
    ) -> str:
        self.seq += 1
        pmid = pmid or f"{kind.value}-{self.seq}"
        source = self.sources[platform]
        self.pending.append(
            make_envelope(
                event_id=self.seeded.event.id,
                source_id=source.id,
                platform=platform,
                kind=kind,
                platform_message_id=pmid,
                platform_at=when,
                ingest_at=when,
                author=Author(id=author, name=author.upper()) if author else None,
                text=text,
                data=data or {},
            ).to_json()
        )
        return pmid

    async def flush(self, worker: PipelineWorker) -> None:
        if self.pending:
            await self.stack.bus.add_ingest(self.seeded.event.id, self.pending)
            self.pending = []
            await drain(self.stack, worker, self.seeded.event.id)


async def play(stack: Stack, seeded: Seeded, *, finish: bool = True) -> Played:
    """Replays the scenario; returns the ids the tests look up. Without `finish`, the
    last cue (Q&A) is still live at the end."""
    event_id = seeded.event.id
    worker = PipelineWorker(stack.bus, stack.db, consumer="report-test")
    # The playbook's detectors would find the seeded sources silent (no connector runs
    # here) and open incidents of their own; their tests are elsewhere, and this event's
    # incidents are the two opened below.
    worker.detection.tick = no_detection  # type: ignore[method-assign]
    feed = Feed(stack, seeded)

    async with stack.db.sessions() as session:
        specs = [
            CueSpec(title="Welcome", planned_duration_s=120),
            CueSpec(title="Keynote", planned_duration_s=150),
            CueSpec(title="Q&A", planned_duration_s=60),
        ]
        await cues.import_sheet(session, event_id, specs, "test", T0)
        poll = await polls.create(
            session,
            event_id,
            title="Which region?",
            kind=PollKind.single,
            options=["Europe", "Americas"],
            duration_s=None,
            cue_id=None,
            actor="test",
        )
        await session.commit()
        poll_id = poll.id

    async def go(seconds: float) -> None:
        async with stack.db.sessions() as session:
            sheet = await cues.sheet_view(session, event_id, at(seconds))
            await cues.go(session, event_id, sheet["live_cue_id"], "test", at(seconds))
            await session.commit()

    # The ticker's first sample of an event also closes the minute before it (empty here:
    # no viewer count has come in), as on a worker that starts before the show.
    await worker.tick_gauges(event_id, now=at(-55).timestamp())
    await go(0)

    presence = [
        ("z1", "join", 0), ("z1", "leave", 300),
        ("z2", "join", 60), ("z2", "leave", 120), ("z2", "join", 180), ("z2", "leave", 240),
        ("z3", "join", 120), ("z3", "join", 150), ("z3", "leave", 350),
        ("z4", "leave", 90),
        ("z5", "join", 200),
    ]  # fmt: skip
    for minute in range(6):
        start = minute * 60
        # The first tick of a minute closes the last one with the counts seen until then.
        await worker.tick_gauges(event_id, now=at(start).timestamp())
        for platform, counts in VIEWERS.items():
            feed.add(platform, Kind.viewers, at(start + 1), data={"count": counts[minute]})
        for platform, lines in CHAT.items():
            for i in range(lines[minute]):
                author = CHATTERS[platform][i % len(CHATTERS[platform])]
                text = "great talk"
                if platform == "twitch" and minute == 2 and i == 0:
                    text = QUESTION_TEXT
                feed.add(
                    platform,
                    Kind.chat,
                    at(start + 10 + i),
                    author=author,
                    text=text,
                    pmid=f"chat-{platform}-{minute}-{i}",
                )
        for viewer, action, second in presence:
            if start <= second < start + 60:
                feed.add("zoom", Kind.presence, at(second), author=viewer, data={"action": action})
        if minute == 3:
            for asker in ("a1", "a2"):
                feed.add(
                    "qa",
                    Kind.question,
                    at(start + 20),
                    author=asker,
                    text=f"{asker} asks?",
                    pmid=f"ask-{asker}",
                )
        await feed.flush(worker)

        if minute == 2:
            question_id = message_row_id(feed.sources["twitch"].id, "chat-twitch-2-0")
            for voter in ("t2", "t3", "t8"):  # t8 only upvotes: a participant all the same
                feed.add(
                    "twitch",
                    Kind.vote,
                    at(start + 30),
                    author=voter,
                    data={"question": "chat-twitch-2-0"},
                )
            await feed.flush(worker)
            await go(120)
        if minute == 4:
            async with stack.db.sessions() as session:
                found = await polls.get(session, event_id, poll_id)
                await polls.launch(session, found, "test", now=at(start))
                await session.commit()
            for platform, voter in (("twitch", "t1"), ("twitch", "t2"), ("twitch", "t9"),
                                    ("youtube", "y1")):  # fmt: skip
                feed.add(
                    platform,
                    Kind.vote,
                    at(start + 10),
                    author=voter,
                    data={"poll": poll_id, "choices": [1] if voter != "t2" else [2]},
                )
            await feed.flush(worker)
        if minute == 5:
            await go(300)
            async with stack.db.sessions() as session:
                found = await polls.get(session, event_id, poll_id)
                await polls.close(session, found, "test", now=at(330))
                await session.commit()
        # The sample of this minute, with this minute's counts (5 s in, as the ticker does).
        await worker.tick_gauges(event_id, now=at(start + 5).timestamp())
    if finish:
        await go(360)

    async with stack.db.sessions() as session:
        # Upvotes are stamped when stored, answers when clicked: put both on the show's clock.
        await session.execute(
            update(QuestionVote)
            .where(QuestionVote.question_id == question_id)
            .values(created_at=at(150))
        )
        q = await questions.get(session, event_id, question_id)
        await questions.transition(session, q, QuestionState.approved, q.version, "test")
        await questions.transition(session, q, QuestionState.on_deck, q.version, "test")
        await questions.transition(session, q, QuestionState.answered, q.version, "test")
        await session.execute(
            update(Question).where(Question.id == question_id).values(answered_at=at(130 + 90))
        )
        a1 = message_row_id(feed.sources["qa"].id, "ask-a1")
        asked = await questions.get(session, event_id, a1)
        await questions.transition(session, asked, QuestionState.approved, asked.version, "test")
        # A moderator hid one youtube line in minute 3.
        from app.chat.models import ChatMessage

        hidden_id = message_row_id(feed.sources["youtube"].id, "chat-youtube-3-1")
        await session.execute(
            update(ChatMessage).where(ChatMessage.id == hidden_id).values(hidden=True)
        )
        # An incident: impact at 2:50, detected 3:20, acknowledged 4:20, resolved 5:30.
        change = await incidents.open_incident(
            session,
            event_id,
            actor="test",
            now=at(200),
            title="Stream stutters on YouTube",
            category="stream",
            severity="sev2",
            impact_started_at=at(170),
        )
        assert change.incident is not None
        incident_id = str(change.incident["id"])
        found_incident = await incidents.get(session, event_id, incident_id)
        await incidents.transition(
            session, found_incident, IncidentState.acknowledged, "test", at(260)
        )
        await incidents.transition(session, found_incident, IncidentState.resolved, "test", at(330))
        # A drill's incident: left out of every figure.
        await incidents.open_incident(
            session,
            event_id,
            actor="test",
            now=at(100),
            title="Drill: stream down",
            category="stream",
            severity="sev1",
            drill=True,
        )
        await session.commit()
    return Played(seeded, poll_id, question_id, incident_id)


async def no_detection(event_id: str, now: float) -> list[Any]:
    return []
