"""Owncast through the real app: /hooks verification, the inbox, polling, moderation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from app.connectors.base import Action, ConnectorState
from app.connectors.clock import ScaledClock
from app.connectors.owncast import OwncastConnector
from app.events import service as events
from app.events.models import Source
from app.main import create_app
from tests.conftest import Seeded, Stack
from tests.fakes.owncast import ADMIN_SCOPE, SEND_SCOPE, ChatUser, FakeOwncast

SECRET = "whook-s3cret-owncast-1"
ADMIN_TOKEN = "admin-t0ken-owncast-2"
SEND_ONLY_TOKEN = "send-only-t0ken-3"
# For what does not depend on the bus (polling, REST calls), one backend is enough.
ONE_BACKEND = pytest.mark.parametrize("backend", ["embedded"])


@dataclass
class Harness:
    stack: Stack
    event_id: str
    source: Source
    fake: FakeOwncast
    connector: OwncastConnector
    hooks: httpx.AsyncClient
    moderator: ChatUser
    viewer: ChatUser

    async def envelopes(
        self, check: Callable[[list[dict]], bool], timeout: float = 5.0
    ) -> list[dict]:
        """Ingest envelopes read so far, once `check` holds for them."""
        got: list[dict] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entries = await self.stack.bus.read_ingest("test", [self.event_id], 500, block_ms=50)
            got += [orjson.loads(e.payload) for e in entries]
            if check(got):
                return got
        raise AssertionError(f"envelopes never matched; got {[e['kind'] for e in got]}")

    async def perform(self, kind: str, **params: Any) -> Any:
        return await self.connector.perform(Action("a1", kind, self.source.id, params))

    async def post_hook(self, body: bytes, headers: dict[str, str] | None = None) -> int:
        response = await self.hooks.post(f"/hooks/{self.source.id}", content=body, headers=headers)
        return response.status_code


MakeHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def owncast(stack: Stack, seeded: Seeded) -> AsyncIterator[MakeHarness]:
    """Builds a source, the app (for /hooks), a fake Owncast and the running connector."""
    exits = contextlib.AsyncExitStack()
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    await exits.enter_async_context(app.router.lifespan_context(app))
    transport = httpx.ASGITransport(app=app)
    hooks = await exits.enter_async_context(
        httpx.AsyncClient(transport=transport, base_url="http://t")
    )

    async def make(
        *,
        config: dict[str, Any] | None = None,
        credentials: dict[str, str] | None = None,
        signed: bool = True,
        legacy: bool = False,
        clock_speed: float | None = None,
        start: bool = True,
    ) -> Harness:
        tokens = {ADMIN_TOKEN: {ADMIN_SCOPE, SEND_SCOPE}, SEND_ONLY_TOKEN: {SEND_SCOPE}}
        fake = await exits.enter_async_context(
            FakeOwncast(
                tokens=tokens,
                webhook_transport=transport,
                webhook_secret=SECRET if signed else None,
                legacy=legacy,
                speed=clock_speed or 1.0,
            )
        )
        moderator = fake.user("Mia", moderator=True)
        viewer = fake.user("lazyDaisy")
        async with stack.db.sessions() as session:
            source = await events.add_source(
                session,
                seeded.event,
                "owncast",
                f"owncast-{len(fake.users)}-{time.monotonic_ns()}",
                config={"server_url": fake.url, "status_poll_s": 0.1, **(config or {})},
            )
            source.credentials = (
                credentials
                if credentials is not None
                else {
                    "webhook_secret": SECRET,
                    "access_token": ADMIN_TOKEN,
                    "moderator_token": moderator.token,
                }
            )
            await session.commit()
        fake.webhook_url = f"http://t/hooks/{source.id}"
        kwargs: dict[str, Any] = {"clock": ScaledClock(clock_speed)} if clock_speed else {}
        connector = OwncastConnector.for_source(stack.bus, source, **kwargs)
        assert isinstance(connector, OwncastConnector)
        if start:
            await connector.start(timeout=5)
            exits.push_async_callback(connector.stop)
        return Harness(stack, seeded.event.id, source, fake, connector, hooks, moderator, viewer)

    try:
        yield make
    finally:
        await exits.aclose()


def of_kind(kind: str) -> Callable[[dict], bool]:
    return lambda e: e["kind"] == kind


async def test_signed_deliveries_are_verified_and_parsed(owncast: MakeHarness) -> None:
    h = await owncast(config={"status_poll_s": 0})
    h.fake.set_viewers(3)
    message_id, sent = await h.fake.chat(h.viewer, "hello <world> :beerparrot:")
    assert sent.status == 204 and "owncast-signature" in sent.headers
    await h.fake.joined(h.viewer)
    await h.fake.parted(h.viewer)
    await h.fake.rename(h.viewer, "busyDaisy")
    await h.fake.stream("STREAM_STARTED", "Launch day")
    await h.fake.stream("STREAM_TITLE_UPDATED", "Launch day: Q&A")
    await h.fake.stream("STREAM_STOPPED")
    got = await h.envelopes(lambda g: sum(e["kind"] != "viewers" for e in g) == 7)
    chat = next(e for e in got if e["kind"] == "chat")
    assert chat["platform_message_id"] == message_id
    assert chat["text"] == "hello <world> :beerparrot:"  # rawBody, not the HTML body
    assert chat["author"] == {"id": h.viewer.id, "name": "lazyDaisy", "roles": []}
    # Owncast's nanosecond stamp, kept to the microsecond.
    assert chat["platform_at"][:26] == h.fake.messages[message_id]["timestamp"][:26]
    presence = [e["data"]["action"] for e in got if e["kind"] == "presence"]
    assert presence == ["join", "leave"]
    states = [e["data"] for e in got if e["kind"] == "stream_state"]
    assert states[0] == {
        "event": "name_change",
        "user_id": h.viewer.id,
        "old_name": "lazyDaisy",
        "new_name": "busyDaisy",
    }
    assert [s["event"] for s in states[1:]] == ["stream_started", "title_updated", "stream_stopped"]
    assert states[2]["title"] == "Launch day: Q&A"
    viewers = [e["data"]["count"] for e in got if e["kind"] == "viewers"]
    assert viewers and set(viewers) == {3}  # every delivery's status.viewerCount


async def test_tampered_stale_or_unsigned_deliveries_are_refused(
    stack: Stack, owncast: MakeHarness
) -> None:
    # No connector runs: what the door lets in stays in the inbox for this test to see.
    h = await owncast(config={"status_poll_s": 0}, start=False)
    h.fake.tamper_next = True
    _, tampered = await h.fake.chat(h.viewer, "tampered")
    h.fake.stale_next_s = 301
    _, stale = await h.fake.chat(h.viewer, "replayed")
    h.fake.clock_offset_s = -299  # a server clock a little behind is still fine
    _, slightly_off = await h.fake.chat(h.viewer, "a bit late")
    h.fake.clock_offset_s = 0
    message = orjson.dumps({"type": "CHAT", "eventData": {"id": "x"}})
    unsigned = await h.post_hook(message, {"content-type": "application/json"})
    wrong = await h.post_hook(message, {"owncast-signature": f"t={int(time.time())}.s=00ff"})
    assert (tampered.status, stale.status, unsigned, wrong) == (401, 401, 401, 401)
    assert slightly_off.status == 204
    response = await h.hooks.post(
        f"/hooks/{h.source.id}", content=tampered.body, headers=tampered.headers
    )
    assert "body was changed" in response.text
    response = await h.hooks.post(
        f"/hooks/{h.source.id}", content=stale.body, headers=stale.headers
    )
    assert "tolerance" in response.text
    inbox = await stack.bus.read_inbox(h.event_id, h.source.id, count=100, block_ms=10)
    assert len(inbox) == 1 and b"a bit late" in inbox[0].payload


async def test_unsigned_deliveries_only_when_signed_is_false(owncast: MakeHarness) -> None:
    old = await owncast(signed=False, config={"signed": False, "status_poll_s": 0})
    _, sent = await old.fake.chat(old.viewer, "from a 0.2 server")
    assert sent.status == 204 and "owncast-signature" not in sent.headers
    got = await old.envelopes(lambda g: any(e["kind"] == "chat" for e in g))
    assert [e["text"] for e in got if e["kind"] == "chat"] == ["from a 0.2 server"]

    strict = await owncast(signed=False, config={"status_poll_s": 0})
    _, refused = await strict.fake.chat(strict.viewer, "unsigned to a signed source")
    assert refused.status == 401


async def test_malformed_and_unknown_deliveries_are_dead_lettered(
    stack: Stack, owncast: MakeHarness
) -> None:
    h = await owncast(signed=False, config={"signed": False, "status_poll_s": 0})
    assert await h.post_hook(b'{"type": "CHAT", "eventData": ') == 204
    await h.fake.deliver("SOMETHING_NEW", {"id": "n1"})
    await h.fake.deliver("CHAT", {"id": "no-raw", "body": "<p>html only</p>", "user": {"id": "u"}})
    await h.fake.deliver("VISIBILITY-UPDATE", {"ids": "not-a-list", "visible": False})
    await h.fake.chat(h.viewer, "still flowing")
    got = await h.envelopes(lambda g: any(e["kind"] == "chat" for e in g))
    assert [e["text"] for e in got if e["kind"] == "chat"] == ["still flowing"]
    for _ in range(100):
        letters = await stack.bus.dead_letters(h.event_id)
        if len(letters) >= 4:
            break
        await asyncio.sleep(0.02)
    reasons = " | ".join(letter.reason for letter in letters)
    assert len(letters) == 4, reasons
    assert "body is not JSON" in reasons
    assert "unknown Owncast event type 'SOMETHING_NEW'" in reasons
    assert "rawBody is missing" in reasons
    assert "eventData.ids is not a list" in reasons
    assert all(letter.source_id == h.source.id for letter in letters)


async def test_viewer_count_is_polled_from_status(owncast: MakeHarness) -> None:
    h = await owncast()
    h.fake.set_viewers(42)
    got = await h.envelopes(lambda g: any(e["data"].get("count") == 42 for e in g))
    assert all(e["kind"] == "viewers" for e in got)
    h.fake.online = False  # Owncast keeps the last count after the stream ends
    got = await h.envelopes(lambda g: any(e["data"].get("online") is False for e in g))
    offline = next(e for e in got if e["data"].get("online") is False)
    assert offline["data"]["count"] == 0
    assert ("GET", "/api/status", 200) in h.fake.requests


async def test_hide_through_the_command_stream_emits_visibility_update(
    stack: Stack, owncast: MakeHarness
) -> None:
    h = await owncast(config={"status_poll_s": 0})
    message_id, _ = await h.fake.chat(h.viewer, "spam spam")
    await h.envelopes(lambda g: any(e["kind"] == "chat" for e in g))
    command = Action("act-1", "delete", h.source.id, {"message_id": message_id, "author_id": "x"})
    await stack.bus.add_command(h.event_id, h.source.id, command.to_json())
    got = await h.envelopes(
        lambda g: {"moderation_result", "stream_state"} <= {e["kind"] for e in g}
    )
    result = next(e for e in got if e["kind"] == "moderation_result")
    assert result["data"]["status"] == "done" and result["data"]["action_id"] == "act-1"
    update = next(e for e in got if e["kind"] == "stream_state")
    assert update["data"] == {"event": "visibility", "ids": [message_id], "visible": False}
    assert h.fake.messages[message_id]["visible"] is False


@ONE_BACKEND
async def test_scopes_and_moderator_tokens_are_checked(owncast: MakeHarness) -> None:
    h = await owncast(
        config={"status_poll_s": 0},
        credentials={
            "webhook_secret": SECRET,
            "access_token": SEND_ONLY_TOKEN,
            "moderator_token": "not-a-moderator-token",
        },
    )
    message_id, _ = await h.fake.chat(h.viewer, "hello")
    hide = await h.perform("delete", message_id=message_id)
    assert hide.status == "failed" and "403" in hide.reason and "HAS_ADMIN_ACCESS" in hide.reason
    ban = await h.perform("ban", message_id=message_id, author_id=h.viewer.id)
    assert ban.status == "failed" and "moderator" in ban.reason and "401" in ban.reason
    assert h.fake.users[h.viewer.id].enabled
    sent = await h.perform("send_message", text="welcome!")
    assert sent.status == "done"
    assert ("POST", "/api/integrations/chat/send", 200) in h.fake.requests

    bare = await owncast(config={"status_poll_s": 0}, credentials={"webhook_secret": SECRET})
    missing = await bare.perform("delete", message_id=message_id)
    assert missing.status == "failed" and "access_token" in missing.reason


async def test_ban_and_emulated_timeout(owncast: MakeHarness) -> None:
    h = await owncast(config={"status_poll_s": 0}, clock_speed=100)
    ban = await h.perform("ban", author_id=h.viewer.id, message_id="m1")
    assert ban.status == "done" and not h.fake.users[h.viewer.id].enabled
    other = h.fake.user("Rowdy")
    timeout = await h.perform("timeout", author_id=other.id, duration_s=30)
    assert timeout.status == "done" and "emulated" in timeout.reason
    assert not other.enabled
    for _ in range(200):  # 30 s at 100x
        if other.enabled:
            break
        await asyncio.sleep(0.01)
    assert other.enabled, "the emulated timeout was never lifted"
    assert not h.fake.users[h.viewer.id].enabled  # the ban stays


@ONE_BACKEND
async def test_legacy_server(owncast: MakeHarness) -> None:
    h = await owncast(legacy=True, config={"status_poll_s": 0, "legacy_endpoints": True})
    message_id, _ = await h.fake.chat(h.viewer, "old server")
    await h.fake.joined(h.viewer)  # sent as NAME_CHANGE without newName
    got = await h.envelopes(lambda g: any(e["kind"] == "presence" for e in g))
    assert next(e for e in got if e["kind"] == "presence")["data"]["action"] == "join"
    hide = await h.perform("hide", message_id=message_id)
    assert hide.status == "done"
    assert ("POST", "/api/integrations/chat/updatemessagevisibility", 200) in h.fake.requests

    modern = await owncast(legacy=True, config={"status_poll_s": 0})
    failed = await modern.perform("delete", message_id=message_id)
    assert failed.status == "failed" and "legacy_endpoints" in failed.reason


async def test_secrets_never_reach_logs_or_health(
    owncast: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    h = await owncast()
    wrong = await owncast(
        config={"status_poll_s": 0},
        credentials={
            "webhook_secret": SECRET,
            "access_token": SEND_ONLY_TOKEN,
            "moderator_token": "wrong-moderator-t0ken",
        },
    )
    message_id, _ = await h.fake.chat(h.viewer, "hi")
    await h.perform("ban", author_id=h.viewer.id)
    await h.perform("timeout", author_id=h.viewer.id, duration_s=5)
    await h.perform("delete", message_id=message_id)
    await wrong.perform("ban", author_id=h.viewer.id)
    await wrong.perform("delete", message_id=message_id)
    h.fake.tamper_next = True
    await h.fake.chat(h.viewer, "tampered")
    await h.envelopes(lambda g: any(e["kind"] == "chat" for e in g))
    secrets = [SECRET, ADMIN_TOKEN, SEND_ONLY_TOKEN, h.moderator.token, "wrong-moderator-t0ken"]
    health = orjson.dumps([h.connector.health_dict(), wrong.connector.health_dict()]).decode()
    # The database driver's DEBUG echo of this test's own INSERT of the source is not ours.
    records = [r.getMessage() for r in caplog.records if not r.name.startswith("aiosqlite")]
    assert any("/api/chat/users/setenabled" in r for r in records)  # httpx did log the call
    for secret in secrets:
        assert secret not in health
        assert not [r for r in records if secret in r], secret
    assert h.connector.health.state is ConnectorState.connected


async def until_true(check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_a_delivery_posted_twice_becomes_one_envelope(owncast: MakeHarness) -> None:
    h = await owncast(config={"status_poll_s": 0})
    _, chat = await h.fake.chat(h.viewer, "once, please")
    joined = await h.fake.joined(h.viewer)
    # Owncast never retries, but a proxy in front of us may: the same bytes and signature.
    for copy in (chat, joined):
        assert await h.post_hook(copy.body, copy.headers) == 204
    await h.fake.chat(h.viewer, "marker")  # queued after the copies, so handled after them
    got = await h.envelopes(lambda g: any(e.get("text") == "marker" for e in g))
    assert [e["text"] for e in got if e["kind"] == "chat"] == ["once, please", "marker"]
    assert len([e for e in got if e["kind"] == "presence"]) == 1
    assert len({e["platform_message_id"] for e in got}) == len(got)
    assert h.connector.health.malformed == 0


@ONE_BACKEND
@pytest.mark.parametrize("outage", ["503", "server stopped"])
async def test_status_outage_shows_in_health_and_viewers_resume(
    owncast: MakeHarness, outage: str
) -> None:
    h = await owncast()  # polls /api/status every 0.1 s
    h.fake.set_viewers(5)
    await h.envelopes(lambda g: any(e["data"].get("count") == 5 for e in g))
    if outage == "503":
        h.fake.status_error = 503
    else:
        await h.fake.stop_server()
    health = h.connector.health
    await until_true(lambda: "/api/status" in (health.last_error or ""), "the outage in health")
    assert ("503" if outage == "503" else "ConnectError") in (health.last_error or "")
    assert health.state is ConnectorState.connected  # webhooks do not need /api/status
    await h.fake.chat(h.viewer, "during the outage")
    await h.envelopes(lambda g: any(e.get("text") == "during the outage" for e in g))

    if outage == "503":
        h.fake.status_error = None
    else:
        await h.fake.start_server()
    h.fake.set_viewers(8)

    def polled(g: list[dict]) -> bool:
        return any(
            e["kind"] == "viewers"
            and e["platform_message_id"].startswith("viewers:status:")
            and e["data"]["count"] == 8
            for e in g
        )

    await h.envelopes(polled)
    assert len([e for e in health.errors if "/api/status" in e[1]]) >= 1


@ONE_BACKEND
async def test_a_rate_limited_moderation_call_waits_then_succeeds(
    stack: Stack, owncast: MakeHarness
) -> None:
    h = await owncast(config={"status_poll_s": 0}, clock_speed=10)
    message_id, _ = await h.fake.chat(h.viewer, "spam spam")
    await h.envelopes(lambda g: any(e["kind"] == "chat" for e in g))
    # 429 with Retry-After: 3 (0.3 s at 10x); a retry sooner would be refused again.
    h.fake.throttle(3.0)
    command = Action("act-rl", "delete", h.source.id, {"message_id": message_id})
    await stack.bus.add_command(h.event_id, h.source.id, command.to_json())
    got = await h.envelopes(lambda g: any(e["kind"] == "moderation_result" for e in g))
    result = next(e for e in got if e["kind"] == "moderation_result")["data"]
    assert (result["action_id"], result["status"]) == ("act-rl", "done"), result
    statuses = [s for _m, path, s in h.fake.requests if path.endswith("/messagevisibility")]
    assert statuses == [429, 200]  # waited as told, then hid it
    assert h.fake.messages[message_id]["visible"] is False
