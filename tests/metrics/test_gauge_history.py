"""GET /api/events/{id}/gauges/history on both stacks: the last complete minutes of every
gauge, from metric_sample and from the tables the samples do not cover."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.events import service as events
from app.main import create_app
from app.metrics.models import MetricSample
from app.polls.models import Poll, PollKind, PollState, Vote
from app.questions.models import Question, QuestionState, QuestionVote
from tests.conftest import Seeded, Stack

# 12:30:20: the minute under way (12:30) is left out; 30 minutes back is 12:00.
NOW = datetime(2026, 11, 26, 12, 30, 20, tzinfo=UTC)
SINCE = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def hm(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 26, hour, minute, second, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW

    def monotonic(self) -> float:
        return 0.0


@pytest.fixture
async def app(stack: Stack, seeded: Seeded) -> AsyncIterator[Any]:
    made = create_app(stack.settings, db=stack.db, bus=stack.bus)
    made.state.clock = FixedClock()
    async with made.router.lifespan_context(made):
        yield made


@contextlib.asynccontextmanager
async def login(
    app: Any, username: str | None, password: str = ""
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        if username:
            resp = await c.post(
                "/api/auth/login", json={"username": username, "password": password}
            )
            assert resp.status_code == 200
        yield c


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with login(app, "mod", "mod-pass") as c:
        yield c


def question(seeded: Seeded, n: int, **extra: Any) -> Question:
    src = seeded.sources[3]
    return Question(
        id=f"q{n:031d}",
        event_id=seeded.event.id,
        source_id=src.id,
        platform=src.platform,
        platform_message_id=f"q{n}",
        author_id=f"a{n}",
        author_name="A",
        text=f"question {n}?",
        platform_at=hm(11, 0),
        received_at=hm(11, 0),
        **extra,
    )


def sample(event_id: str, metric: str, dimension: str, at: datetime, value: float) -> MetricSample:
    return MetricSample(
        event_id=event_id, metric=metric, dimension=dimension, bucket_at=at, value=value
    )


async def seed_history(stack: Stack, seeded: Seeded) -> None:
    ev = seeded.event.id
    async with stack.db.sessions() as session:
        other = await events.create_event(session, "other", "Other")
        session.add_all(
            [
                sample(ev, "viewers", "total", hm(11, 59), 50),  # before the window
                sample(ev, "viewers", "total", hm(12, 10), 200),
                sample(ev, "viewers", "twitch", hm(12, 10), 120),
                sample(ev, "viewers", "youtube", hm(12, 10), 80),
                sample(ev, "messages_per_min", "total", hm(12, 10), 9),
                sample(ev, "unique_chatters_per_min", "total", hm(12, 10), 3),
                sample(ev, "questions_pending", "total", hm(12, 10), 4),
                sample(ev, "viewers", "total", hm(12, 29), 250),
                sample(ev, "viewers", "total", hm(12, 30), 999),  # the minute under way
                sample(other.id, "viewers", "total", hm(12, 10), 7),  # another event
            ]
        )
        session.add_all(
            [
                question(seeded, 1, state=QuestionState.answered, answered_at=hm(11, 50)),
                question(seeded, 2, state=QuestionState.answered, answered_at=hm(12, 15, 10)),
                question(seeded, 3, state=QuestionState.answered, answered_at=hm(12, 29, 59)),
                # Answered, then moved on: not counted.
                question(seeded, 4, state=QuestionState.archived, answered_at=hm(12, 20)),
                question(seeded, 5, state=QuestionState.answered, answered_at=hm(12, 30, 5)),
                question(seeded, 6),
            ]
        )
        poll = Poll(event_id=ev, title="Best talk?", kind=PollKind.single, state=PollState.open)
        session.add(poll)
        await session.flush()

        def ballot(voter: str, at: datetime) -> Vote:
            return Vote(
                poll_id=poll.id,
                voter=voter,
                platform="twitch",
                choices=[1],
                choice_key="1",
                received_at=at,
            )

        session.add_all(
            [
                ballot("twitch:a", hm(11, 59, 59)),  # before the window
                ballot("twitch:b", hm(12, 10, 1)),
                ballot("twitch:c", hm(12, 10, 59)),
                ballot("twitch:d", hm(12, 29, 30)),
                ballot("twitch:e", hm(12, 30, 1)),  # the minute under way
            ]
        )
        q6 = f"q{6:031d}"
        session.add_all(
            [
                QuestionVote(question_id=q6, voter_key="twitch:x", created_at=hm(12, 10, 30)),
                QuestionVote(question_id=q6, voter_key="twitch:y", created_at=hm(12, 10, 31)),
                QuestionVote(question_id=q6, voter_key="twitch:z", created_at=hm(12, 29, 0)),
                QuestionVote(question_id=q6, voter_key="twitch:w", created_at=hm(12, 30, 2)),
            ]
        )
        await session.commit()


def points(body: dict[str, Any], metric: str, dimension: str = "total") -> list[tuple[str, float]]:
    return [(p["at"][11:16], p["value"]) for p in body["series"][metric][dimension]]


def at_minutes(body: dict[str, Any], metric: str) -> dict[str, float]:
    """The nonzero minutes of a series covering every bucket."""
    pts = points(body, metric)
    assert len(pts) == 30 and pts[0][0] == "12:00" and pts[-1][0] == "12:29"
    return {m: v for m, v in pts if v}


async def test_history_returns_the_last_complete_minutes_per_metric(
    client: httpx.AsyncClient, stack: Stack, seeded: Seeded
) -> None:
    await seed_history(stack, seeded)
    resp = await client.get(f"/api/events/{seeded.event.id}/gauges/history?minutes=30")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["event_id"] == seeded.event.id
    assert body["bucket_s"] == 60
    assert datetime.fromisoformat(body["since"]) == SINCE
    assert datetime.fromisoformat(body["until"]) == SINCE + timedelta(minutes=30)
    assert datetime.fromisoformat(body["server_time"]) == NOW

    # The samples: inside the window only, this event only, per platform and total.
    assert points(body, "viewers") == [("12:10", 200), ("12:29", 250)]
    assert points(body, "viewers", "twitch") == [("12:10", 120)]
    assert points(body, "viewers", "youtube") == [("12:10", 80)]
    assert points(body, "messages_per_min") == [("12:10", 9)]
    assert points(body, "unique_chatters_per_min") == [("12:10", 3)]
    assert points(body, "questions_pending") == [("12:10", 4)]

    # From the tables, one point per minute: ballots and upvotes per minute ...
    assert at_minutes(body, "poll_votes_per_min") == {"12:10": 2, "12:29": 1}
    assert at_minutes(body, "question_votes_per_min") == {"12:10": 2, "12:29": 1}
    # ... and the questions answered by each minute's end (one before the window).
    answered = dict(points(body, "questions_answered"))
    assert answered["12:00"] == 1 and answered["12:14"] == 1
    assert answered["12:15"] == 2 and answered["12:28"] == 2
    assert answered["12:29"] == 3

    # Default: 30 minutes. A shorter window: fewer buckets.
    default = (await client.get(f"/api/events/{seeded.event.id}/gauges/history")).json()
    assert default == body
    short = (await client.get(f"/api/events/{seeded.event.id}/gauges/history?minutes=5")).json()
    assert points(short, "viewers") == [("12:29", 250)]
    assert len(points(short, "poll_votes_per_min")) == 5


async def test_history_of_an_empty_event_and_out_of_range_windows(
    client: httpx.AsyncClient, stack: Stack, seeded: Seeded
) -> None:
    url = f"/api/events/{seeded.event.id}/gauges/history"
    body = (await client.get(url)).json()
    assert set(body["series"]) == {
        "poll_votes_per_min",
        "question_votes_per_min",
        "questions_answered",
    }
    assert all(p["value"] == 0 for p in body["series"]["questions_answered"]["total"])
    for bad in ("0", "181", "x"):
        resp = await client.get(f"{url}?minutes={bad}")
        assert resp.status_code == 422, (bad, resp.text)


async def test_history_needs_a_member(app: Any, seeded: Seeded) -> None:
    url = f"/api/events/{seeded.event.id}/gauges/history"
    async with login(app, None) as anon:
        assert (await anon.get(url)).status_code == 401
    async with login(app, "outsider", "out-pass") as outsider:
        assert (await outsider.get(url)).status_code == 403
        assert (await outsider.get("/api/events/nope/gauges/history")).status_code == 404
