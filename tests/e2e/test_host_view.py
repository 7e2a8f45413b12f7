"""The host view in headless Chromium: GO twice through a two-cue sheet, the second
cue opens a drafted poll, chat votes arrive through the pipeline, and the host sees
the live cue change, the poll open and its counts appear as bars. The audience page and
the poll overlay, open in the same browser, show the poll once GO opens it, and a vote
cast on the audience page is counted in the host view and on the overlay."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from app.envelope import Author, Kind, make_envelope
from app.main import create_app
from app.pipeline.worker import PipelineWorker
from tests.conftest import Seeded, Stack, run_server

pytestmark = pytest.mark.e2e

POLL_TITLE = "Which demo next?"
OPTIONS = ["Robots", "Rockets"]


def vote_line(seeded: Seeded, i: int, text: str) -> bytes:
    source = seeded.sources[i % 3]
    return make_envelope(
        event_id=seeded.event.id,
        source_id=source.id,
        platform=source.config["plays"],
        kind=Kind.chat,
        platform_message_id=f"hv{i}-{uuid.uuid4().hex[:6]}",
        platform_at=datetime.now(UTC),
        author=Author(id=f"voter{i}", name=f"Voter {i}"),
        text=text,
    ).to_json()


async def seed_sheet(base_url: str, seeded: Seeded) -> tuple[list[str], str]:
    """A drafted poll and two cues (the second opens the poll), through the REST API."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        login = {"username": "admin", "password": seeded.admin_password}
        (await http.post("/api/auth/login", json=login)).raise_for_status()
        ev = f"/api/events/{seeded.event.id}"

        def key() -> dict[str, str]:
            return {"Idempotency-Key": str(uuid.uuid4())}

        poll = await http.post(
            f"{ev}/polls",
            json={"title": POLL_TITLE, "kind": "single", "options": OPTIONS},
            headers=key(),
        )
        poll.raise_for_status()
        poll_id = poll.json()["id"]
        cue_ids = []
        for body in (
            {"title": "Opening remarks", "planned_duration_s": 300, "owner_role": "host"},
            {
                "title": "Audience poll",
                "planned_duration_s": 120,
                "owner_role": "ops_lead",
                "actions": [{"type": "open_poll", "poll_id": poll_id}],
            },
        ):
            answer = await http.post(f"{ev}/cues", json=body, headers=key())
            answer.raise_for_status()
            cue_ids.append(
                next(c["id"] for c in answer.json()["cues"] if c["title"] == body["title"])
            )
        return cue_ids, poll_id


async def audience_and_overlay_urls(base_url: str, seeded: Seeded) -> tuple[str, str]:
    """The audience page's and the poll overlay's paths, made through the REST API."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        login = {"username": "admin", "password": seeded.admin_password}
        (await http.post("/api/auth/login", json=login)).raise_for_status()
        ev = f"/api/events/{seeded.event.id}"
        audience = await http.post(f"{ev}/audience")
        audience.raise_for_status()
        code = audience.json()["code"]
        assert audience.json()["url"].endswith(f"/a/{code}")
        overlay = await http.post(f"{ev}/overlays")
        overlay.raise_for_status()
        made = overlay.json()
        assert made["urls"]["poll"].endswith(f"/overlay/poll?token={made['token']}")
        return f"/a/{code}", f"/overlay/poll?token={made['token']}"


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_host_view_go_twice_opens_the_poll_and_shows_votes(
    stack: Stack, seeded: Seeded, browser: Any
) -> None:
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    worker = PipelineWorker(stack.bus, stack.db, consumer="e2e-host", gauge_interval_s=0.5)
    await stack.bus.mark_event_active(seeded.event.id)
    async with run_server(app) as server:
        pipeline = asyncio.create_task(worker.run())
        page = None
        audience_context = None
        overlay = None
        try:
            (first, second), poll_id = await seed_sheet(server.base_url, seeded)
            audience_path, overlay_path = await audience_and_overlay_urls(server.base_url, seeded)
            page = await browser.new_page(viewport={"width": 1500, "height": 1000})
            await page.goto(server.base_url + "/")
            await page.fill("input[name=username], input#username", "admin")
            await page.fill("input[type=password]", seeded.admin_password)
            await page.click("button[type=submit]")
            await page.click(f"text={seeded.event.title}")
            await page.wait_for_selector("#connection-badge[data-status=live]", timeout=10_000)

            await page.click("#host-button")
            host = page.locator("#host-view")
            await expect(host.locator("#host-clock")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
            await expect(host.locator("#next-cue")).to_have_attribute("data-id", first)
            await expect(host.locator("#live-cue")).to_have_attribute("data-id", "")
            await expect(host.locator("#poll-controls .draft")).to_have_count(1)

            # The audience (a fresh context: no login) and the poll overlay, before GO.
            audience_context = await browser.new_context(viewport={"width": 400, "height": 800})
            audience = await audience_context.new_page()
            await audience.goto(server.base_url + audience_path)
            await expect(audience.locator("h1")).to_have_text(seeded.event.title, timeout=10_000)
            audience_poll = audience.locator("section.card:has(.options)")
            await expect(audience_poll).to_have_count(0)
            overlay = await browser.new_page(viewport={"width": 1920, "height": 1080})
            await overlay.goto(server.base_url + overlay_path)
            overlay_poll = overlay.locator(".poll")
            await expect(overlay_poll).to_have_count(0)

            go = host.locator("#go-button")
            await go.click()
            live = host.locator("#live-cue")
            await expect(live).to_have_attribute("data-id", first, timeout=5_000)
            await expect(live.locator(".cue-title")).to_have_text("Opening remarks")
            await expect(live.locator(".countdown")).to_have_text(re.compile(r"^[45]:\d\d$"))
            await expect(host.locator("#next-cue")).to_have_attribute("data-id", second)

            await expect(go).to_be_enabled()
            await go.click()
            await expect(live).to_have_attribute("data-id", second, timeout=5_000)
            await expect(live.locator(".cue-title")).to_have_text("Audience poll")
            open_poll = host.locator("#poll-controls .open-poll")
            await expect(open_poll).to_have_attribute("data-id", poll_id, timeout=5_000)
            await expect(open_poll.locator(".poll-title")).to_have_text(POLL_TITLE)
            await expect(host.locator("#poll-controls .draft")).to_have_count(0)

            # GO opened the poll: the audience page and the overlay show it.
            await expect(audience_poll.locator("h2")).to_have_text(POLL_TITLE, timeout=10_000)
            choices = audience_poll.locator(".options button")
            await expect(choices).to_have_text(OPTIONS)
            await expect(overlay_poll).to_have_attribute("data-poll-id", poll_id, timeout=10_000)
            await expect(overlay_poll).to_have_attribute("data-state", "open")
            await expect(overlay_poll.locator(".title")).to_have_text(POLL_TITLE)
            for position, label in enumerate(OPTIONS, start=1):
                bar = overlay_poll.locator(f".bar[data-position='{position}']")
                await expect(bar.locator(".label")).to_contain_text(label)

            lines = [vote_line(seeded, i, t) for i, t in enumerate(["!vote 1", "!1", "!vote 2"])]
            await stack.bus.add_ingest(seeded.event.id, lines)
            bars = open_poll.locator(".bar-row")
            await expect(bars.nth(0).locator(".votes")).to_have_text("2", timeout=10_000)
            await expect(bars.nth(1).locator(".votes")).to_have_text("1")
            await expect(bars.nth(0).locator(".pct")).to_have_text("67%")
            await expect(open_poll.locator(".total-voters")).to_have_text("3")
            await expect(open_poll.locator(".platform")).to_have_count(3)
            rockets = overlay_poll.locator(".bar[data-position='2']")
            await expect(rockets).to_have_attribute("data-votes", "1", timeout=10_000)
            await expect(overlay_poll.locator(".total")).to_have_text("3 votes")

            # One vote from the audience page, for option 2.
            await choices.nth(1).click()
            await expect(choices.nth(1)).to_have_attribute("aria-pressed", "true")
            send = audience_poll.locator("button.send")
            await expect(send).to_have_text("Vote")
            await send.click()
            await expect(send).to_have_text("Vote counted", timeout=10_000)
            await expect(audience_poll.locator(".error")).to_have_count(0)

            await expect(bars.nth(1).locator(".votes")).to_have_text("2", timeout=10_000)
            await expect(bars.nth(0).locator(".votes")).to_have_text("2")
            await expect(open_poll.locator(".total-voters")).to_have_text("4")
            await expect(rockets).to_have_attribute("data-votes", "2", timeout=10_000)
            await expect(rockets.locator(".votes")).to_have_text("2")
            await expect(overlay_poll.locator(".total")).to_have_text("4 votes")
        finally:
            if page is not None:
                await page.close()
            if overlay is not None:
                await overlay.close()
            if audience_context is not None:
                await audience_context.close()
            pipeline.cancel()
            await asyncio.gather(pipeline, return_exceptions=True)
