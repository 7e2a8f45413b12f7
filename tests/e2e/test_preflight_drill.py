"""Preflight, drills and incident roles in the Ops view, in headless Chromium, as an ops lead.

The sources' health is what their connectors would report on the bus (no worker runs):
three connected and fresh, the Q&A source disconnected. Preflight without test
messages shows a row per source and a FAIL banner, the same statuses the API gives
for the same state; once the Q&A source reports connected, a second run shows PASS.
A spam-raid drill started at 20x speed (after the confirmation) shows as running with its
countdown, the API returns it with a 15 s scenario plus the 2 min to finish, and
stopping it leaves no drill. Last, "Assign…" gives the comms role on an incident to a
moderator of the event.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from playwright.async_api import expect

from app.auth import service as auth
from app.auth.models import Role
from app.events import service as events
from app.main import create_app
from tests.conftest import Seeded, Stack, run_server

pytestmark = pytest.mark.e2e

WAIT_MS = 5_000


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def report_health(stack: Stack, seeded: Seeded, down: set[str]) -> None:
    """Each source's health as its connector reports it; the names in `down` disconnected."""
    now = datetime.now(UTC).isoformat()
    for source in seeded.sources:
        health = (
            {"state": "disconnected", "last_error": "token expired", "last_event_at": None}
            if source.name in down
            else {"state": "connected", "last_event_at": now, "last_keepalive_at": now}
        )
        await stack.bus.put_health(seeded.event.id, source.id, orjson.dumps(health))


async def shown_checks(page: Any) -> list[tuple[str, str, str]]:
    rows = page.locator("#preflight-checks tbody tr.check")
    found = await rows.evaluate_all(
        "els => els.map(e => [e.dataset.name, e.dataset.target, e.dataset.status])"
    )
    return sorted(tuple(r) for r in found)


def api_checks(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((c["name"], c["target"], c["status"]) for c in result["checks"])


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_ops_lead_runs_preflight_drills_and_assigns_a_role(
    stack: Stack, seeded: Seeded, browser: Any
) -> None:
    async with stack.db.sessions() as session:
        lead = await auth.create_user(session, "lead", "lead-pass", Role.ops_lead, "Lee")
        await events.add_member(session, seeded.event, lead.id, Role.ops_lead.value)
        await session.commit()
    source_names = {s.name for s in seeded.sources}
    assert source_names == {"twitch", "youtube", "zoom", "slido"}
    await report_health(stack, seeded, down={"slido"})

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

            page = await browser.new_page(viewport={"width": 1500, "height": 1000})
            await page.goto(server.base_url + "/")
            await page.fill("input[name=username], input#username", "lead")
            await page.fill("input[type=password]", "lead-pass")
            await page.click("button[type=submit]")
            await page.click(f"text={seeded.event.title}")
            await page.wait_for_selector("#connection-badge[data-status=live]", timeout=10_000)
            await page.click("#ops-button")
            view = page.locator("#ops-view")
            await expect(view).to_be_visible()

            readiness = view.locator("#ops-readiness")
            await expect(readiness).to_be_hidden()
            await view.locator("#ops-readiness-button").click()
            await expect(readiness).to_be_visible()
            await expect(view.locator("#ops-readiness-button")).to_have_attribute(
                "aria-expanded", "true"
            )

            # ---- preflight, one source down: FAIL ------------------------------------------
            panel = readiness.locator("#preflight-panel")
            send_test = panel.locator("#preflight-send-test")
            await expect(send_test).not_to_be_checked()
            await expect(panel.locator("#preflight-test-note")).to_have_count(0)
            await send_test.check()
            await expect(panel.locator("#preflight-test-note")).to_contain_text("real line")
            await send_test.uncheck()

            await panel.locator("#preflight-run").click()
            banner = panel.locator("#preflight-banner")
            await expect(banner).to_be_visible(timeout=10_000)
            await expect(panel.locator("#preflight-progress")).to_have_count(0)

            api = await http.post(
                f"{ev}/preflight", json={"send_test_messages": False}, headers=key()
            )
            assert api.status_code == 200, api.text
            first = api.json()
            assert first["passed"] is False
            await expect(banner).to_have_attribute("data-passed", "false")
            await expect(banner.locator(".word")).to_have_text("FAIL")
            await expect(banner).to_contain_text("1 check failed")

            shown = await shown_checks(page)
            assert shown == api_checks(first)
            assert {t for n, t, _ in shown if n == "source"} == source_names
            assert ("source", "slido", "fail") in shown
            assert ("test message", "", "skip") in shown  # not asked
            # The failed source is first, its status a mark and a word, its detail the reason.
            top = panel.locator("#preflight-checks tbody tr.check").first
            await expect(top).to_have_attribute("data-target", "slido")
            await expect(top.locator(".status")).to_have_text("✗ fail")
            await expect(top.locator(".detail")).to_have_text("disconnected: token expired")
            twitch = panel.locator('#preflight-checks tr.check[data-target="twitch"]')
            await expect(twitch.locator(".status")).to_have_text("✓ pass")
            await expect(twitch.locator(".detail")).to_have_text(
                re.compile(r"^connected, last heard \d+ s ago$")
            )

            # ---- the Q&A source is back: PASS ------------------------------------------------
            await report_health(stack, seeded, down=set())
            await panel.locator("#preflight-run").click()
            await expect(banner).to_have_attribute("data-passed", "true", timeout=10_000)
            await expect(banner.locator(".word")).to_have_text("PASS")
            api = await http.post(
                f"{ev}/preflight", json={"send_test_messages": False}, headers=key()
            )
            second = api.json()
            assert second["passed"] is True
            assert await shown_checks(page) == api_checks(second)
            assert {s for n, _, s in api_checks(second) if n == "source"} == {"pass"}

            # ---- a spam-raid drill at 20x ---------------------------------------------------
            drill_panel = readiness.locator("#drill-panel")
            await expect(drill_panel.locator("#drill-none")).to_have_text("No drill running.")
            assert (await http.get(f"{ev}/drills")).json() is None
            await drill_panel.locator("#drill-speed").select_option("20")
            await drill_panel.locator("#drill-start-spam_raid").click()
            confirm = drill_panel.locator("#drill-confirm")
            await expect(confirm.locator("#drill-confirm-title")).to_have_text(
                "Start a spam-raid drill at 20\u00d7?"
            )
            for words in ("rehearsal source", "marked DRILL", "kept out of the response metrics"):
                await expect(confirm).to_contain_text(words)
            assert (await http.get(f"{ev}/drills")).json() is None  # nothing before confirming
            await confirm.locator("#drill-confirm-start").click()

            running = drill_panel.locator("#drill-running")
            await expect(running).to_have_attribute("data-scenario", "spam_raid", timeout=WAIT_MS)
            await expect(running).to_contain_text("spam raid drill running")
            await expect(running).to_contain_text("by lead")
            await expect(drill_panel.locator("#drill-countdown")).to_have_text(
                re.compile(r"^ends in [12]:\d\d$")
            )
            await expect(drill_panel.locator("#drill-none")).to_have_count(0)
            await expect(drill_panel.locator("#drill-start-spam_raid")).to_have_count(0)
            await expect(view.locator("#ops-drill-chip")).to_contain_text("DRILL · spam raid")
            now = (await http.get(f"{ev}/drills")).json()
            assert now is not None and now["scenario"] == "spam_raid" and now["by"] == "lead"
            length = datetime.fromisoformat(now["until"]) - datetime.fromisoformat(
                now["started_at"]
            )
            assert length.total_seconds() == pytest.approx(300 / 20 + 120)

            await drill_panel.locator("#drill-stop").click()
            await expect(drill_panel.locator("#drill-none")).to_be_visible(timeout=WAIT_MS)
            await expect(running).to_have_count(0)
            await expect(view.locator("#ops-drill-chip")).to_have_count(0)
            await expect(drill_panel.locator("#drill-info")).to_have_text(
                "The spam raid drill is stopped."
            )
            assert (await http.get(f"{ev}/drills")).json() is None

            # ---- roles: comms to the moderator ------------------------------------------------
            made = await http.post(
                f"{ev}/incidents",
                json={"title": "Chat raid", "category": "chat", "severity": "sev2"},
                headers=key(),
            )
            made.raise_for_status()
            iid = made.json()["id"]
            await view.locator(f'.incident-row[data-id="{iid}"]').click(timeout=WAIT_MS)
            detail = view.locator("#ops-detail")
            await expect(detail).to_have_attribute("data-id", iid)
            await detail.locator("#ops-assign-button").click()
            form = detail.locator("#ops-assign-form")
            await expect(form.locator("#ops-assign-role")).to_be_focused()
            await expect(form.locator("#ops-assign-role")).to_have_value("lead")
            await form.locator("#ops-assign-role").fill("comms")
            await form.locator("#ops-assign-member").select_option(seeded.member.id)
            await form.locator("#ops-assign-submit").click()
            holder = detail.locator('#ops-roles .role[data-role="comms"]')
            await expect(holder).to_have_text("comms: mod", timeout=WAIT_MS)
            await expect(holder).to_have_attribute("data-user-id", seeded.member.id)
            await expect(form).to_have_count(0)
            roles = (await http.get(f"{ev}/incidents/{iid}")).json()["roles"]
            assert [(r["role"], r["user_id"]) for r in roles] == [("comms", seeded.member.id)]
        finally:
            if page is not None:
                await page.close()
            await http.aclose()
