"""The gauges' recent history, so a console that opens mid-show draws its charts at once."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.metrics import repository
from app.metrics.schemas import GaugeHistory, GaugePoint

BUCKET = timedelta(minutes=1)
MAX_MINUTES = 180


def minute_floor(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def per_bucket(times: Iterable[datetime], buckets: list[datetime]) -> list[float]:
    """How many of `times` fall in each one-minute bucket."""
    counts = [0.0] * len(buckets)
    for t in times:
        i = bisect_right(buckets, t) - 1
        if 0 <= i < len(buckets):
            counts[i] += 1
    return counts


async def gauge_history(
    session: AsyncSession, event_id: str, now: datetime, minutes: int
) -> GaugeHistory:
    """The last `minutes` complete minutes: the persisted samples (viewers per platform and
    total, messages and unique chatters per minute, questions pending), plus what the
    tables say per minute (poll ballots, question upvotes, questions answered so far)."""
    # The minute under way is left out: its counts are partial, and the live gauges carry it.
    until = minute_floor(now)
    since = until - minutes * BUCKET
    buckets = [since + i * BUCKET for i in range(minutes)]

    series: dict[str, dict[str, list[GaugePoint]]] = {}
    for s in await repository.samples_between(session, event_id, since, until):
        series.setdefault(s.metric, {}).setdefault(s.dimension, []).append(
            GaugePoint(at=s.bucket_at, value=s.value)
        )

    def whole(values: list[float]) -> dict[str, list[GaugePoint]]:
        return {"total": [GaugePoint(at=b, value=v) for b, v in zip(buckets, values, strict=True)]}

    ballots = await repository.ballot_times(session, event_id, since, until)
    series["poll_votes_per_min"] = whole(per_bucket(ballots, buckets))
    upvotes = await repository.question_vote_times(session, event_id, since, until)
    series["question_votes_per_min"] = whole(per_bucket(upvotes, buckets))

    # Answered so far at each minute's end (a question moved on from answered is not counted).
    answered = per_bucket(await repository.answered_times(session, event_id, since, until), buckets)
    running = float(await repository.answered_before(session, event_id, since))
    cumulative = []
    for n in answered:
        running += n
        cumulative.append(running)
    series["questions_answered"] = whole(cumulative)

    return GaugeHistory(
        event_id=event_id,
        server_time=now,
        since=since,
        until=until,
        bucket_s=int(BUCKET.total_seconds()),
        series=series,
    )
