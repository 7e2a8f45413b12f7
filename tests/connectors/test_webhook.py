"""The generic (Standard Webhooks) connector, fed by the fake sender through the real app."""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest

from app.connectors.base import Action
from app.connectors.clock import ScaledClock
from app.connectors.webhook import WebhookConnector
from app.envelope import Envelope, Kind
from app.events import service as events
from app.events.models import Event, Source
from app.main import create_app
from tests.conftest import Stack, run_server
from tests.connectors.started import inbox_acknowledged, ingest_until
from tests.fakes.webhook_sender import WebhookSender

OLD = "whsec_" + base64.b64encode(b"old-generic-secret-32-bytes-long").decode()
NEW = "whsec_" + base64.b64encode(b"new-generic-secret-32-bytes-long").decode()
STRANGER = "whsec_" + base64.b64encode(b"someone-else-secret-32-bytes-lon").decode()
ONE_BACKEND = pytest.mark.parametrize("backend", ["embedded"])

CHAT = {"type": "chat", "id": "c1", "author": {"id": "u1", "name": "Ana"}, "text": "hello"}


@dataclass
class Generic:
    stack: Stack
    source: Source
    sender: WebhookSender
    connector: WebhookConnector
    seen: list[Envelope]

    async def envelopes(
        self, until: Callable[[list[Envelope]], bool], timeout: float = 5.0
    ) -> list[Envelope]:
        return await ingest_until(self.stack.bus, self.source.event_id, self.seen, until, timeout)

    async def acknowledged_all(self) -> None:
        await inbox_acknowledged(self.stack.bus, self.source.event_id, self.source.id)

    def restart(self) -> WebhookConnector:
        """A new instance, as a worker taking the lease over builds it."""
        connector = WebhookConnector.for_source(self.stack.bus, self.source, clock=ScaledClock(10))
        assert isinstance(connector, WebhookConnector)
        self.connector = connector
        return connector

    async def queued(self) -> int:
        entries = await self.stack.bus.read_inbox(self.source.event_id, self.source.id, 100, 10)
        return len(entries)


@pytest.fixture
async def event(stack: Stack) -> Event:
    async with stack.db.sessions() as session:
        created = await events.create_event(session, "launch", "Launch")
        await session.commit()
        return created


async def add_source(stack: Stack, event: Event) -> Source:
    async with stack.db.sessions() as session:
        source = await events.add_source(
            session, event, "webhook", "Feedback form", config={"label": "forms"}
        )
        # Mid-rotation: the sender may sign with the new secret, the old one, or both.
        source.credentials = {"secret": NEW, "previous_secret": OLD}
        await session.commit()
        return source


@pytest.fixture
async def door(stack: Stack, event: Event) -> AsyncIterator[Generic]:
    """The route only: deliveries stay in the inbox, so a test can count what was queued."""
    source = await add_source(stack, event)
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    async with run_server(app) as server, httpx.AsyncClient() as client:
        sender = WebhookSender(f"{server.base_url}/hooks/{source.id}", [NEW], client=client)
        connector = WebhookConnector.for_source(stack.bus, source, clock=ScaledClock(10))
        assert isinstance(connector, WebhookConnector)
        yield Generic(stack, source, sender, connector, [])


@pytest.fixture
async def generic(door: Generic) -> AsyncIterator[Generic]:
    await door.connector.start(timeout=5)
    try:
        yield door
    finally:
        await door.connector.stop(drain_timeout=1)


async def test_each_documented_type_becomes_an_envelope(generic: Generic) -> None:
    send = generic.sender.deliver
    await send(CHAT)
    await send(
        {
            "type": "question",
            "id": "q1",
            "author": {"id": "u2", "name": "Bo"},
            "text": "Will slides be shared?",
            "at": "2025-05-01T17:02:03Z",
        }
    )
    await send({"type": "viewers", "count": 412}, msg_id="msg_viewers_1")  # no id: webhook-id
    await send({"type": "vote", "id": "v1", "author": {"id": "u3", "name": "Cy"}, "question": "q1"})
    await send({"type": "shares", "id": "s1", "count": 37})  # a running count, no author
    seen = await generic.envelopes(lambda seen: len(seen) == 5)

    by_kind = {e.kind: e for e in seen}
    chat = by_kind[Kind.chat]
    assert chat.text == "hello" and chat.author is not None and chat.author.name == "Ana"
    question = by_kind[Kind.question]
    assert question.platform_message_id == "q1"
    assert question.platform_at.isoformat() == "2025-05-01T17:02:03+00:00"
    viewers = by_kind[Kind.viewers]
    assert viewers.data == {"count": 412} and viewers.platform_message_id == "msg_viewers_1"
    assert by_kind[Kind.vote].data == {"question": "q1"}
    assert by_kind[Kind.shares].data == {"count": 37} and by_kind[Kind.shares].author is None
    assert {e.platform for e in seen} == {"webhook:forms"}
    assert all(a.status == 204 and a.acknowledged for a in generic.sender.attempts)


@ONE_BACKEND
async def test_forged_stale_or_rewritten_deliveries_are_refused_and_not_queued(
    door: Generic,
) -> None:
    deliver = door.sender.deliver
    refused = {
        "tampered body": await deliver(CHAT, tamper=True),
        "301 s old": await deliver(CHAT, offset_s=-301),
        "301 s ahead": await deliver(CHAT, offset_s=301),
        "re-serialised JSON": await deliver(CHAT, reserialize=True),
        "unknown secret": await deliver(CHAT, secrets=[STRANGER]),
    }
    for case, attempts in refused.items():
        # 401, and no retry: a signature we refuse will not get better.
        assert [a.status for a in attempts] == [401], case
    assert await door.queued() == 0
    accepted = {
        "rotation, both signatures": await deliver(CHAT, secrets=[STRANGER, NEW]),
        "previous secret": await deliver(CHAT, secrets=[OLD]),
        "299 s old": await deliver(CHAT, offset_s=-299),
    }
    for case, attempts in accepted.items():
        assert [a.status for a in attempts] == [204], case
    assert await door.queued() == 3


async def test_duplicates_and_retries_are_processed_once(generic: Generic) -> None:
    sender = generic.sender
    await sender.deliver(CHAT, msg_id="msg_dup")
    await sender.deliver(CHAT, msg_id="msg_dup")  # the sender sent it twice
    sender.late_acks = 2  # our 204 reached it too late, twice: it retries
    retried = await sender.deliver(
        {"type": "chat", "id": "c2", "author": {"id": "u1", "name": "Ana"}, "text": "again"},
        msg_id="msg_retried",
    )
    assert [a.acknowledged for a in retried] == [False, False, True]
    assert {a.msg_id for a in retried} == {"msg_retried"}
    gaps = [b.at_s - a.at_s for a, b in itertools.pairwise(retried)]
    assert 5 <= gaps[0] < 100 and 300 <= gaps[1] < 400  # the sender's 5 s, 5 min
    await sender.deliver({**CHAT, "id": "c3", "text": "last"}, msg_id="msg_last")
    seen = await generic.envelopes(lambda seen: any(e.platform_message_id == "c3" for e in seen))
    assert [e.platform_message_id for e in seen] == ["c1", "c2", "c3"]


async def test_malformed_deliveries_are_dead_lettered_and_later_ones_work(
    generic: Generic,
) -> None:
    bad = {
        b"[1, 2, 3]": "not a JSON object",
        b'{"type": "poll"}': "\"type\" is 'poll'",
        b'{"type": "chat", "author": {"id": "u1", "name": "A"}}': 'needs a non-empty "text"',
        b'{"type": "viewers", "count": -3}': 'need "count"',
        b'{"type": "shares", "count": "12"}': 'shares need "count" (shares of the stream so far)',
        b'{"type": "vote", "author": {"id": "u1", "name": "A"}}': 'needs "question"',
        b'{"type": "question", "text": "why?"}': '"author" must be',
        b'{"type": "chat", "text": "x", "author": {"id": "u", "name": "A"}, "at": "soon"}': '"at"',
    }
    for body in bad:
        assert [a.status for a in await generic.sender.deliver(body)] == [204]
    await generic.sender.deliver(CHAT)
    seen = await generic.envelopes(lambda seen: bool(seen))
    assert [e.platform_message_id for e in seen] == ["c1"]
    letters = await generic.stack.bus.dead_letters(generic.source.event_id)
    assert len(letters) == len(bad)
    reasons = [d.reason for d in letters]
    for expected in bad.values():
        assert any(expected in r for r in reasons), expected
    # Every reason says what was expected, so whoever sends it can fix their side.
    assert all(
        'expected {"type": "chat"|"question"|"viewers"|"shares"|"vote"' in r for r in reasons
    )
    assert {d.payload for d in letters} == set(bad)


@ONE_BACKEND
async def test_secrets_never_reach_logs_or_health(
    generic: Generic, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await generic.sender.deliver(CHAT, secrets=[STRANGER])  # refused
    await generic.sender.deliver(b"not json")  # dead-lettered
    await generic.sender.deliver(CHAT)
    await generic.envelopes(lambda seen: bool(seen))
    await generic.connector.report_health()
    health = await generic.stack.bus.read_health(generic.source.event_id)
    texts = [r.getMessage() for r in caplog.records] + [h.decode() for h in health.values()]
    assert any("dead-lettered" in t for t in texts)
    for secret in (NEW, OLD, NEW.removeprefix("whsec_"), OLD.removeprefix("whsec_")):
        assert not [t for t in texts if secret in t]


async def test_moderation_is_answered_not_supported_with_a_reason(generic: Generic) -> None:
    bus, event_id, source_id = generic.stack.bus, generic.source.event_id, generic.source.id
    await generic.sender.deliver(CHAT)
    await generic.envelopes(lambda seen: bool(seen))
    for action in (
        Action("w1", "delete", source_id, {"message_id": "c1"}),
        Action("w2", "ban", source_id, {"author_id": "u1"}),
        Action("w3", "timeout", source_id, {"author_id": "u1", "duration_s": 60}),
    ):
        await bus.add_command(event_id, source_id, action.to_json())
    seen = await generic.envelopes(
        lambda seen: len([e for e in seen if e.kind is Kind.moderation_result]) == 3
    )
    results = {e.data["action_id"]: e.data for e in seen if e.kind is Kind.moderation_result}
    for action_id, verb in (("w1", "delete"), ("w2", "ban"), ("w3", "timeout")):
        assert results[action_id]["status"] == "not_supported"
        assert results[action_id]["reason"] == f"webhook cannot {verb}"
    assert all(e.source_id == source_id for e in seen)


async def test_a_burst_is_queued_fast_and_each_delivery_handled_once(door: Generic) -> None:
    unique, copies = 450, 50
    payloads = [
        {"type": "chat", "id": f"b{i}", "author": {"id": f"u{i % 40}", "name": "A"}, "text": "hi"}
        for i in range(unique)
    ]
    started = time.monotonic()
    # 500 deliveries posted concurrently (the sender keeps up to 50 in flight) while no
    # connector runs: the route only verifies and queues. 50 are sent twice at once, as
    # a sender that retries in parallel would.
    attempts = await asyncio.gather(
        *(door.sender.deliver(p, msg_id=f"msg_b{i}") for i, p in enumerate(payloads)),
        *(door.sender.deliver(payloads[i], msg_id=f"msg_b{i}") for i in range(copies)),
    )
    queued_s = time.monotonic() - started
    first = [per[0] for per in attempts]
    assert all(a.status == 204 for a in first)
    # Answered within the sender's deadline: at most a few late ones, retried, still once.
    assert sum(not a.acknowledged for a in first) <= 10
    assert all(per[-1].acknowledged for per in attempts)
    await door.sender.deliver({**CHAT, "id": "marker"})  # queued after the whole burst
    await door.connector.start(timeout=5)
    try:
        seen = await door.envelopes(
            lambda seen: any(e.platform_message_id == "marker" for e in seen), timeout=15
        )
    finally:
        await door.connector.stop(drain_timeout=1)
    ids = [e.platform_message_id for e in seen]
    assert sorted(ids) == sorted(
        [f"b{i}" for i in range(unique)] + ["marker"]
    )  # none lost or doubled
    print(f"\n{unique + copies} deliveries queued in {queued_s:.2f} s ({door.stack.backend})")


async def test_a_new_instance_handles_what_the_stopped_one_left_exactly_once(
    generic: Generic,
) -> None:
    bus, event_id, source_id = generic.stack.bus, generic.source.event_id, generic.source.id
    await generic.sender.deliver(CHAT)
    await generic.envelopes(lambda seen: bool(seen))
    await generic.acknowledged_all()
    await generic.connector.stop(drain_timeout=1)  # the worker loses its lease
    for i in range(2, 6):
        await generic.sender.deliver({**CHAT, "id": f"c{i}"}, msg_id=f"msg_c{i}")
    # A worker took some and died before acknowledging them: they stay pending.
    assert await bus.read_inbox(event_id, source_id, 2, 10)
    await generic.restart().start(timeout=5)
    seen = await generic.envelopes(lambda seen: len(seen) >= 5)
    await generic.sender.deliver({**CHAT, "id": "c6"}, msg_id="msg_c6")
    seen = await generic.envelopes(lambda seen: any(e.platform_message_id == "c6" for e in seen))
    assert sorted(e.platform_message_id for e in seen) == ["c1", "c2", "c3", "c4", "c5", "c6"]
    await generic.acknowledged_all()
