"""The console in headless Chromium: log in, watch live chat, and audience HTML stays text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.envelope import Author, Kind, make_envelope
from app.main import create_app
from app.pipeline.worker import PipelineWorker
from tests.conftest import Seeded, Stack, run_server

pytestmark = pytest.mark.e2e

HOSTILE = "<img src=x onerror=alert(1)>"


def chat(seeded: Seeded, pmid: str, text: str) -> bytes:
    source = seeded.sources[0]
    return make_envelope(
        event_id=seeded.event.id,
        source_id=source.id,
        platform="twitch",
        kind=Kind.chat,
        platform_message_id=pmid,
        platform_at=datetime.now(UTC),
        author=Author(id="viewer1", name="<b>Mallory</b>"),
        text=text,
    ).to_json()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_log_in_and_see_live_chat_as_text(stack: Stack, seeded: Seeded, browser: Any) -> None:
    import asyncio

    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    worker = PipelineWorker(stack.bus, stack.db, consumer="e2e", gauge_interval_s=0.5)
    await stack.bus.mark_event_active(seeded.event.id)
    async with run_server(app) as server:
        pipeline = asyncio.create_task(worker.run())
        page = await browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), asyncio.ensure_future(d.dismiss())))
        try:
            await page.goto(server.base_url + "/")
            await page.fill("input[name=username], input#username", "mod")
            await page.fill("input[type=password]", "mod-pass")
            await page.click("button[type=submit]")
            await page.click(f"text={seeded.event.title}")
            await page.wait_for_selector("#connection-badge[data-status=live]", timeout=10_000)

            await stack.bus.add_ingest(
                seeded.event.id,
                [chat(seeded, "m1", "hello from twitch"), chat(seeded, "m2", HOSTILE)],
            )
            await page.wait_for_selector(".chat-row >> text=hello from twitch", timeout=10_000)
            hostile_row = page.locator(".chat-text", has_text=HOSTILE)
            await hostile_row.wait_for(timeout=10_000)
            assert await hostile_row.inner_text() == HOSTILE
            # Rendered as text: no <img> element was created from audience input.
            assert await page.locator(".chat-row img").count() == 0
            assert await page.locator("text=<b>Mallory</b>").count() >= 1
            await asyncio.sleep(0.5)
            assert dialogs == [], "audience HTML ran script"
            await page.wait_for_function(
                "document.querySelector('#gauge-messages-per-min')?.dataset.value >= 2",
                timeout=10_000,
            )
        finally:
            await page.close()
            pipeline.cancel()
            await asyncio.gather(pipeline, return_exceptions=True)
