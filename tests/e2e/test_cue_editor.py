"""The run-of-show editor in headless Chromium, as a host: add two cues, edit one, move it
up with Alt+ArrowUp, draft a multiple-choice poll and have the first cue open it, export
the sheet as CSV, fail to import a broken YAML file (the error names the line), then
close the editor and press "g": the first cue goes live and opens the poll."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import uuid
from datetime import datetime
from pathlib import Path
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

HOST, HOST_PASSWORD = "host", "host-pass"
POLL_TITLE = "Which topics next?"
BROKEN_YAML = b"""cues:
  - title: Fine
    planned_duration_s: 60
  - title: Broken
    planned_duration_s: -5
"""


async def add_host(stack: Stack, seeded: Seeded) -> None:
    """A user whose role on the event is host."""
    async with stack.db.sessions() as session:
        user = await auth.create_user(session, HOST, HOST_PASSWORD, Role.host, "Hana Host")
        await events.add_member(session, seeded.event, user.id, Role.host.value)
        await session.commit()


async def open_editor(page: Any, base_url: str, seeded: Seeded) -> Any:
    """Logs in as the host, opens the host view and its run-of-show editor."""
    await page.goto(base_url + "/")
    await page.fill("input[name=username], input#username", HOST)
    await page.fill("input[type=password]", HOST_PASSWORD)
    await page.click("button[type=submit]")
    await page.click(f"text={seeded.event.title}")
    await page.wait_for_selector("#connection-badge[data-status=live]", timeout=10_000)
    await page.click("#host-button")
    await page.click("#edit-cues-button")
    editor = page.locator("#cue-editor")
    await expect(editor).to_be_visible()
    return editor


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def sheet(http: httpx.AsyncClient, seeded: Seeded) -> dict[str, Any]:
    answer = await http.get(f"/api/events/{seeded.event.id}/cues")
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_host_edits_the_run_of_show_then_goes_with_g(
    stack: Stack, seeded: Seeded, browser: Any
) -> None:
    await add_host(stack, seeded)
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    async with run_server(app) as server, httpx.AsyncClient(base_url=server.base_url) as http:
        login = {"username": HOST, "password": HOST_PASSWORD}
        (await http.post("/api/auth/login", json=login)).raise_for_status()
        page = await browser.new_page(
            viewport={"width": 1600, "height": 1000}, accept_downloads=True
        )
        try:
            editor = await open_editor(page, server.base_url, seeded)
            host = page.locator("#host-view")
            toggle = host.locator("#edit-cues-button")
            await expect(toggle).to_have_attribute("aria-pressed", "true")
            await expect(host.locator("#go-button")).to_have_count(0)  # instead of the grid
            rows = editor.locator("tr.cue-row")
            await expect(editor.locator("text=No cues yet")).to_be_visible()

            # Two cues through the add form.
            new_title = editor.locator("input[name=new-cue-title]")
            for title, minutes, owner in (("Welcome", "5", "host"), ("Keynote", "10", "ops_lead")):
                await new_title.fill(title)
                await editor.locator("input[name=new-cue-minutes]").fill(minutes)
                await editor.locator("select[name=new-cue-owner]").select_option(owner)
                await editor.locator("#add-cue-button").click()
                await expect(rows.last.locator("input.f-title")).to_have_value(title)
            await expect(rows).to_have_count(2)
            welcome_id = await rows.nth(0).get_attribute("data-id")
            keynote_id = await rows.nth(1).get_attribute("data-id")
            assert welcome_id and keynote_id and welcome_id != keynote_id

            # Edit the second cue's title and duration inline.
            keynote = editor.locator(f"tr.cue-row[data-id='{keynote_id}']")
            await keynote.locator("input.f-title").fill("Keynote: rockets")
            await keynote.locator("input.f-title").press("Enter")
            await keynote.locator("input.f-minutes").fill("20")
            await keynote.locator("input.f-minutes").press("Tab")
            await keynote.locator("input.f-start").fill("2030-03-04T09:30")
            await keynote.locator("input.f-start").blur()
            await expect(editor.locator("tr.cue-row.dirty")).to_have_count(0)
            await expect(editor.locator(".status-row")).to_have_count(0)

            # Move it up with the keyboard: it comes first, and keeps the focus.
            await keynote.focus()
            await page.keyboard.press("Alt+ArrowUp")
            await expect(rows.nth(0)).to_have_attribute("data-id", keynote_id)
            await expect(rows.nth(1)).to_have_attribute("data-id", welcome_id)
            await expect(keynote).to_be_focused()
            await expect(keynote.locator("input.f-title")).to_have_value("Keynote: rockets")
            await expect(keynote.locator("input.f-minutes")).to_have_value("20")
            saved = await sheet(http, seeded)
            assert [(c["id"], c["title"], c["planned_duration_s"]) for c in saved["cues"]] == [
                (keynote_id, "Keynote: rockets", 1200),
                (welcome_id, "Welcome", 300),
            ]
            # The planned start was typed in the browser's time zone and stored in UTC.
            local_start = await page.evaluate("new Date(2030, 2, 4, 9, 30).toISOString()")
            start_at = datetime.fromisoformat(saved["cues"][0]["planned_start_at"])
            assert start_at == datetime.fromisoformat(local_start)
            assert saved["cues"][1]["planned_start_at"] is None

            # Draft a multiple-choice poll; the form first refuses two equal options.
            drafts = editor.locator("#poll-drafts")
            await drafts.locator("#new-poll-draft").click()
            form = drafts.locator("#poll-draft-form")
            await form.locator("input[name=poll-draft-title]").fill(POLL_TITLE)
            await form.locator("select[name=poll-draft-kind]").select_option("multiple")
            await form.locator("input[name=poll-draft-option-1]").fill("Robots")
            await form.locator("input[name=poll-draft-option-2]").fill("Rockets")
            await form.locator(".add-option").click()
            await form.locator("input[name=poll-draft-option-3]").fill("robots")
            await form.locator("#save-poll-draft").click()
            await expect(form.locator(".field-error")).to_contain_text("same")
            await form.locator("input[name=poll-draft-option-3]").fill("Rovers")
            await form.locator("#save-poll-draft").click()
            await expect(form).to_have_count(0)
            drafted = drafts.locator("li.poll[data-kind=multiple][data-state=draft]")
            await expect(drafted).to_have_count(1)
            await expect(drafted.locator(".title")).to_have_text(POLL_TITLE)
            poll_id = await drafted.get_attribute("data-id")
            polls = (await http.get(f"/api/events/{seeded.event.id}/polls")).json()
            assert [(p["id"], p["kind"], p["options"]) for p in polls] == [
                (poll_id, "multiple", ["Robots", "Rockets", "Rovers"])
            ]

            # The first cue opens that poll.
            first = rows.nth(0)
            await first.locator("select.add").select_option("open_poll")
            await expect(first.locator("select.poll-pick")).to_have_value(str(poll_id))
            await expect(editor.locator("tr.cue-row.dirty")).to_have_count(0)
            await expect(editor.locator("text=saving…")).to_have_count(0)
            saved = await sheet(http, seeded)
            assert saved["cues"][0]["actions"] == [{"type": "open_poll", "poll_id": poll_id}]
            assert saved["cues"][1]["actions"] == []

            # A draft the cue opens cannot be deleted; the server says which cue.
            delete = drafted.locator(".delete-poll")
            await delete.click()
            await expect(delete).to_have_text("Really delete?")
            await delete.click()
            await expect(drafts.locator(".field-error")).to_contain_text("opens or closes")
            await expect(drafted).to_have_count(1)

            # Export CSV: both cues, in the new order.
            async with page.expect_download() as info:
                await editor.locator("#export-csv").click()
            download = await info.value
            assert download.suggested_filename == f"{seeded.event.slug}-run-of-show.csv"
            exported = await asyncio.to_thread(Path(await download.path()).read_text, "utf-8")
            lines = list(csv.DictReader(io.StringIO(exported)))
            assert [r["title"] for r in lines] == ["Keynote: rockets", "Welcome"]
            assert [r["planned_duration_s"] for r in lines] == ["1200", "300"]
            assert [r["owner_role"] for r in lines] == ["ops_lead", "host"]
            assert datetime.fromisoformat(lines[0]["planned_start_at"]) == start_at
            assert lines[1]["planned_start_at"] == ""
            assert json.loads(lines[0]["actions"]) == [{"type": "open_poll", "poll_id": poll_id}]
            assert lines[1]["actions"] == ""

            # A broken YAML sheet: the API's message names line 5, and nothing changes.
            await editor.locator("#import-file").set_input_files(
                files=[
                    {"name": "broken.yaml", "mimeType": "application/yaml", "buffer": BROKEN_YAML}
                ]
            )
            await editor.locator("#import-button").click()
            result = editor.locator("#import-result")
            await expect(result.locator(".import-message")).to_contain_text(
                "line 5, field planned_duration_s"
            )
            await expect(result.locator(".problems li")).to_have_count(1)
            await expect(result.locator(".problems li")).to_contain_text(
                "line 5, planned_duration_s"
            )
            await expect(rows).to_have_count(2)
            after = await sheet(http, seeded)
            assert [c["id"] for c in after["cues"]] == [keynote_id, welcome_id]

            # Escape closes the editor; the live grid is back with the GO shortcut shown.
            await page.keyboard.press("Escape")
            await expect(editor).to_have_count(0)
            await expect(toggle).to_have_attribute("aria-pressed", "false")
            await expect(toggle).to_be_focused()
            go = host.locator("#go-button")
            await expect(go).to_have_attribute("title", re.compile(r"“Keynote: rockets” \(G\)$"))
            await expect(go).to_have_attribute("aria-keyshortcuts", "g")
            await expect(host.locator(".go-hint kbd")).to_have_text("G")
            await expect(host.locator("#next-cue")).to_have_attribute("data-id", keynote_id)
            live = host.locator("#live-cue")
            await expect(live).to_have_attribute("data-id", "")

            # "g" typed into a field is text, not GO.
            await host.locator("#new-poll").click()
            quick_title = host.locator("input[name=poll-title]")
            await quick_title.focus()
            await page.keyboard.press("g")
            await expect(quick_title).to_have_value("g")
            await asyncio.sleep(0.3)
            await expect(live).to_have_attribute("data-id", "")
            assert (await sheet(http, seeded))["live_cue_id"] is None
            # The quick poll takes a kind now: a rating has no options.
            await quick_title.fill("Rate the keynote")
            await host.locator("select[name=poll-kind]").select_option("rating")
            await expect(host.locator("input[name^=poll-option-]")).to_have_count(0)
            await host.locator("form.new-poll button[type=submit]").click()
            rating = host.locator("#poll-controls .draft", has_text="Rate the keynote")
            await expect(rating).to_contain_text("rating 1\u20135")

            # "g" with the focus on the host view presses GO.
            await host.locator("#host-clock").click()
            await page.keyboard.press("g")
            await expect(live).to_have_attribute("data-id", keynote_id, timeout=5_000)
            await expect(live.locator(".cue-title")).to_have_text("Keynote: rockets")
            await expect(host.locator("#next-cue")).to_have_attribute("data-id", welcome_id)
            open_poll = host.locator("#poll-controls .open-poll")
            await expect(open_poll).to_have_attribute("data-id", str(poll_id), timeout=5_000)
            after = await sheet(http, seeded)
            assert after["live_cue_id"] == keynote_id
            assert [(c["title"], c["state"]) for c in after["cues"]] == [
                ("Keynote: rockets", "live"),
                ("Welcome", "pending"),
            ]
            assert [(a["type"], a["status"]) for a in after["cues"][0]["actions_fired"]] == [
                ("open_poll", "done")
            ]
        finally:
            await page.close()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_someone_elses_save_shows_beside_what_the_host_typed(
    stack: Stack, seeded: Seeded, browser: Any
) -> None:
    await add_host(stack, seeded)
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    async with run_server(app) as server, httpx.AsyncClient(base_url=server.base_url) as admin:
        login = {"username": "admin", "password": seeded.admin_password}
        (await admin.post("/api/auth/login", json=login)).raise_for_status()
        ev = f"/api/events/{seeded.event.id}"
        made = await admin.post(
            f"{ev}/cues", json={"title": "Opening", "planned_duration_s": 300}, headers=key()
        )
        made.raise_for_status()
        cue = made.json()["cues"][0]
        page = await browser.new_page(viewport={"width": 1600, "height": 1000})
        try:
            editor = await open_editor(page, server.base_url, seeded)
            row = editor.locator(f"tr.cue-row[data-id='{cue['id']}']")
            title = row.locator("input.f-title")
            await expect(title).to_have_value("Opening")
            await title.fill("Opening words")  # typed, not saved yet

            # Someone else saves the cue meanwhile; their notes show up, my title stays.
            theirs = {"version": cue["version"], "title": "Opening (theirs)", "notes": "mic 2"}
            (
                await admin.patch(f"{ev}/cues/{cue['id']}", json=theirs, headers=key())
            ).raise_for_status()
            await expect(row.locator("textarea.f-notes")).to_have_value("mic 2", timeout=5_000)
            await expect(title).to_have_value("Opening words")

            # Saving mine is a 409: both versions are shown, nothing typed is lost.
            await title.press("Enter")
            conflict = editor.locator(f".status-row.conflict[data-for='{cue['id']}']")
            await expect(conflict).to_contain_text("Someone else edited")
            compared = conflict.locator("tr[data-field=title]")
            await expect(compared.locator(".mine")).to_have_text("Opening words")
            await expect(compared.locator(".theirs")).to_have_text("Opening (theirs)")
            await expect(title).to_have_value("Opening words")
            assert (await sheet(admin, seeded))["cues"][0]["title"] == "Opening (theirs)"

            # Keep mine: my title on top of their version; their notes stay.
            await conflict.locator(".keep-mine").click()
            await expect(conflict).to_have_count(0)
            await expect(editor.locator("tr.cue-row.dirty")).to_have_count(0)
            now = (await sheet(admin, seeded))["cues"][0]
            assert (now["title"], now["notes"], now["version"]) == ("Opening words", "mic 2", 3)
            await expect(row).to_be_focused()

            # Delete, after a confirmation.
            await row.locator("button.delete").click()
            await row.locator("button.confirm-delete").click()
            await expect(editor.locator("tr.cue-row")).to_have_count(0)
            assert (await sheet(admin, seeded))["cues"] == []
        finally:
            await page.close()
