"""The sources panel in headless Chromium, with the simulator running as in the demo:
see sources connected, pause one, add a webhook source and copy its URL, and watch a
signed but malformed delivery land in the dead letters (its payload shown as text)."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from typing import Any

import httpx
import pytest
from playwright.async_api import expect
from sqlalchemy import select

from app.connectors import signatures
from app.events.models import Source
from app.main import create_app
from tests.conftest import Seeded, Stack, run_server

pytestmark = pytest.mark.e2e

HOSTILE = '<img src=x onerror="alert(1)">{"event": broken'
SECRET = "whsec_" + base64.b64encode(b"e2e-webhook-secret-4471").decode()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_sources_panel_pause_add_webhook_and_dead_letters(
    stack: Stack, seeded: Seeded, browser: Any
) -> None:
    app = create_app(stack.settings, db=stack.db, bus=stack.bus, embedded_worker=True)
    twitch = seeded.sources[0]
    async with run_server(app) as server:
        page = await browser.new_page(viewport={"width": 1500, "height": 1000})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), asyncio.ensure_future(d.dismiss())))
        try:
            await page.goto(server.base_url + "/")
            await page.fill("input[name=username], input#username", "admin")
            await page.fill("input[type=password]", seeded.admin_password)
            await page.click("button[type=submit]")
            await page.click(f"text={seeded.event.title}")
            await page.wait_for_selector("#connection-badge[data-status=live]", timeout=10_000)

            await page.click("#sources-button")
            panel = page.locator("#sources-panel")
            connected = panel.locator(".source-row[data-state=connected]")
            # The supervisor starts the simulator within a couple of seconds.
            await expect(connected).to_have_count(3, timeout=15_000)
            twitch_row = panel.locator(f".source-row[data-id='{twitch.id}']")
            await expect(twitch_row.locator(".fresh-text")).to_have_text(
                re.compile(r"last message \d+ s ago"), timeout=15_000
            )
            await expect(twitch_row.locator(".chip.cap").first).to_be_visible()

            await twitch_row.get_by_role("button", name="Pause").click()
            await expect(twitch_row).to_have_attribute("data-state", "paused", timeout=5_000)
            await expect(twitch_row.get_by_role("button", name="Resume")).to_be_visible()
            async with stack.db.sessions() as session:
                row = await session.get(Source, twitch.id)
                assert row is not None and row.enabled is False and row.version == 2

            await page.click("#add-source")
            form = panel.locator("form.source-form")
            await form.locator("select[name=platform]").select_option("webhook")
            await form.locator("input[name=name]").fill("Partner feed")
            await form.locator("input[name='credential-secret']").fill(SECRET)
            await form.get_by_role("button", name="Add source").click()
            await expect(form).to_have_count(0, timeout=5_000)
            async with stack.db.sessions() as session:
                hook = await session.scalar(select(Source).where(Source.name == "Partner feed"))
                assert hook is not None and hook.credentials == {"secret": SECRET}
            hook_row = panel.locator(f".source-row[data-id='{hook.id}']")
            await expect(hook_row.locator(".webhook-url")).to_have_value(
                f"{server.base_url}/hooks/{hook.id}"
            )
            assert SECRET not in await page.content()

            # A malformed delivery, signed as the sender would: the route takes it, the
            # connector (started by the supervisor) sets it aside.
            stamp = int(time.time())
            headers = signatures.sign([SECRET], "delivery-1", stamp, HOSTILE.encode())
            async with httpx.AsyncClient(base_url=server.base_url) as sender:
                sent = await sender.post(f"/hooks/{hook.id}", content=HOSTILE, headers=headers)
            assert sent.status_code == 204, sent.text
            letter = panel.locator(".dead-letter").first
            await expect(letter).to_be_visible(timeout=15_000)
            await expect(letter.locator(".reason")).to_contain_text("not JSON")
            assert await letter.locator("pre.payload").inner_text() == HOSTILE
            assert await panel.locator(".dead-letters img").count() == 0
            await expect(letter.locator(".src")).to_have_text("Partner feed")
            malformed = hook_row.locator(".stat", has_text="malformed").locator(".mono")
            await expect(malformed).to_have_text("1", timeout=10_000)
            await asyncio.sleep(0.3)
            assert dialogs == [], "a dead letter's payload ran script"
        finally:
            await page.close()
