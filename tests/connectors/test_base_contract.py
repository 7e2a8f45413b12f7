"""The connector contract every platform shares: backoff, hand-off, reconnects, health, lifecycle."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from app.bus.memory import MemoryBus
from app.connectors.backoff import Backoff
from app.connectors.base import Connector, ConnectorState
from app.connectors.clock import Clock, ScaledClock
from app.connectors.credentials import Credentials
from app.connectors.errors import (
    AuthFailed,
    NotConfigured,
    PlatformError,
    RateLimited,
    ReconnectNow,
)
from app.connectors.handoff import HandOff
from app.envelope import Envelope, Kind, make_envelope


class StepClock(Clock):
    """A clock the test moves by hand; sleeping records the wait and returns at once."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.t)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


def env(kind: Kind, n: int, source: str = "s1", **data: object) -> Envelope:
    return make_envelope(
        event_id="e1",
        source_id=source,
        platform="test",
        kind=kind,
        platform_message_id=f"m{n}",
        platform_at=datetime.now(UTC),
        text="hi" if kind is Kind.chat else None,
        data=dict(data),
    )


# -- backoff --


def test_backoff_is_full_jitter_under_a_doubling_cap() -> None:
    clock = StepClock()
    backoff = Backoff(base=1.0, cap=8.0, rng=random.Random(1), clock=clock)
    delays = [backoff.next_delay() for _ in range(40)]
    ceilings = [min(8.0, 2.0**n) for n in range(40)]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    # Full jitter: waits spread over the whole range, not clustered at the ceiling.
    late = delays[4:]
    assert min(late) < 2.0 and max(late) > 6.0


def test_backoff_starts_again_after_a_stable_connection() -> None:
    clock = StepClock()
    backoff = Backoff(base=1.0, cap=60.0, stable_s=60.0, rng=random.Random(2), clock=clock)
    for _ in range(6):
        backoff.next_delay()
    assert backoff.failures == 6
    backoff.connected()
    clock.t += 10  # dropped again after 10 s: still failing, keep growing
    backoff.next_delay()
    assert backoff.failures == 7
    backoff.connected()
    clock.t += 61  # up a whole minute: the next drop is a first failure
    assert backoff.next_delay() <= 1.0
    assert backoff.failures == 1


# -- hand-off --


async def test_handoff_keeps_everything_but_drops_oldest_chat_and_coalesces_viewers() -> None:
    written: list[Envelope] = []
    gate = asyncio.Event()

    async def write(batch: Sequence[Envelope]) -> None:
        await gate.wait()
        written.extend(batch)

    handoff = HandOff(write, limit=5, batch=100)
    runner = asyncio.create_task(handoff.run())
    await asyncio.sleep(0)
    for n in range(8):
        handoff.offer(env(Kind.chat, n))
    handoff.offer(env(Kind.stream_state, 100, event="poll.end"))
    handoff.offer(env(Kind.moderation_result, 101))
    for n in range(3):
        handoff.offer(env(Kind.viewers, 200 + n, count=10 + n))
    gate.set()
    assert await handoff.drained(2.0)
    runner.cancel()
    ids = [e.platform_message_id for e in written]
    assert "m100" in ids and "m101" in ids, "moderation and poll end are never dropped"
    viewers = [e for e in written if e.kind is Kind.viewers]
    assert [v.data["count"] for v in viewers] == [12], "viewer counts coalesce, latest wins"
    chat = [i for i in ids if e_kind(written, i) is Kind.chat]
    assert chat[-1] == "m7", "the newest chat is kept"
    assert "m0" not in chat, "the oldest chat went first"
    assert len(chat) + handoff.dropped == 8


def e_kind(envelopes: list[Envelope], message_id: str) -> Kind:
    return next(e.kind for e in envelopes if e.platform_message_id == message_id)


async def test_handoff_retries_a_failed_bus_write_without_losing_it() -> None:
    attempts = 0
    written: list[str] = []

    async def flaky(batch: Sequence[Envelope]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise ConnectionError("redis went away")
        written.extend(e.platform_message_id for e in batch)

    handoff = HandOff(flaky, retry_s=0.01)
    runner = asyncio.create_task(handoff.run())
    handoff.offer_many([env(Kind.chat, n) for n in range(3)])
    assert await handoff.drained(2.0)
    runner.cancel()
    assert written == ["m0", "m1", "m2"] and attempts == 3


# -- a connector with a scripted platform --


class Scripted(Connector):
    """A connector whose sessions follow a script of outcomes."""

    platform = "scripted"

    def __init__(self, outcomes: list[BaseException | None], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.outcomes = outcomes
        self.sessions = 0
        self.refreshes = 0

    async def session(self) -> None:
        self.sessions += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is None:
            self.connected()
            self.offer(self.envelope(Kind.chat, f"line-{self.sessions}", text="hello"))
            await asyncio.Event().wait()
        raise outcome

    async def produce(self) -> None:
        await self.keep_connected(self.session)

    async def refresh_credentials(self) -> bool:
        self.refreshes += 1
        return self.credentials.get("refresh_token") is not None


def scripted(outcomes: list[BaseException | None], clock: Clock, **kw: object) -> Scripted:
    return Scripted(outcomes, bus=MemoryBus(), event_id="e1", source_id="s1", clock=clock, **kw)


async def test_reconnects_wait_with_backoff_but_not_when_the_platform_says_move() -> None:
    clock = StepClock()
    conn = scripted(
        [ConnectionResetError("reset"), ReconnectNow("session_reconnect"), OSError("dns"), None],
        clock,
        rng=random.Random(3),
    )
    await conn.start(timeout=2)
    assert conn.health.state is ConnectorState.connected
    assert conn.sessions == 4 and conn.health.reconnects == 3
    assert clock.slept[1] == 0.0, "a server-directed reconnect is immediate"
    assert 0 <= clock.slept[0] <= 1.0 and 0 <= clock.slept[2] <= 2.0
    assert [m for _, m in conn.health.errors][-1].startswith("OSError")
    await conn.stop(drain_timeout=1)
    assert conn.health.state is ConnectorState.stopped


async def test_rate_limit_waits_what_the_platform_says() -> None:
    clock = StepClock()
    conn = scripted([RateLimited("429", retry_after_s=42.0), None], clock)
    await conn.start(timeout=2)
    assert clock.slept == [42.0]
    await conn.stop()


async def test_auth_failure_refreshes_once_then_fails_and_says_why() -> None:
    clock = StepClock()
    creds = Credentials({"token": "sekrit-token-123", "refresh_token": "r1"})
    conn = scripted(
        [AuthFailed("401 invalid token sekrit-token-123"), AuthFailed("401 again")],
        clock,
        credentials=creds,
    )
    await conn.start(timeout=2)
    assert conn.refreshes == 1 and conn.sessions == 2
    assert conn.health.state is ConnectorState.failed
    assert "authentication failed" in (conn.health.last_error or "")
    assert "sekrit" not in orjson.dumps(conn.health_dict()).decode()
    await conn.stop()


async def test_missing_setting_fails_with_the_name_not_the_value() -> None:
    clock = StepClock()
    creds = Credentials({"token": "env:CR_TEST_UNSET_TOKEN"})
    with pytest.raises(NotConfigured, match="CR_TEST_UNSET_TOKEN"):
        creds.require("token")
    conn = scripted([NotConfigured("credential 'token' is missing")], clock)
    await conn.start(timeout=2)
    assert conn.health.state is ConnectorState.failed and conn.sessions == 1
    await conn.stop()


def test_credentials_never_print_their_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CR_TEST_TOKEN", "from-the-env-999")
    creds = Credentials({"token": "env:CR_TEST_TOKEN", "secret": "db-secret-777", "empty": ""})
    assert creds.get("token") == "from-the-env-999"
    assert creds.names() == ["secret", "token"]
    for shown in (repr(creds), str(creds), f"{creds}"):
        assert "999" not in shown and "777" not in shown
    assert creds.scrub("bad token from-the-env-999 / db-secret-777") == "bad token *** / ***"


async def test_reader_keeps_going_while_the_bus_stalls_and_stop_drains() -> None:
    class StalledBus(MemoryBus):
        def __init__(self) -> None:
            super().__init__()
            self.open = asyncio.Event()

        async def add_ingest(self, event_id: str, payloads: Sequence[bytes]) -> list[str]:
            await self.open.wait()
            return await super().add_ingest(event_id, payloads)

    class Reader(Connector):
        platform = "reader"

        async def produce(self) -> None:
            self.connected()
            for n in range(1000):
                self.offer(self.envelope(Kind.chat, f"n{n}", text="x"))
                self.keepalive()
                await asyncio.sleep(0)
            await asyncio.Event().wait()

    bus = StalledBus()
    conn = Reader(bus=bus, event_id="e1", source_id="s1")
    await conn.start(timeout=2)
    for _ in range(2000):
        await asyncio.sleep(0)
    assert conn.health.last_keepalive_at is not None
    assert len(conn.handoff) == 1000, "the reader ran on while the bus held nothing"
    assert await bus.ingest_backlog("e1") == 0
    bus.open.set()
    await conn.stop(drain_timeout=5)
    assert await bus.ingest_backlog("e1") == 1000, "stop drained everything the reader took"


async def test_state_changes_reach_consoles_and_health_is_stored() -> None:
    clock = ScaledClock(1.0)
    conn = scripted([None], clock)
    await conn.start(timeout=2)
    await conn.report_health()
    stored = orjson.loads((await conn.bus.read_health("e1"))["s1"])
    assert stored["state"] == "connected" and stored["platform"] == "scripted"
    batches = await conn.bus.read_live("e1", 0, block_ms=10)
    states = [
        orjson.loads(i)["data"]["state"]
        for b in batches
        for i in b.items
        if orjson.loads(i)["type"] == "source.health"
    ]
    assert states == ["connected"], "one delta per change of state, not per report"
    await conn.stop()


async def test_a_refused_action_is_a_failed_result_with_the_platform_reason() -> None:
    from app.connectors.base import Action, ActionResult

    class Refusing(Scripted):
        async def perform(self, action: Action) -> ActionResult:
            raise PlatformError(400, "The user specified in the user_id field is already banned.")

    conn = Refusing([None], bus=MemoryBus(), event_id="e1", source_id="s1")
    result = await conn._perform_with_retries(Action("a1", "ban", "s1", {"user_id": "9"}))
    assert result.status == "failed" and "already banned" in (result.reason or "")


def test_logging_of_a_failed_session_does_not_carry_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        clock = StepClock()
        creds = Credentials({"token": "tok-abcdef-42"})
        conn = scripted([AuthFailed("401 for tok-abcdef-42")], clock, credentials=creds)
        await conn.start(timeout=2)
        await conn.stop()

    asyncio.run(scenario())
    assert all("tok-abcdef-42" not in r.getMessage() for r in caplog.records)


async def test_a_swallowed_cancellation_does_not_hang_stop() -> None:
    from app.runtime import cancel_and_wait

    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed == 1:
                    continue  # as a library's timeout handling may do, once
                raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    assert await cancel_and_wait([task], wait_s=0.2)
    assert task.cancelled() and swallowed == 2
