"""The host view's share panel in headless Chromium, as a host: make the audience page,
see its QR code load and copy its link; replace the link (the old one answers 404 at
once); make an overlay link, open its poll overlay, revoke it (the overlay gets 401).
A moderator opening the panel is told who may use it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import Page, expect

from app.auth import service as auth
from app.auth.models import Role
from app.events import service as events
from app.main import create_app
from tests.conftest import Seeded, Stack, run_server

pytestmark = pytest.mark.e2e

HOST = ("hana", "hana-host-pass")


async def add_host(stack: Stack, seeded: Seeded) -> None:
    async with stack.db.sessions() as session:
        user = await auth.create_user(session, HOST[0], HOST[1], Role.host, "Hana")
        await events.add_member(session, seeded.event, user.id, Role.host.value)
        await session.commit()


async def open_share(page: Page, base_url: str, seeded: Seeded, user: str, password: str) -> None:
    await page.goto(base_url + "/")
    await page.fill("input[name=username], input#username", user)
    await page.fill("input[type=password]", password)
    await page.click("button[type=submit]")
    await page.click(f"text={seeded.event.title}")
    await page.wait_for_selector("#connection-badge[data-status=live]", timeout=10_000)
    await page.click("#host-button")
    share = page.locator("#share-button")
    await expect(share).to_have_attribute("aria-expanded", "false")
    await share.click()
    await expect(share).to_have_attribute("aria-expanded", "true")
    await expect(page.locator("#share-panel")).to_be_focused()


async def qr_loaded(page: Page, src: str) -> None:
    """The QR <img> shows `src`, has loaded (naturalWidth > 0) and is large enough to scan."""
    qr = page.locator("#audience-qr")
    await expect(qr).to_have_attribute("src", src)
    await expect(qr).to_have_attribute("alt", "QR code for the audience page link")
    await page.wait_for_function(
        """(src) => {
            const img = document.querySelector('#audience-qr');
            return !!img && img.src === src && img.complete && img.naturalWidth > 0;
        }""",
        arg=src,
        timeout=10_000,
    )
    box = await qr.bounding_box()
    assert box is not None and box["width"] >= 200 and box["height"] >= 200, box


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_share_panel_audience_link_rotation_and_overlay_tokens(
    stack: Stack, seeded: Seeded, browser: Any
) -> None:
    await add_host(stack, seeded)
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    ev = f"/api/events/{seeded.event.id}"
    async with run_server(app) as server, httpx.AsyncClient(base_url=server.base_url) as api:
        login = {"username": HOST[0], "password": HOST[1]}
        (await api.post("/api/auth/login", json=login)).raise_for_status()
        context = await browser.new_context(
            viewport={"width": 1500, "height": 1000},
            permissions=["clipboard-read", "clipboard-write"],
        )
        overlay = None
        try:
            page = await context.new_page()
            await open_share(page, server.base_url, seeded, *HOST)
            panel = page.locator("#share-panel")

            # No page yet: one button makes it.
            assert (await api.get(f"{ev}/audience")).json() is None
            await expect(panel.locator("#audience-qr")).to_have_count(0)
            await panel.locator("#create-audience").click()
            link_box = panel.locator("#audience-url")
            await expect(link_box).to_be_visible(timeout=5_000)
            first = (await api.get(f"{ev}/audience")).json()
            assert first is not None and first["url"] == f"{server.base_url}/a/{first['code']}"
            await expect(link_box).to_have_value(first["url"])
            await expect(panel.locator("#open-audience")).to_have_attribute("href", first["url"])
            await qr_loaded(page, first["qr_url"])
            assert (await api.get(f"/api/a/{first['code']}")).status_code == 200

            await panel.locator("#copy-audience-url").click()
            await expect(panel.locator("#copy-audience-url")).to_have_text("Copied")
            assert await page.evaluate("navigator.clipboard.readText()") == first["url"]

            # A new link, behind a confirmation that says the old one dies at once.
            await panel.locator("#rotate-audience").click()
            warning = panel.locator("#rotate-warning")
            await expect(warning).to_contain_text("old link and QR code stop working at once")
            await expect(panel.locator("#rotate-cancel")).to_be_focused()
            await panel.locator("#rotate-cancel").click()
            await expect(warning).to_have_count(0)
            assert (await api.get(f"{ev}/audience")).json()["code"] == first["code"]

            await panel.locator("#rotate-audience").click()
            await panel.locator("#rotate-confirm").click()
            await expect(link_box).not_to_have_value(first["url"], timeout=5_000)
            second = (await api.get(f"{ev}/audience")).json()
            assert second["code"] != first["code"]
            await expect(link_box).to_have_value(second["url"])
            await expect(panel.locator(".status")).to_contain_text(
                "old link and QR code no longer work"
            )
            assert (await api.get(f"/api/a/{first['code']}")).status_code == 404
            assert (await api.get(f"/api/a/{first['code']}/qr.svg")).status_code == 404
            assert (await api.get(f"/api/a/{second['code']}")).status_code == 200
            await qr_loaded(page, second["qr_url"])

            # An overlay link: three URLs, shown once, never kept in the browser's storage.
            await expect(panel.locator("#overlay-tokens-empty")).to_be_visible()
            await panel.locator("#new-overlay").click()
            created = panel.locator("#overlay-created")
            await expect(created).to_contain_text("shown only this once")
            await expect(created).to_contain_text("OBS Browser Source at 1920\u00d71080")
            urls = {
                kind: await created.locator(f"#overlay-url-{kind}").input_value()
                for kind in ("poll", "question", "segment")
            }
            token = parse_qs(urlsplit(urls["poll"]).query)["token"][0]
            assert token.startswith(f"ovl_{seeded.event.id}_")
            for kind, url in urls.items():
                assert url == f"{server.base_url}/overlay/{kind}?token={token}"
            listed = (await api.get(f"{ev}/overlays")).json()
            assert len(listed) == 1 and token.split("_", 2)[2].startswith(listed[0]["prefix"])
            row = panel.locator(f"#overlay-tokens li[data-id='{listed[0]['id']}']")
            await expect(row).to_contain_text(f"{listed[0]['prefix']}…")
            await expect(row).to_contain_text(f"by {HOST[0]}")
            stored = await page.evaluate(
                "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
            )
            assert token not in stored

            overlay = await context.new_page()
            async with overlay.expect_response(
                lambda r: "/api/overlay/state" in r.url
            ) as first_poll:
                await overlay.goto(urls["poll"])
            state = await first_poll.value
            assert state.status == 200
            assert (await state.json())["event"]["id"] == seeded.event.id

            # Revoke, behind a confirmation: the token answers 401 and the overlay sees it.
            await row.locator(f"#revoke-{listed[0]['id']}").click()
            await expect(row).to_contain_text("go blank in OBS")
            async with overlay.expect_response(
                lambda r: "/api/overlay/state" in r.url and r.status == 401, timeout=10_000
            ):
                await row.locator(".revoke-confirm").click()
            await expect(row).to_have_count(0)
            await expect(created).to_have_count(0)
            await expect(panel.locator("#overlay-tokens-empty")).to_be_visible()
            gone = await api.get("/api/overlay/state", params={"token": token})
            assert gone.status_code == 401
            assert (await api.get(f"{ev}/overlays")).json() == []

            # Escape closes the panel (not the host view) and gives the focus back.
            await panel.locator("#new-overlay").focus()
            await page.keyboard.press("Escape")
            await expect(panel).to_have_count(0)
            await expect(page.locator("#host-view")).to_be_visible()
            await expect(page.locator("#share-button")).to_be_focused()
        finally:
            if overlay is not None:
                await overlay.close()
            await context.close()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_share_panel_tells_a_moderator_who_may_share(
    stack: Stack, seeded: Seeded, browser: Any
) -> None:
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    async with run_server(app) as server:
        page = await browser.new_page(viewport={"width": 1500, "height": 1000})
        try:
            await open_share(page, server.base_url, seeded, "mod", "mod-pass")
            panel = page.locator("#share-panel")
            for block in ("#audience-share", "#overlay-share"):
                await expect(panel.locator(f"{block} .error")).to_contain_text(
                    "Only hosts, ops leads and admins", timeout=5_000
                )
            # Nothing is offered that would only fail.
            await expect(panel.locator("#create-audience")).to_have_count(0)
            await expect(panel.locator("#audience-url")).to_have_count(0)
            await expect(panel.locator("#new-overlay")).to_have_count(0)
            await expect(panel.locator("#overlay-tokens")).to_have_count(0)
        finally:
            await page.close()
