"""The WebSocket hub over a real uvicorn server, on both stacks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import websockets

from app.main import create_app
from tests.conftest import RunningServer, Seeded, Stack, run_server
from tests.wsclient import StalledConsole, login_cookie, open_console, recv_json, recv_until


def chat_item(n: int, pad: int = 0) -> tuple[str, bytes]:
    data = {"id": f"m{n}", "text": f"message {n}" + "x" * pad}
    return "chat", orjson.dumps({"topic": "chat", "type": "chat.message", "data": data})


@contextlib.asynccontextmanager
async def serving(stack: Stack, **settings: Any) -> AsyncIterator[tuple[Any, RunningServer]]:
    """The app on a real server, with some settings changed for one test."""
    app = create_app(stack.settings.model_copy(update=settings), db=stack.db, bus=stack.bus)
    async with run_server(app) as running:
        yield app, running


@pytest.fixture
async def server(stack: Stack, seeded: Seeded) -> AsyncIterator[RunningServer]:
    async with serving(stack) as (_app, running):
        yield running


async def collect_chat(ws: object, want: int, timeout: float = 10.0) -> list[dict]:
    items: list[dict] = []
    while len(items) < want:
        frame = await recv_json(ws, timeout)
        if frame["type"] == "batch":
            items += [i for i in frame["items"] if i["topic"] == "chat"]
    return items


async def test_hello_snapshot_then_live_batches(
    server: RunningServer, stack: Stack, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    cookie = await login_cookie(server.base_url, "mod", "mod-pass")
    await stack.bus.publish_live(event_id, [chat_item(0)])
    ws = await open_console(server.ws_url, event_id, cookie)
    hello = await recv_json(ws)
    assert hello["type"] == "hello" and hello["resumed"] is False
    assert hello["seq"] == 1
    assert set(hello["snapshot"]) >= {"chat", "questions", "gauges", "moderation"}
    await stack.bus.publish_live(event_id, [chat_item(1), chat_item(2)])
    items = await collect_chat(ws, 2)
    assert [i["seq"] for i in items] == [2, 3]
    assert [i["data"]["id"] for i in items] == ["m1", "m2"]
    await ws.close()


async def test_resume_replays_exactly_the_missed_deltas_in_order(
    server: RunningServer, stack: Stack, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    cookie = await login_cookie(server.base_url, "mod", "mod-pass")
    ws = await open_console(server.ws_url, event_id, cookie)
    await recv_until(ws, "hello")
    await stack.bus.publish_live(event_id, [chat_item(0)])
    frame = await recv_until(ws, "batch")
    last_seen = frame["seq_to"]
    await ws.close()

    for n in range(1, 1001, 10):  # 1,000 deltas published while away, in batches of 10
        await stack.bus.publish_live(event_id, [chat_item(k) for k in range(n, n + 10)])

    ws = await open_console(server.ws_url, event_id, cookie, since=last_seen)
    hello = await recv_json(ws)
    assert hello["type"] == "hello" and hello["resumed"] is True
    assert hello["replayed"] == 1000 and hello["snapshot"] is None
    items = await collect_chat(ws, 1000)
    assert [i["data"]["id"] for i in items] == [f"m{k}" for k in range(1, 1001)]
    assert [i["seq"] for i in items] == list(range(last_seen + 1, last_seen + 1001))
    # and then live again, nothing twice
    await stack.bus.publish_live(event_id, [chat_item(1001)])
    nxt = await collect_chat(ws, 1)
    assert nxt[0]["data"]["id"] == "m1001" and nxt[0]["seq"] == last_seen + 1001
    await ws.close()


async def test_resume_older_than_retention_gets_resync_and_snapshot(
    server: RunningServer, stack: Stack, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    cookie = await login_cookie(server.base_url, "mod", "mod-pass")
    retention = stack.settings.live_retention
    for _ in range(retention // 500 + 4):
        await stack.bus.publish_live(event_id, [chat_item(0)] * 500)
    ws = await open_console(server.ws_url, event_id, cookie, since=5)
    first = await recv_json(ws)
    assert first["type"] == "resync" and "retention" in first["reason"]
    hello = await recv_json(ws)
    assert hello["type"] == "hello" and hello["resumed"] is False
    assert hello["snapshot"] is not None
    assert hello["seq"] == await stack.bus.live_seq(event_id)
    await ws.close()


async def test_topics_filter_what_a_console_receives(
    server: RunningServer, stack: Stack, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    cookie = await login_cookie(server.base_url, "mod", "mod-pass")
    ws = await open_console(server.ws_url, event_id, cookie, topics=["questions"])
    await recv_until(ws, "hello")
    question = (
        "questions",
        orjson.dumps({"topic": "questions", "type": "question.created", "data": {"id": "q"}}),
    )
    await stack.bus.publish_live(event_id, [chat_item(1), question, chat_item(2)])
    frame = await recv_until(ws, "batch")
    assert [i["topic"] for i in frame["items"]] == ["questions"]
    assert (frame["seq_from"], frame["seq_to"]) == (1, 3)
    await ws.close()


async def test_stalled_console_is_bounded_and_does_not_hold_back_others(
    stack: Stack, seeded: Seeded
) -> None:
    event_id = seeded.event.id
    async with serving(stack, console_queue_frames=8) as (app, server):
        cookie = await login_cookie(server.base_url, "mod", "mod-pass")
        stalled = StalledConsole()
        await stalled.open(server.ws_url, event_id, cookie)
        fast = await open_console(server.ws_url, event_id, cookie, topics=["chat"])
        await recv_until(fast, "hello")
        hub = app.state.hub
        for _ in range(100):
            if hub.console_count() == 2:
                break
            await asyncio.sleep(0.02)
        assert hub.console_count() == 2, hub.console_count()
        limit_bytes = hub.console_queue_bytes

        total, peak_queued = 0, 0
        reader = asyncio.create_task(collect_chat(fast, 200 * 20, timeout=15))
        for round_ in range(200):  # ~12 MB of deltas, far beyond what the stalled socket buffers
            await stack.bus.publish_live(
                event_id, [chat_item(round_ * 20 + k, pad=3000) for k in range(20)]
            )
            total += 20
            consoles = [c for f in hub.feeds.values() for c in f.consoles]
            peak_queued = max(peak_queued, *(c.queued_bytes for c in consoles))
            await asyncio.sleep(0.005)
        items = await reader
        assert [i["data"]["id"] for i in items] == [f"m{k}" for k in range(total)]
        consoles = [c for f in hub.feeds.values() for c in f.consoles]
        slow = [c for c in consoles if c.resyncs > 0]
        assert len(slow) == 1, "the stalled console should have been sent to resync"
        assert peak_queued <= limit_bytes
        assert all(len(c.queue) <= app.state.settings.console_queue_frames for c in consoles)
        stalled.close()
        await fast.close()


async def test_no_session_is_rejected(server: RunningServer, seeded: Seeded) -> None:
    with pytest.raises(websockets.ConnectionClosed) as info:
        ws = await open_console(server.ws_url, seeded.event.id, None)
        await recv_json(ws)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4401


async def test_not_a_member_is_forbidden(server: RunningServer, seeded: Seeded) -> None:
    cookie = await login_cookie(server.base_url, "outsider", "out-pass")
    with pytest.raises(websockets.ConnectionClosed) as info:
        ws = await open_console(server.ws_url, seeded.event.id, cookie)
        await recv_json(ws)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4403


async def test_foreign_origin_is_refused_at_upgrade(server: RunningServer, seeded: Seeded) -> None:
    cookie = await login_cookie(server.base_url, "mod", "mod-pass")
    with pytest.raises(websockets.InvalidStatus) as info:
        await open_console(server.ws_url, seeded.event.id, cookie, origin="https://evil.example")
    assert info.value.response.status_code == 403


async def test_bearer_token_without_origin_works_for_tools(
    server: RunningServer, stack: Stack, seeded: Seeded
) -> None:
    from app.auth import service as auth

    async with stack.db.sessions() as session:
        token = await auth.create_api_token(session, seeded.member, "tool")
        await session.commit()
    ws = await websockets.connect(
        f"{server.ws_url}/ws/events/{seeded.event.id}",
        additional_headers={"Authorization": f"Bearer {token}"},
    )
    await ws.send(orjson.dumps({"type": "subscribe", "topics": ["chat"], "since": None}).decode())
    assert (await recv_json(ws))["type"] == "hello"
    await ws.close()


async def test_a_persons_action_does_not_wait_for_the_batch_interval(
    stack: Stack, seeded: Seeded
) -> None:
    # An interval long enough that only the urgent path can deliver within the test.
    event_id = seeded.event.id
    async with serving(stack, batch_interval_ms=60_000) as (_app, server):
        cookie = await login_cookie(server.base_url, "mod", "mod-pass")
        ws = await open_console(server.ws_url, event_id, cookie)
        await recv_until(ws, "hello")
        await stack.bus.publish_live(event_id, [chat_item(1)])
        assert [i["data"]["id"] for i in await collect_chat(ws, 1)] == ["m1"]  # first: at once
        await stack.bus.publish_live(event_id, [chat_item(2)])
        with pytest.raises(TimeoutError):  # bulk traffic waits for the interval
            await recv_json(ws, timeout=1.0)
        await stack.bus.publish_live(event_id, [chat_item(3)], urgent=True)
        items = await collect_chat(ws, 2, timeout=5.0)
        assert [i["data"]["id"] for i in items] == ["m2", "m3"]  # in order, held one included
        await ws.close()


async def test_heartbeat_pings_reach_an_idle_console(
    stack: Stack, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.ws import hub as hub_module

    monkeypatch.setattr(hub_module, "PING_INTERVAL_S", 0.1)
    async with serving(stack) as (_app, server):
        cookie = await login_cookie(server.base_url, "mod", "mod-pass")
        ws = await open_console(server.ws_url, seeded.event.id, cookie)
        await recv_until(ws, "hello")
        ping = await recv_until(ws, "ping", timeout=3)
        assert "server_time" in ping
        await ws.close()


async def test_permessage_deflate_is_off_unless_configured(
    server: RunningServer, seeded: Seeded
) -> None:
    cookie = await login_cookie(server.base_url, "mod", "mod-pass")
    ws = await websockets.connect(
        f"{server.ws_url}/ws/events/{seeded.event.id}",
        additional_headers={"Cookie": cookie},
        origin=server.base_url,  # type: ignore[arg-type]
        compression="deflate",  # the client offers it
    )
    assert "permessage-deflate" not in (ws.response.headers.get("Sec-WebSocket-Extensions") or "")
    await ws.close()
