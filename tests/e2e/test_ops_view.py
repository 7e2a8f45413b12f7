"""The Ops view in headless Chromium: an ops lead works an incident by keyboard alone.

Two incidents are opened through the REST API: a sev4 drill before the console opens
(the view loads it over REST) and a sev1 one from the playbook's stream-down entry (by
hand if the playbook is not there) while the view is open (it arrives as a live delta).
The sev1 one ranks first. With the keyboard only: j selects it, a acknowledges it, s
and Space tick a step done, n + typing + Enter add a note, Esc leaves the field, r
resolves it. After each move the DOM and the API agree, the resolved incident leaves
the open list, and the timeline holds the moves, the step and the note in order.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from app.auth import service as auth
from app.auth.models import Role
from app.events import service as events
from app.main import create_app
from tests.conftest import Seeded, Stack, run_server

pytestmark = pytest.mark.e2e

WAIT_MS = 5_000
NOTE = "Encoder rebooted, picture back on every platform"


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def lead_client(base_url: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=base_url)
    login = await http.post("/api/auth/login", json={"username": "lead", "password": "lead-pass"})
    login.raise_for_status()
    return http


async def open_main_incident(http: httpx.AsyncClient, ev: str) -> dict[str, Any]:
    """From the playbook's stream-down entry (any entry with steps if it is renamed), as
    sev1; by hand with an ad-hoc step when the playbook API is not available."""
    playbook = await http.get("/api/playbook")
    entries = playbook.json().get("entries", []) if playbook.status_code == 200 else []
    with_steps = [e for e in entries if e.get("steps")]
    if with_steps:
        entry = next((e for e in with_steps if e["slug"] == "stream-down"), with_steps[0])
        made = await http.post(
            f"{ev}/incidents",
            json={"entry_slug": entry["slug"], "severity": "sev1"},
            headers=key(),
        )
        made.raise_for_status()
        incident: dict[str, Any] = made.json()
        assert incident["entry_slug"] == entry["slug"]
        assert len(incident["steps"]) == len(entry["steps"])
        return incident
    made = await http.post(
        f"{ev}/incidents",
        json={"title": "Stream down on every platform", "category": "stream", "severity": "sev1"},
        headers=key(),
    )
    made.raise_for_status()
    step = await http.post(
        f"{ev}/incidents/{made.json()['id']}/steps",
        json={"text": "Switch to the backup encoder"},
        headers=key(),
    )
    step.raise_for_status()
    return dict(step.json())


async def focused(page: Any) -> dict[str, Any]:
    return dict(
        await page.evaluate(
            "() => ({id: document.activeElement?.id ?? '', "
            "dataId: document.activeElement?.dataset?.id ?? '', "
            "cls: document.activeElement?.className ?? ''})"
        )
    )


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_ops_lead_acknowledges_works_and_resolves_an_incident_by_keyboard(
    stack: Stack, seeded: Seeded, browser: Any
) -> None:
    async with stack.db.sessions() as session:
        lead = await auth.create_user(session, "lead", "lead-pass", Role.ops_lead, "Lee")
        await events.add_member(session, seeded.event, lead.id, Role.ops_lead.value)
        await session.commit()

    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    async with run_server(app) as server:
        ev = f"/api/events/{seeded.event.id}"
        http = await lead_client(server.base_url)
        page = None
        try:
            # A sev4 drill, open before the console is.
            drill = await http.post(
                f"{ev}/incidents",
                json={
                    "title": "Slides lag",
                    "category": "content",
                    "severity": "sev4",
                    "drill": True,
                },
                headers=key(),
            )
            drill.raise_for_status()
            drill_id = drill.json()["id"]

            page = await browser.new_page(viewport={"width": 1500, "height": 1000})
            await page.goto(server.base_url + "/")
            await page.fill("input[name=username], input#username", "lead")
            await page.fill("input[type=password]", "lead-pass")
            await page.click("button[type=submit]")
            await page.click(f"text={seeded.event.title}")
            await page.wait_for_selector("#connection-badge[data-status=live]", timeout=10_000)
            await expect(page.locator("#ops-open-count")).to_have_text("1", timeout=WAIT_MS)

            await page.click("#ops-button")
            view = page.locator("#ops-view")
            await expect(view).to_be_visible()
            legend = view.locator("#ops-legend")
            for words in ("acknowledge", "resolve", "close", "write a note"):
                await expect(legend).to_contain_text(words)
            open_rows = view.locator("#ops-open-list .incident-row")
            await expect(open_rows).to_have_count(1, timeout=WAIT_MS)
            drill_row = view.locator(f'.incident-row[data-id="{drill_id}"]')
            await expect(drill_row.locator(".drill")).to_have_text("DRILL")
            await expect(drill_row).to_have_attribute("data-severity", "sev4")

            # The sev1 incident opens while the view is open: it comes as a live delta
            # and ranks above the older sev4.
            incident = await open_main_incident(http, ev)
            iid = incident["id"]
            await expect(open_rows).to_have_count(2, timeout=WAIT_MS)
            await expect(open_rows.first).to_have_attribute("data-id", iid)
            row = view.locator(f'.incident-row[data-id="{iid}"]')
            await expect(row).to_have_attribute("data-state", "triage")
            await expect(row.locator(".title")).to_have_text(incident["title"])
            await expect(row.locator(".age")).to_have_text(re.compile(r"^\d+:\d\d$"))
            if incident["next_escalation_at"]:
                await expect(row.locator(".escalation")).to_have_text(
                    re.compile(r"^escalates in \d+:\d\d$")
                )

            # ---- keyboard only from here on ----------------------------------------------
            assert (await focused(page))["id"] == "ops-list"
            # Keys that reach the window would reach the triage queue behind the view too.
            await page.evaluate(
                "window.__leaked = []; "
                "window.addEventListener('keydown', (e) => window.__leaked.push(e.key))"
            )
            await page.keyboard.press("j")
            await expect(view.locator(".incident-row.selected")).to_have_attribute("data-id", iid)
            detail = view.locator("#ops-detail")
            await expect(detail).to_have_attribute("data-id", iid)
            await expect(detail.locator("#ops-state")).to_have_text("triage")

            # a acknowledges: the row, the detail and the server agree; no more countdown.
            await page.keyboard.press("a")
            await expect(row).to_have_attribute("data-state", "acknowledged", timeout=WAIT_MS)
            await expect(detail.locator("#ops-state")).to_have_text("acknowledged")
            await expect(row.locator(".escalation")).to_have_count(0)
            now = (await http.get(f"{ev}/incidents/{iid}")).json()
            assert now["state"] == "acknowledged" and now["acknowledged_at"] is not None
            assert now["next_escalation_at"] is None

            # s goes to the first open step, Space ticks it done.
            await page.keyboard.press("s")
            step_el = await focused(page)
            step_id = step_el["dataId"]
            assert "step" in step_el["cls"] and step_id, step_el
            step_before = next(s for s in now["steps"] if s["id"] == step_id)
            assert step_before["state"] in ("todo", "in_progress")
            await page.keyboard.press("Space")
            step_row = detail.locator(f'#ops-steps .step[data-id="{step_id}"]')
            await expect(step_row).to_have_attribute("data-state", "done", timeout=WAIT_MS)
            await expect(step_row).to_have_attribute("aria-checked", "true")
            now = (await http.get(f"{ev}/incidents/{iid}")).json()
            ticked = next(s for s in now["steps"] if s["id"] == step_id)
            assert ticked["state"] == "done" and ticked["done_by"] == "user:lead"

            # n goes to the note field; Enter adds the note; Esc leaves the field.
            await page.keyboard.press("n")
            assert (await focused(page))["id"] == "ops-note-input"
            await page.keyboard.type(NOTE)
            await page.keyboard.press("Enter")
            timeline = view.locator("#ops-timeline")
            await expect(timeline.locator(".tl-entry[data-kind=note] .text")).to_have_text(
                NOTE, timeout=WAIT_MS
            )
            await expect(view.locator("#ops-note-input")).to_have_value("")
            # Newest at the bottom.
            await expect(timeline.locator(".tl-entry").last).to_have_attribute("data-kind", "note")
            await page.keyboard.press("Escape")
            assert (await focused(page))["id"] == "ops-list"
            await expect(view).to_be_visible()  # the first Esc only leaves the field

            # r resolves it: it leaves the open list for the resolved one.
            await page.keyboard.press("r")
            await expect(view.locator(f'#ops-open-list [data-id="{iid}"]')).to_have_count(
                0, timeout=WAIT_MS
            )
            resolved_row = view.locator(f'#ops-resolved-list .incident-row[data-id="{iid}"]')
            await expect(resolved_row).to_have_attribute("data-state", "resolved")
            await expect(detail.locator("#ops-state")).to_have_text("resolved")
            await expect(open_rows).to_have_count(1)
            await expect(open_rows.first).to_have_attribute("data-id", drill_id)
            await expect(page.locator("#ops-open-count")).to_have_text("1")
            await expect(timeline.locator(".tl-entry").last).to_have_attribute(
                "data-kind", "state", timeout=WAIT_MS
            )

            assert await page.evaluate("window.__leaked") == []

            full = (await http.get(f"{ev}/incidents/{iid}")).json()
            assert full["state"] == "resolved"
            assert full["resolved_at"] is not None and full["mitigated_at"] is not None
            still_open = (await http.get(f"{ev}/incidents?state=open")).json()
            assert [i["id"] for i in still_open] == [drill_id]

            # The timeline: the moves, the step and the note, in the order they were made.
            lines = full["timeline"]
            assert lines[0]["kind"] == "opened"
            mine = [
                t
                for t in lines
                if t["kind"] in ("state", "note")
                or (t["data"].get("step_id") == step_id and t["data"].get("to") == "done")
            ]
            assert [(t["kind"], t["text"]) for t in mine] == [
                ("state", "triage → acknowledged"),
                ("step", f"step “{step_before['text']}”: {step_before['state']} → done"),
                ("note", NOTE),
                ("state", "acknowledged → resolved"),
            ]
            assert {t["actor"] for t in mine} == {"user:lead"}
            ids = [t["id"] for t in lines]
            assert ids == sorted(ids)
            # The console shows the same lines, in the same order.
            shown = await timeline.locator(".tl-entry").evaluate_all(
                "els => els.map(e => Number(e.dataset.id))"
            )
            assert shown == ids

            # c closes it (from resolved): it leaves the resolved list too.
            await page.keyboard.press("c")
            await expect(detail.locator("#ops-state")).to_have_text("closed", timeout=WAIT_MS)
            await expect(view.locator("#ops-resolved-list")).to_have_count(0)
            closed = (await http.get(f"{ev}/incidents/{iid}")).json()
            assert closed["state"] == "closed" and closed["closed_at"] is not None

            # i opens the form on the playbook's entries; Enter opens the chosen one,
            # which then ranks first and is selected.
            if incident["entry_slug"]:
                await page.keyboard.press("i")
                assert (await focused(page))["id"] == "ops-entry-select"
                await page.keyboard.press("Enter")
                await expect(open_rows).to_have_count(2, timeout=WAIT_MS)
                new_id = await view.locator(".incident-row.selected").get_attribute("data-id")
                assert new_id not in (iid, drill_id)
                await expect(open_rows.first).to_have_attribute("data-id", new_id)
                await expect(view.locator("#ops-open-form")).to_have_count(0)
            assert await page.evaluate("window.__leaked") == []
        finally:
            if page is not None:
                await page.close()
            await http.aclose()
