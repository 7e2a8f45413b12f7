"""The Ops view's live gauges in headless Chromium.

Before the console opens, the event has eight minutes of per-minute samples (viewers on
two platforms, chat rates, questions pending) and three connectors reporting. Opening
the Ops view shows the gauges board with the history drawn at once (the charts' canvases
have a size and pixels of the series' colours; a screenshot of the board is not blank),
the connectors with their state and freshness, and values marked stale (the newest sample
is over a minute old). A gauges.update published on the bus then changes the values (and
the derived engagement rate), marks them fresh, redraws the charts (the screenshot
changes) and turns late after 5 s without news. A GO puts the cue on every chart.
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from playwright.async_api import expect

from app.auth import service as auth
from app.auth.models import Role
from app.events import service as events
from app.main import create_app
from app.metrics.models import MetricSample
from app.pipeline.deltas import delta
from tests.conftest import Seeded, Stack, run_server

pytestmark = pytest.mark.e2e

WAIT_MS = 5_000
TILES = [
    "viewers",
    "messages_per_min",
    "unique_chatters_per_min",
    "questions",
    "poll_participation",
    "engagement_rate",
]
BACKGROUND = (0x0D, 0x11, 0x17)  # --bg
TOTAL_LINE = (0xE6, 0xED, 0xF3)  # --fg: the viewers total
MESSAGES_LINE = (0x4C, 0x9A, 0xFF)  # --accent


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def seed_history(stack: Stack, seeded: Seeded) -> datetime:
    """Minutes -10 … -3 (the newest two minutes old when the view opens)."""
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    rows = []
    for back in range(3, 11):
        at = minute - timedelta(minutes=back)
        values = {
            ("viewers", "total"): 300 + back,
            ("viewers", "twitch"): 200 + back,
            ("viewers", "youtube"): 100,
            ("messages_per_min", "total"): 40 + back,
            ("interactions_per_min", "total"): 35 + back,  # 5 lines a minute hidden
            ("unique_chatters_per_min", "total"): 12,
            ("questions_pending", "total"): 3,
        }
        rows += [
            MetricSample(event_id=seeded.event.id, metric=m, dimension=d, bucket_at=at, value=v)
            for (m, d), v in values.items()
        ]
    async with stack.db.sessions() as session:
        session.add_all(rows)
        await session.commit()
    return minute


async def report_health(stack: Stack, seeded: Seeded) -> None:
    now = datetime.now(UTC).isoformat()
    for source in seeded.sources[:3]:
        health = {"state": "connected", "last_event_at": now, "last_keepalive_at": now}
        await stack.bus.put_health(seeded.event.id, source.id, orjson.dumps(health))


async def pixels_like(page: Any, png: bytes, rgb: tuple[int, int, int], tol: int) -> int:
    """Pixels of a screenshot within `tol` of `rgb` per channel (decoded by the browser)."""
    count = await page.evaluate(
        """async ([b64, rgb, tol]) => {
            const img = new Image();
            img.src = 'data:image/png;base64,' + b64;
            await img.decode();
            const c = document.createElement('canvas');
            c.width = img.width;
            c.height = img.height;
            const ctx = c.getContext('2d');
            ctx.drawImage(img, 0, 0);
            const d = ctx.getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4)
              if (Math.abs(d[i] - rgb[0]) <= tol && Math.abs(d[i + 1] - rgb[1]) <= tol
                  && Math.abs(d[i + 2] - rgb[2]) <= tol) n++;
            return n;
        }""",
        [base64.b64encode(png).decode(), list(rgb), tol],
    )
    return int(count)


async def right_edge(page: Any, chart: Any, width: int = 12) -> bytes:
    """A screenshot of the last `width` pixels of a chart's plot area: where "now" is."""
    over = await chart.locator(".u-over").bounding_box()
    assert over is not None
    clip = {
        "x": over["x"] + over["width"] - width,
        "y": over["y"],
        "width": width,
        "height": over["height"],
    }
    return bytes(await page.screenshot(clip=clip))


async def pixel_total(page: Any, png: bytes) -> int:
    return int(
        await page.evaluate(
            """async (b64) => {
                const img = new Image();
                img.src = 'data:image/png;base64,' + b64;
                await img.decode();
                return img.width * img.height;
            }""",
            base64.b64encode(png).decode(),
        )
    )


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_gauges_board_draws_history_live_values_and_cue_markers(
    stack: Stack, seeded: Seeded, browser: Any
) -> None:
    async with stack.db.sessions() as session:
        lead = await auth.create_user(session, "lead", "lead-pass", Role.ops_lead, "Lee")
        await events.add_member(session, seeded.event, lead.id, Role.ops_lead.value)
        await session.commit()
    await seed_history(stack, seeded)
    await report_health(stack, seeded)

    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    async with run_server(app) as server:
        ev = f"/api/events/{seeded.event.id}"
        http = httpx.AsyncClient(base_url=server.base_url)
        page = None
        try:
            login = await http.post(
                "/api/auth/login", json={"username": "lead", "password": "lead-pass"}
            )
            login.raise_for_status()

            page = await browser.new_page(viewport={"width": 1600, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(server.base_url + "/")
            await page.fill("input[name=username], input#username", "lead")
            await page.fill("input[type=password]", "lead-pass")
            await page.click("button[type=submit]")
            await page.click(f"text={seeded.event.title}")
            await page.wait_for_selector("#connection-badge[data-status=live]", timeout=10_000)
            await page.click("#ops-button")

            board = page.locator("#ops-view #gauges-board")
            await expect(board).to_be_visible()
            tiles = board.locator(".tile")
            await expect(tiles).to_have_count(len(TILES))
            assert await tiles.evaluate_all("els => els.map(e => e.dataset.gauge)") == TILES

            # The connectors beside them: state and freshness in words.
            sources = board.locator("#gauges-sources li")
            await expect(sources).to_have_count(4, timeout=WAIT_MS)
            connected = board.locator("#gauges-sources li[data-state=connected]")
            await expect(connected).to_have_count(3, timeout=WAIT_MS)
            await expect(connected.first.locator(".h-fresh")).to_have_text(
                re.compile(r"^last message \d+ s ago$")
            )

            # The history is there at once: eight minutes, the newest over a minute old.
            viewers = board.locator('.tile[data-gauge="viewers"]')
            await expect(viewers.locator(".time-chart")).to_have_attribute(
                "data-values", "8", timeout=WAIT_MS
            )
            await expect(viewers.locator(".t-value")).to_have_text("303")
            await expect(viewers).to_have_attribute("data-fresh", "stale")
            await expect(viewers.locator(".t-fresh")).to_have_text(
                re.compile(r"^stale · updated \d+ (s|min) ago$")
            )
            platforms = viewers.locator(".t-parts li")
            assert await platforms.evaluate_all("els => els.map(e => e.dataset.key)") == [
                "viewers",
                "viewers:twitch",
                "viewers:youtube",
            ]
            await expect(viewers.locator('[data-key="viewers:twitch"] .p-value')).to_have_text(
                "203"
            )
            messages = board.locator('.tile[data-gauge="messages_per_min"]')
            await expect(messages.locator(".t-value")).to_have_text("43")
            questions = board.locator('.tile[data-gauge="questions"]')
            await expect(questions.locator('[data-key="questions_pending"] .p-value')).to_have_text(
                "3"
            )
            # No approved ones before the view opened: no history for them.
            await expect(
                questions.locator('[data-key="questions_approved"] .p-value')
            ).to_have_text("\u2013")
            # (38 + 0 + 0) / 303 * 100 per minute: interactions, not messages (43).
            engagement = board.locator('.tile[data-gauge="engagement_rate"]')
            await expect(engagement.locator(".t-value")).to_have_text("13")
            participation = board.locator('.tile[data-gauge="poll_participation"]')
            await expect(participation.locator(".t-value")).to_have_text("no poll open")

            # Every chart is a canvas with a size; the viewers one has drawn its total line.
            canvases = board.locator(".time-chart canvas")
            await expect(canvases).to_have_count(len(TILES))
            for i in range(len(TILES)):
                box = await canvases.nth(i).bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 40, box
            chart = viewers.locator(".time-chart")
            shot = await chart.screenshot()
            assert await pixels_like(page, shot, TOTAL_LINE, 40) > 20
            # The whole board is not blank: far from all of it is background.
            board_shot = await board.screenshot()
            drawn = await pixel_total(page, board_shot) - await pixels_like(
                page, board_shot, BACKGROUND, 6
            )
            assert drawn > 5_000, drawn

            # A live gauges.update: new values, fresh, the charts redrawn.
            messages_chart = messages.locator(".time-chart")
            await messages_chart.scroll_into_view_if_needed()
            before = await messages_chart.screenshot()
            assert await pixels_like(page, before, MESSAGES_LINE, 40) > 10
            # Nothing at "now" yet: the history ends over a minute ago.
            assert (
                await pixels_like(page, await right_edge(page, messages_chart), MESSAGES_LINE, 60)
                == 0
            )
            gauges = {
                "at": datetime.now(UTC),
                "viewers": {"total": 4321, "by_platform": {"twitch": 4000, "youtube": 321}},
                "messages_per_min": 77,
                "unique_chatters_per_min": 21,
                "interactions_per_min": 60,
                "questions_pending": 5,
                "ingest_backlog": 0,
            }
            await stack.bus.publish_live(
                seeded.event.id, [delta("gauges", "gauges.update", gauges)]
            )
            await expect(viewers.locator(".t-value")).to_have_text("4321", timeout=WAIT_MS)
            await expect(viewers.locator(".t-value")).to_have_attribute("data-value", "4321")
            await expect(viewers.locator('[data-key="viewers:twitch"] .p-value')).to_have_text(
                "4000"
            )
            await expect(viewers.locator('[data-key="viewers:youtube"] .p-value')).to_have_text(
                "321"
            )
            await expect(messages.locator(".t-value")).to_have_text("77")
            await expect(
                board.locator('.tile[data-gauge="unique_chatters_per_min"] .t-value')
            ).to_have_text("21")
            await expect(questions.locator('[data-key="questions_pending"] .p-value')).to_have_text(
                "5"
            )
            await expect(
                questions.locator('[data-key="questions_approved"] .p-value')
            ).to_have_text("0")
            # 60 / 4321 * 100 = 1.39 interactions per 100 viewers per minute.
            await expect(engagement.locator(".t-value")).to_have_text("1.4")
            await expect(viewers).to_have_attribute("data-fresh", "fresh")
            await expect(viewers.locator(".t-fresh")).to_have_text(
                re.compile(r"^updated \d s ago$")
            )
            await expect(viewers.locator(".time-chart")).to_have_attribute("data-values", "9")
            # The new point is drawn where "now" is (a dot: the line has a gap before it).
            assert (
                await pixels_like(page, await right_edge(page, messages_chart), MESSAGES_LINE, 60)
                > 4
            )
            after = await messages_chart.screenshot()
            assert after != before

            # A GO: the cue's start is marked on every chart, labelled with its title.
            made = await http.post(f"{ev}/cues", json={"title": "Keynote"}, headers=key())
            assert made.status_code == 200, made.text
            go = await http.post(f"{ev}/cues/go", json={"expected_live": None}, headers=key())
            assert go.status_code == 200, go.text
            marker = viewers.locator(".cue-marker")
            await expect(marker).to_have_text("Keynote", timeout=WAIT_MS)
            await expect(marker).to_have_attribute("title", re.compile(r"^Keynote · started "))
            await expect(board.locator(".cue-marker")).to_have_count(len(TILES))
            await expect(viewers.locator(".time-chart")).to_have_attribute("data-markers", "1")
            started = float(await marker.get_attribute("data-t") or "nan")
            assert abs(started / 1000 - datetime.now(UTC).timestamp()) < 60

            # Another update, then nothing for over 5 s: the values turn late, in words and
            # in colour.
            gauges = {
                **gauges,
                "at": datetime.now(UTC),
                "viewers": {"total": 4400, "by_platform": {"twitch": 4400}},
            }
            await stack.bus.publish_live(
                seeded.event.id, [delta("gauges", "gauges.update", gauges)]
            )
            await expect(viewers.locator(".t-value")).to_have_text("4400", timeout=WAIT_MS)
            await expect(viewers).to_have_attribute("data-fresh", "fresh")
            await expect(viewers).to_have_attribute("data-fresh", "late", timeout=12_000)
            await expect(viewers.locator(".t-fresh")).to_have_text(
                re.compile(r"^late · updated \d+ s ago$")
            )
            assert errors == []
        finally:
            if page is not None:
                await page.close()
            await http.aclose()
