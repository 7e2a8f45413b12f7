"""The Zoom connector against the Zoom fake, through the real app's /hooks route."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import orjson
import pytest

from app.connectors.base import Action, ConnectorState
from app.connectors.clock import ScaledClock
from app.connectors.zoom import ZoomConnector
from app.envelope import Envelope, Kind
from app.events import service as events
from app.events.models import Event, Source
from app.main import create_app
from tests.conftest import RunningServer, Stack, run_server
from tests.connectors.started import inbox_acknowledged, ingest_until
from tests.fakes.zoom import ZoomFake, zm_sign

SECRET = "zoom-webhook-secret-4f1d8c"
CLIENT_SECRET = "zoom-client-secret-9b7e2a"
WEBINAR = "95204914252"
# For what does not depend on the bus (the door, REST calls), one backend is enough.
ONE_BACKEND = pytest.mark.parametrize("backend", ["embedded"])


@dataclass
class Zoom:
    stack: Stack
    source: Source
    fake: ZoomFake
    server: RunningServer
    connector: ZoomConnector
    seen: list[Envelope]

    async def envelopes(
        self, until: Callable[[list[Envelope]], bool], timeout: float = 5.0
    ) -> list[Envelope]:
        return await ingest_until(self.stack.bus, self.source.event_id, self.seen, until, timeout)

    def of(self, kind: Kind) -> list[Envelope]:
        return [e for e in self.seen if e.kind is kind]

    async def restart(self) -> None:
        """Another worker takes the source over: a new connector, the same bus."""
        await self.connector.stop(drain_timeout=1)
        self.connector = build(self.stack, self.source)
        await self.connector.start(timeout=5)


def build(stack: Stack, source: Source) -> ZoomConnector:
    connector = ZoomConnector.for_source(stack.bus, source, clock=ScaledClock(10))
    assert isinstance(connector, ZoomConnector)
    return connector


@pytest.fixture
async def event(stack: Stack) -> Event:
    async with stack.db.sessions() as session:
        created = await events.create_event(session, "launch", "Launch")
        await session.commit()
        return created


async def add_zoom_source(
    stack: Stack,
    event: Event,
    fake: ZoomFake,
    *,
    credentials: dict[str, str] | None = None,
    **config: object,
) -> Source:
    async with stack.db.sessions() as session:
        source = await events.add_source(
            session,
            event,
            "zoom",
            "Zoom webinar",
            config={
                "api_base": fake.api_base,
                "oauth_base": fake.base_url,
                "meeting_id": WEBINAR,
                "report_first_delay_s": 0,
                "report_retry_s": 5,
                **config,
            },
        )
        source.credentials = {
            "webhook_secret": SECRET,
            "account_id": fake.account_id,
            "client_id": fake.client_id,
            "client_secret": CLIENT_SECRET,
            **(credentials or {}),
        }
        await session.commit()
        return source


@pytest.fixture
async def zoom(stack: Stack, event: Event) -> AsyncIterator[Zoom]:
    async with ZoomFake(
        secret=SECRET, client_secret=CLIENT_SECRET, ack_deadline_s=2.0, speed=3600
    ) as fake:
        source = await add_zoom_source(stack, event, fake)
        async with running(stack, source, fake) as z:
            yield z


async def test_chat_presence_and_state_flow_in(zoom: Zoom) -> None:
    zoom.fake.start(WEBINAR)
    await zoom.fake.settle()
    zoom.fake.participant(WEBINAR, "joined", "uuid-jill", "Jill")
    zoom.fake.participant(WEBINAR, "joined", "uuid-omar", "Omar")
    await zoom.fake.settle()
    zoom.fake.chat(WEBINAR, "msg-1", "When is the Q&A?", "Jill")
    await zoom.fake.settle()
    await zoom.envelopes(lambda seen: any(e.kind is Kind.chat for e in seen))

    state = zoom.of(Kind.stream_state)[0]
    assert state.data["state"] == "up" and state.data["event"] == "webinar.started"
    joins = zoom.of(Kind.presence)
    assert [(e.author.name if e.author else None, e.data["action"]) for e in joins] == [
        ("Jill", "join"),
        ("Omar", "join"),
    ]
    assert zoom.of(Kind.viewers)[-1].data["count"] == 2
    chat = zoom.of(Kind.chat)[0]
    assert (chat.platform_message_id, chat.text) == ("msg-1", "When is the Q&A?")
    assert chat.author is not None and chat.author.name == "Jill"
    assert chat.platform_at.isoformat().startswith("2024-05-29T17:05:00")
    # Every event was acknowledged at the first attempt, within Zoom's 3 s.
    assert all(a.acknowledged and a.status == 204 for a in zoom.fake.attempts)


@ONE_BACKEND
async def test_url_validation_answers_the_challenge_and_is_not_queued(zoom: Zoom) -> None:
    # register() already passed one challenge; Zoom repeats it every 72 h.
    assert await zoom.fake.validate()
    forged = orjson.dumps({"event": "endpoint.url_validation", "payload": {"plainToken": "p"}})
    headers = zoom.fake.signed_headers(forged)
    headers["x-zm-signature"] = "v0=" + "0" * 64
    response = await zoom.fake.post(forged, headers)
    assert response.status_code == 401
    assert "encryptedToken" not in response.text
    inbox = await zoom.stack.bus.read_inbox(zoom.source.event_id, zoom.source.id, 10, 10)
    assert inbox == []


@ONE_BACKEND
async def test_forged_stale_or_altered_deliveries_are_refused_and_not_queued(
    stack: Stack, event: Event
) -> None:
    async with ZoomFake(secret=SECRET) as fake:
        source = await add_zoom_source(stack, event, fake)
        app = create_app(stack.settings, db=stack.db, bus=stack.bus)
        async with run_server(app) as server:
            fake.webhook_url = f"{server.base_url}/hooks/{source.id}"
            body = orjson.dumps(
                {"event": "webinar.started", "event_ts": 1, "payload": {"object": {"id": "1"}}}
            )
            tampered = body.replace(b'"1"', b'"2"')
            reserialized = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)

            def wrong_secret() -> dict[str, str]:
                now = str(int(time.time()))
                return {"x-zm-request-timestamp": now, "x-zm-signature": zm_sign("x", now, body)}

            # Stamped when sent (rounded away from our clock): a stamp taken up front
            # ages while the earlier cases run, and "301 s ahead" would drift into tolerance.
            cases: dict[str, tuple[bytes, Callable[[], dict[str, str]]]] = {
                "tampered": (tampered, lambda: fake.signed_headers(body)),
                "reserialized": (reserialized, lambda: fake.signed_headers(body)),
                "301 s old": (body, lambda: fake.signed_headers(body, int(time.time()) - 301)),
                "301 s ahead": (
                    body,
                    lambda: fake.signed_headers(body, math.ceil(time.time()) + 301),
                ),
                "wrong secret": (body, wrong_secret),
                "unsigned": (body, lambda: {"content-type": "application/json"}),
            }
            for name, (sent, headers) in cases.items():
                response = await fake.post(sent, headers())
                assert response.status_code == 401, name
                assert response.json()["error"]["code"] == "bad_signature"
            recent = fake.signed_headers(body, int(time.time()) - 290)
            assert (await fake.post(body, recent)).status_code == 204
        inbox = await stack.bus.read_inbox(source.event_id, source.id, 10, 10)
        assert len(inbox) == 1  # only the genuine delivery was queued


async def test_retries_of_a_late_acknowledgement_are_processed_once(zoom: Zoom) -> None:
    zoom.fake.late_acks = 4  # never acknowledged in time: the whole retry schedule runs
    zoom.fake.chat(WEBINAR, "msg-retried", "hello again", "Jill")
    await zoom.fake.settle()
    attempts = [a for a in zoom.fake.attempts if a.event.endswith("chat_message_sent")]
    gaps = [b.at_s - a.at_s for a, b in itertools.pairwise(attempts)]
    assert len(attempts) == 4  # then Zoom gives up
    # +5, +20, +60 min after each failed attempt (the gap includes that attempt's POST).
    for gap, expected in zip(gaps, (300, 1200, 3600), strict=True):
        assert expected <= gap < expected + 300
    assert len({a.body for a in attempts}) == 1  # the same bytes each time
    zoom.fake.chat(WEBINAR, "msg-next", "next one", "Omar")
    await zoom.fake.settle()
    await zoom.envelopes(lambda seen: any(e.platform_message_id == "msg-next" for e in seen))
    assert [e.platform_message_id for e in zoom.of(Kind.chat)] == ["msg-retried", "msg-next"]


async def test_out_of_order_join_and_left_keep_the_headcount_right(zoom: Zoom) -> None:
    fake, base = zoom.fake, int(time.time() * 1000)
    fake.participant(WEBINAR, "left", "uuid-a", "Ana", ts=base + 30)  # overtakes its join
    await fake.settle()
    fake.participant(WEBINAR, "joined", "uuid-a", "Ana", ts=base + 10)
    fake.participant(WEBINAR, "joined", "uuid-b", "Bo", ts=base + 20)
    await fake.settle()
    fake.participant(WEBINAR, "joined", "uuid-b", "Bo", ts=base + 20)  # a second copy
    fake.participant(WEBINAR, "joined", "uuid-c", "Cy", ts=base + 40)
    await fake.settle()

    def counted(n: int) -> Callable[[list[Envelope]], bool]:
        return lambda seen: len([e for e in seen if e.kind is Kind.viewers]) >= n

    await zoom.envelopes(counted(4))
    assert zoom.of(Kind.viewers)[-1].data["count"] == 2  # Bo and Cy; no ghost of Ana
    stale = [e for e in zoom.of(Kind.presence) if e.data["stale"]]
    assert [(e.data["participant_uuid"], e.data["action"]) for e in stale] == [("uuid-a", "join")]
    # The latest count carries the newest time, so "latest wins" downstream keeps it.
    viewers = zoom.of(Kind.viewers)
    assert max(viewers, key=lambda e: e.platform_at).data["count"] == 2

    await zoom.restart()  # the count survives a takeover
    fake.participant(WEBINAR, "joined", "uuid-d", "Di", ts=base + 50)
    fake.participant(WEBINAR, "left", "uuid-b", "Bo", ts=base + 60)
    await fake.settle()

    def latest_count(seen: list[Envelope]) -> int | None:
        viewers = [e for e in seen if e.kind is Kind.viewers]
        return viewers[-1].data["count"] if viewers else None

    def saw(uuid: str, action: str) -> Callable[[list[Envelope]], bool]:
        return lambda seen: any(
            e.kind is Kind.presence and e.data["participant_uuid"] == uuid
            and e.data["action"] == action for e in seen
        )  # fmt: skip

    # Deliveries the first connector had not acknowledged come again (at-least-once):
    # replayed, they change nothing.
    await zoom.envelopes(lambda seen: saw("uuid-b", "leave")(seen) and saw("uuid-d", "join")(seen))
    await zoom.envelopes(lambda seen: latest_count(seen) == 2)  # Cy and Di
    assert zoom.connector.headcount.total() == 2
    fake.end(WEBINAR)
    await fake.settle()
    await zoom.envelopes(lambda seen: any(e.data.get("state") == "down" for e in seen))
    assert latest_count(zoom.seen) == 0


async def test_malformed_deliveries_are_dead_lettered_and_later_ones_still_work(
    zoom: Zoom,
) -> None:
    fake = zoom.fake
    bad = {
        b"this is not json": "body is not JSON",
        orjson.dumps({"hello": "world"}): 'expected a Zoom event {"event"',
        orjson.dumps(
            {"event": "webinar.chat_message_sent", "event_ts": 5, "payload": {"object": {}}}
        ): "payload.object has no id",
        orjson.dumps(
            {
                "event": "webinar.chat_message_sent",
                "event_ts": 6,
                "payload": {"object": {"id": WEBINAR, "chat_message": {"message_id": "m"}}},
            }
        ): "no message_content",
    }
    for body in bad:
        assert (await fake.post(body, fake.signed_headers(body))).status_code == 204
    fake.chat(WEBINAR, "msg-after", "still here", "Jill")
    await fake.settle()
    await zoom.envelopes(lambda seen: any(e.kind is Kind.chat for e in seen))
    letters = await zoom.stack.bus.dead_letters(zoom.source.event_id)
    reasons = " | ".join(d.reason for d in letters)
    for expected in bad.values():
        assert expected in reasons
    assert all(d.source_id == zoom.source.id for d in letters)
    assert zoom.connector.health.malformed == 4


async def test_reports_are_imported_after_the_webinar_ends_and_not_before(
    stack: Stack, event: Event
) -> None:
    async with ZoomFake(
        secret=SECRET,
        client_secret=CLIENT_SECRET,
        heavy_per_s=1,
        heavy_window_s=0.05,
        report_delay_s=3600,  # fake seconds (1 s here) before Zoom has the report ready
    ) as fake:
        source = await add_zoom_source(stack, event, fake)
        app = create_app(stack.settings, db=stack.db, bus=stack.bus)
        async with run_server(app) as server:
            await fake.register(f"{server.base_url}/hooks/{source.id}")
            connector = build(stack, source)
            await connector.start(timeout=5)
            zoom = Zoom(stack, source, fake, server, connector, [])
            try:
                fake.start(WEBINAR)
                fake.ask(WEBINAR, "Jill", "Will the slides be shared?", answer="Yes, by email")
                fake.ask(WEBINAR, "Omar", "Is there a replay?")
                fake.vote_poll(WEBINAR, "Jill", "p1", "Best day?", "Friday")
                fake.vote_poll(WEBINAR, "Omar", "p1", "Best day?", "Friday")
                fake.vote_poll(WEBINAR, "Ana", "p1", "Best day?", "Monday")
                await fake.settle()
                await zoom.envelopes(lambda seen: any(e.kind is Kind.stream_state for e in seen))
                await asyncio.sleep(0.2)
                assert not [c for c in fake.calls if "/report/" in c[1]]  # nothing before the end

                fake.end(WEBINAR)
                await fake.settle()

                def imported(seen: list[Envelope]) -> bool:
                    polls = [e for e in seen if e.data.get("event") == "poll_report"]
                    return len([e for e in seen if e.kind is Kind.question]) == 2 and bool(polls)

                await zoom.envelopes(imported, timeout=10)
            finally:
                await zoom.connector.stop(drain_timeout=1)
    statuses = [status for _m, path, status in fake.calls if "/report/" in path]
    assert 404 in statuses  # asked while Zoom was still preparing the report
    assert 429 in statuses  # the Heavy limit (1/s here) hit by qa + polls back to back
    questions = {e.text: e for e in zoom.of(Kind.question)}
    assert questions.keys() == {"Will the slides be shared?", "Is there a replay?"}
    slides = questions["Will the slides be shared?"]
    assert slides.data["answered"] and slides.author is not None and slides.author.name == "Jill"
    assert "@" not in slides.author.id  # the asker's address is not used as an id
    expected_id = fake.webinars[WEBINAR].questions[0]["question_id"]
    assert slides.platform_message_id == expected_id
    report = next(e for e in zoom.of(Kind.stream_state) if e.data.get("event") == "poll_report")
    assert report.data["respondents"] == 3
    assert report.data["polls"] == [
        {"polling_id": "p1", "question": "Best day?", "answers": {"Friday": 2, "Monday": 1}}
    ]


@ONE_BACKEND
async def test_delete_works_refusals_are_reported_and_ban_is_not_supported(zoom: Zoom) -> None:
    fake, bus, event_id, source_id = zoom.fake, zoom.stack.bus, zoom.source.event_id, zoom.source.id
    fake.start(WEBINAR)
    fake.chat(WEBINAR, "msg-spam", "buy now", "Spammer")
    await fake.settle()
    await zoom.envelopes(lambda seen: any(e.kind is Kind.chat for e in seen))
    params = {"message_id": "msg-spam", "author_id": "session-spammer"}
    for action in (
        Action("a1", "delete", source_id, params),
        Action("a2", "delete", source_id, params),  # already deleted: Zoom refuses
        Action("a3", "ban", source_id, params),
        Action("a4", "timeout", source_id, {**params, "duration_s": 300}),
    ):
        await bus.add_command(event_id, source_id, action.to_json())

    def results(seen: list[Envelope]) -> bool:
        return len([e for e in seen if e.kind is Kind.moderation_result]) == 4

    await zoom.envelopes(results)
    by_id = {e.data["action_id"]: e.data for e in zoom.of(Kind.moderation_result)}
    assert by_id["a1"]["status"] == "done"
    assert fake.webinars[WEBINAR].messages["msg-spam"] is True
    assert by_id["a2"]["status"] == "failed" and "does not exist" in by_id["a2"]["reason"]
    for action_id in ("a3", "a4"):
        assert by_id[action_id]["status"] == "not_supported"
        assert "no REST call" in by_id[action_id]["reason"]
    deletes = [c for c in fake.calls if c[0] == "DELETE"]
    assert deletes[0][1] == f"/v2/live_webinars/{WEBINAR}/chat/messages/msg-spam"


@ONE_BACKEND
async def test_secrets_never_reach_logs_or_health(
    zoom: Zoom, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = zoom.fake
    body = b"not json"
    await fake.post(body, fake.signed_headers(body))  # dead-lettered, logged
    stamp = str(int(time.time()))
    forged = {"x-zm-request-timestamp": stamp, "x-zm-signature": zm_sign("other", stamp, body)}
    assert (await fake.post(body, forged)).status_code == 401
    fake.start(WEBINAR)
    fake.chat(WEBINAR, "m1", "hi", "Jill")
    await fake.settle()
    await zoom.envelopes(lambda seen: any(e.kind is Kind.chat for e in seen))
    bad = Action("x1", "delete", zoom.source.id, {"message_id": "missing"})
    await zoom.stack.bus.add_command(zoom.source.event_id, zoom.source.id, bad.to_json())
    await zoom.envelopes(lambda seen: any(e.kind is Kind.moderation_result for e in seen))
    await zoom.connector.report_health()
    health = await zoom.stack.bus.read_health(zoom.source.event_id)
    texts = [r.getMessage() for r in caplog.records] + [h.decode() for h in health.values()]
    texts.append(repr(zoom.connector.credentials))
    assert any("dead-lettered" in t for t in texts)
    for secret in (SECRET, CLIENT_SECRET):
        assert not [t for t in texts if secret in t]


@contextlib.asynccontextmanager
async def running(stack: Stack, source: Source, fake: ZoomFake) -> AsyncIterator[Zoom]:
    """The app's /hooks route registered with the fake, and a started connector."""
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    async with run_server(app) as server:
        await fake.register(f"{server.base_url}/hooks/{source.id}")
        connector = build(stack, source)
        await connector.start(timeout=5)
        zoom = Zoom(stack, source, fake, server, connector, [])
        try:
            yield zoom
        finally:
            await zoom.connector.stop(drain_timeout=1)


async def acknowledged_all(zoom: Zoom) -> None:
    await inbox_acknowledged(zoom.stack.bus, zoom.source.event_id, zoom.source.id)


async def until_true(check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


@ONE_BACKEND
@pytest.mark.parametrize(
    ("credential", "value", "status"),
    [
        ("client_secret", "wrong-client-secret-5c3d71", 401),
        ("account_id", "someone-elses-account", 400),
    ],
)
async def test_a_refused_oauth_token_is_reported_and_webhooks_keep_flowing(
    stack: Stack,
    event: Event,
    caplog: pytest.LogCaptureFixture,
    credential: str,
    value: str,
    status: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with ZoomFake(secret=SECRET, client_secret=CLIENT_SECRET) as fake:
        source = await add_zoom_source(stack, event, fake, credentials={credential: value})
        async with running(stack, source, fake) as zoom:
            fake.start(WEBINAR)
            fake.ask(WEBINAR, "Jill", "Slides?")
            fake.end(WEBINAR)  # the report import asks for a token, and is refused
            await fake.settle()
            health = zoom.connector.health
            await until_true(lambda: bool(health.last_error), "the refusal in health", 3.0)
            # Webhooks do not need the token: a later meeting's chat still comes in.
            fake.start("83311112222", kind="meeting")
            fake.chat("83311112222", "msg-later", "still here", "Omar", kind="meeting")
            await fake.settle()
            await zoom.envelopes(lambda seen: any(e.kind is Kind.chat for e in seen))
            await zoom.connector.report_health()
            stored = await stack.bus.read_health(source.event_id)
    # One refused token request, no retry storm, no report call without a token.
    assert [c for c in fake.calls if c[1] == "/oauth/token"] == [("POST", "/oauth/token", status)]
    assert not [c for c in fake.calls if "/report/" in c[1]]
    reported = orjson.loads(stored[source.id])
    assert reported["state"] == ConnectorState.connected  # not FAILED: webhooks still work
    error = reported["last_error"] or ""
    assert f"report for webinar {WEBINAR} not imported" in error
    assert f"({status} " in error and "client_secret" in error  # says what to check
    texts = [r.getMessage() for r in caplog.records if not r.name.startswith("aiosqlite")]
    texts += [h.decode() for h in stored.values()]
    assert any(error in t for t in texts)  # logged once, as a warning
    for secret in (SECRET, CLIENT_SECRET, "wrong-client-secret-5c3d71"):
        assert not [t for t in texts if secret in t], secret


@ONE_BACKEND
async def test_an_expired_token_is_renewed_once_and_the_import_succeeds(
    stack: Stack, event: Event
) -> None:
    async with ZoomFake(secret=SECRET, client_secret=CLIENT_SECRET, token_ttl_s=10**6) as fake:
        source = await add_zoom_source(stack, event, fake)
        async with running(stack, source, fake) as zoom:
            fake.start(WEBINAR)
            fake.chat(WEBINAR, "msg-1", "spam", "Spammer")
            await fake.settle()
            await zoom.envelopes(lambda seen: any(e.kind is Kind.chat for e in seen))
            delete = Action("d1", "delete", source.id, {"message_id": "msg-1"})
            assert (await zoom.connector.perform(delete)).status == "done"  # token one
            fake.expire_tokens()  # an hour later, as far as Zoom is concerned
            fake.ask(WEBINAR, "Jill", "Is there a replay?")
            fake.end(WEBINAR)
            await fake.settle()
            await zoom.envelopes(lambda seen: any(e.kind is Kind.question for e in seen))
    assert [q.text for q in zoom.of(Kind.question)] == ["Is there a replay?"]
    tokens = [c for c in fake.calls if c[1] == "/oauth/token"]
    assert tokens == [("POST", "/oauth/token", 200)] * 2
    qa = [status for _m, path, status in fake.calls if path.endswith("/qa")]
    assert qa == [401, 200]  # refused once with the expired token, then imported
    assert zoom.connector.health.last_error is None


async def test_a_new_instance_takes_over_what_the_stopped_one_left_unacknowledged(
    zoom: Zoom,
) -> None:
    fake, bus, event_id, source_id = zoom.fake, zoom.stack.bus, zoom.source.event_id, zoom.source.id
    fake.start(WEBINAR)
    fake.participant(WEBINAR, "joined", "uuid-a", "Ana")
    fake.participant(WEBINAR, "joined", "uuid-b", "Bo")
    await fake.settle()

    def count(seen: list[Envelope]) -> int | None:
        viewers = [e for e in seen if e.kind is Kind.viewers]
        return viewers[-1].data["count"] if viewers else None

    await zoom.envelopes(lambda seen: count(seen) == 2)
    await acknowledged_all(zoom)
    await zoom.connector.stop(drain_timeout=1)  # the worker loses its lease
    # Meanwhile Zoom's deliveries are still answered at once and wait in the inbox.
    fake.participant(WEBINAR, "joined", "uuid-c", "Cy")
    fake.participant(WEBINAR, "left", "uuid-a", "Ana")
    fake.chat(WEBINAR, "msg-gap", "anyone there?", "Cy")
    await fake.settle()
    assert all(a.acknowledged for a in fake.attempts)
    # A worker took some and died before acknowledging them: they stay pending.
    assert await bus.read_inbox(event_id, source_id, 10, 10)

    zoom.connector = build(zoom.stack, zoom.source)  # the next holder of the lease
    await zoom.connector.start(timeout=5)
    await zoom.envelopes(
        lambda seen: any(e.platform_message_id == "msg-gap" for e in seen) and count(seen) == 2
    )
    assert [e.platform_message_id for e in zoom.of(Kind.chat)] == ["msg-gap"]  # once
    # Each once; the pending ones first, so not necessarily in the order Zoom sent them.
    moves = sorted((e.data["participant_uuid"], e.data["action"]) for e in zoom.of(Kind.presence))
    assert moves == [("uuid-a", "join"), ("uuid-a", "leave"), ("uuid-b", "join"),
                     ("uuid-c", "join")]  # fmt: skip
    assert zoom.connector.headcount.total() == 2  # Bo and Cy: the count survived the takeover
    await acknowledged_all(zoom)
