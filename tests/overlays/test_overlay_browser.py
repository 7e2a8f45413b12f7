"""The overlay pages in headless Chromium at 1920x1080: text, numbers, a transparent page."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_app
from tests.conftest import Seeded, Stack, run_server
from tests.overlays.helpers import (
    OPTIONS,
    POLL_TITLE,
    VOTES,
    live_cue,
    poll_with_votes,
    question_on_deck,
)

pytestmark = pytest.mark.e2e


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_overlays_render_in_chromium(
    stack: Stack, seeded: Seeded, browser: Any, tmp_path: Path
) -> None:
    await poll_with_votes(stack, seeded)
    await question_on_deck(stack, seeded)
    await live_cue(stack, seeded, "Opening keynote")
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    async with run_server(app) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as admin:
            login = {"username": "admin", "password": seeded.admin_password}
            assert (await admin.post("/api/auth/login", json=login)).status_code == 200
            made = (await admin.post(f"/api/events/{seeded.event.id}/overlays")).json()
        page = await browser.new_page(viewport={"width": 1920, "height": 1080})
        try:
            await page.goto(server.base_url + made["urls"]["poll"])
            await page.wait_for_selector(f".poll .title >> text={POLL_TITLE}", timeout=10_000)
            await page.wait_for_selector(".bar[data-position='1'] .percent >> text=63%")
            shot = tmp_path / "poll.png"
            data = await page.screenshot(path=str(shot), omit_background=True)
            assert shot.stat().st_size > 1000 and png_size(data) == (1920, 1080)

            text = await page.inner_text("main")
            assert POLL_TITLE in text
            for label, votes in zip(OPTIONS, VOTES, strict=True):
                assert label in text
                bar = page.locator(f".bar:has-text('{label}')")
                assert await bar.get_attribute("data-votes") == str(votes)
            assert "63%" in text and "37%" in text and "0%" in text  # 62.5 / 37.5: sums to 100
            assert f"{sum(VOTES)} votes" in text
            for element in ("html", "body"):
                color = await page.eval_on_selector(
                    element, "e => getComputedStyle(e).backgroundColor"
                )
                assert color == "rgba(0, 0, 0, 0)", (element, color)

            await page.goto(server.base_url + made["urls"]["question"])
            await page.wait_for_selector(".question >> text=Asker 0", timeout=10_000)
            assert "feature number 0" in await page.inner_text("main")

            await page.goto(server.base_url + made["urls"]["segment"])
            await page.wait_for_selector(".lower-third >> text=Opening keynote", timeout=10_000)
            lower = await page.inner_text(".lower-third")
            assert seeded.event.title.upper() in lower.upper() and "HOST" in lower.upper()
            assert "9:5" in lower or "10:00" in lower  # the 10-minute countdown has begun

            # Revoked: the page goes blank on its next poll.
            async with httpx.AsyncClient(base_url=server.base_url) as admin:
                await admin.post("/api/auth/login", json=login)
                url = f"/api/events/{seeded.event.id}/overlays/{made['id']}"
                assert (await admin.delete(url)).status_code == 200
            await page.wait_for_selector("main[data-status=refused]", timeout=5_000)
            assert await page.locator(".lower-third").count() == 0
        finally:
            await page.close()
