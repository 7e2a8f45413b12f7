"""Triage by keyboard alone in headless Chromium, and a second console converges live.

Two moderators open the same event in separate browser contexts. On console A only
the keyboard is used (j/k to move, a/r/d/s/x/p to act, ? for the shortcut overlay,
u to undo); after every action the question's state must show up on A *and* on B
(B learns it from the live delta, never by reloading), and at the end both consoles
and the database must hold the same (id, state, pinned) set.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from app.auth import service as auth
from app.auth.models import Role
from app.envelope import Author, Kind, make_envelope
from app.events import service as events
from app.main import create_app
from app.pipeline.worker import PipelineWorker
from app.questions.models import Question
from tests.conftest import Seeded, Stack, run_server

pytestmark = pytest.mark.e2e

# Distinct questions (no near-duplicates for the merge suggester to fold together).
QUESTIONS = [
    "Will the keynote recording be available on demand afterwards?",
    "Which regions does the new edge network launch in?",
    "Can I migrate my existing projects without downtime?",
    "Is there a student discount for the team plan?",
    "How do webhooks retry when my endpoint is down?",
    "Does the mobile SDK support offline sync yet?",
]
STATES = ("pending", "approved", "on_deck", "answered", "rejected", "archived")
CONVERGE_MS = 5_000
ALL_TAB = ".tabs .tab:not([data-state])"
PINNED = re.compile(r"(^|\s)pinned(\s|$)")

# Every question row as the user sees it, in display order (rows are absolutely
# positioned in a virtual list, so DOM order is not display order).
ROWS_JS = """() => [...document.querySelectorAll('.question-row')]
  .map((r) => ({id: r.dataset.id, state: r.dataset.state,
               pinned: r.classList.contains('pinned'), top: parseFloat(r.style.top)}))
  .sort((a, b) => a.top - b.top)"""


def question_line(seeded: Seeded, i: int, text: str) -> bytes:
    source = seeded.sources[i % 3]
    return make_envelope(
        event_id=seeded.event.id,
        source_id=source.id,
        platform=source.config["plays"],
        kind=Kind.chat,
        platform_message_id=f"kq{i}-{uuid.uuid4().hex[:6]}",
        platform_at=datetime.now(UTC),
        author=Author(id=f"viewer{i}", name=f"Viewer {i}"),
        text=text,
    ).to_json()


async def open_console(browser: Any, base_url: str, user: str, password: str, title: str) -> Any:
    context = await browser.new_context(viewport={"width": 1500, "height": 1000})
    page = await context.new_page()
    await page.goto(base_url + "/")
    await page.fill("input[name=username], input#username", user)
    await page.fill("input[type=password]", password)
    await page.click("button[type=submit]")
    await page.click(f"text={title}")
    await page.wait_for_selector("#connection-badge[data-status=live]", timeout=10_000)
    return page


async def rows(page: Any) -> list[dict[str, Any]]:
    return list(await page.evaluate(ROWS_JS))


async def cursor(page: Any) -> str:
    """The id of the one selected row."""
    selected = page.locator(".question-row.selected")
    await expect(selected).to_have_count(1, timeout=CONVERGE_MS)
    return str(await selected.get_attribute("data-id"))


async def tab_until(page: Any, selector: str, limit: int = 60) -> None:
    """Press Tab until the focused element matches `selector` (keyboard navigation)."""
    for _ in range(limit):
        if await page.evaluate("(s) => !!document.activeElement?.matches(s)", selector):
            return
        await page.keyboard.press("Tab")
    pytest.fail(f"Tab never reached {selector!r}")


async def go_to(page: Any, target: str) -> None:
    """Move the selection to `target` with j/k only."""
    order = [r["id"] for r in await rows(page)]
    assert target in order, (target, order)
    if await page.locator(".question-row.selected").count() == 0:
        await page.keyboard.press("j")  # nothing selected yet: j selects the first row
        await expect(page.locator(".question-row.selected")).to_have_count(1)
    here = order.index(await cursor(page))
    delta = order.index(target) - here
    for _ in range(abs(delta)):
        await page.keyboard.press("j" if delta > 0 else "k")
    await expect(page.locator(".question-row.selected")).to_have_attribute(
        "data-id", target, timeout=CONVERGE_MS
    )


async def converge(pages: list[Any], qid: str, state: str, pinned: bool | None = None) -> None:
    """Both consoles show `qid` in `state` (and pinned or not), within a few seconds."""
    for page in pages:
        row = page.locator(f'.question-row[data-id="{qid}"]')
        await expect(row).to_have_attribute("data-state", state, timeout=CONVERGE_MS)
        # The state chip the moderator reads ("on deck", not "on_deck").
        await expect(row.locator(".chip")).to_have_text(state.replace("_", " "))
        if pinned is not None:
            if pinned:
                await expect(row).to_have_class(PINNED, timeout=CONVERGE_MS)
            else:
                await expect(row).not_to_have_class(PINNED, timeout=CONVERGE_MS)


async def act(pages: list[Any], key: str, qid: str, state: str, pinned: bool | None = None) -> None:
    """Press one action key on console A (pages[0]) with `qid` selected; both converge."""
    page = pages[0]
    assert await cursor(page) == qid, "the action would hit the wrong question"
    await page.keyboard.press(key)
    await converge(pages, qid, state, pinned)


async def tab_counts(page: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in STATES:
        out[s] = int(await page.locator(f'.tabs .tab[data-state="{s}"] .n').inner_text())
    out["all"] = int(await page.locator(f"{ALL_TAB} .n").inner_text())
    return out


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_triage_five_questions_by_keyboard_and_a_second_console_converges(
    stack: Stack, seeded: Seeded, browser: Any
) -> None:
    async with stack.db.sessions() as session:
        second = await auth.create_user(session, "mod2", "mod2-pass", Role.moderator, "Ana")
        await events.add_member(session, seeded.event, second.id, Role.moderator.value)
        await session.commit()

    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    worker = PipelineWorker(stack.bus, stack.db, consumer="e2e", gauge_interval_s=0.5)
    await stack.bus.mark_event_active(seeded.event.id)
    async with run_server(app) as server:
        pipeline = asyncio.create_task(worker.run())
        title = seeded.event.title
        a = b = None
        try:
            a = await open_console(browser, server.base_url, "mod", "mod-pass", title)
            b = await open_console(browser, server.base_url, "mod2", "mod2-pass", title)
            pages = [a, b]
            # Proof that B never reloads: a marker that a navigation would wipe.
            await b.evaluate("window.__noReload = 'kept'")

            # The questions arrive live, while both consoles are open.
            lines = [question_line(seeded, i, t) for i, t in enumerate(QUESTIONS)]
            await stack.bus.add_ingest(seeded.event.id, lines)
            for page in pages:
                await expect(page.locator(".question-row")).to_have_count(
                    len(QUESTIONS), timeout=10_000
                )
                await expect(page.locator(".question-row[data-state=pending]")).to_have_count(
                    len(QUESTIONS)
                )

            # B looks at every state (B may click: only A is keyboard-only).
            await b.click(ALL_TAB)
            await expect(b.locator(ALL_TAB)).to_have_attribute("aria-selected", "true")

            # ---- console A: keyboard only from here on -------------------------------
            await a.evaluate("document.activeElement?.blur()")  # focus on the page body
            assert await a.evaluate("document.activeElement === document.body")
            # The "all" tab, reached by Tab and chosen by Enter, so answered/rejected/
            # archived questions stay in view.
            await tab_until(a, ALL_TAB)
            await a.keyboard.press("Enter")
            await expect(a.locator(ALL_TAB)).to_have_attribute("aria-selected", "true")
            # On into the question list itself.
            await tab_until(a, ".viewport[role=listbox]")

            order = [r["id"] for r in await rows(a)]
            assert len(order) == len(QUESTIONS)
            first, second_q, third, fourth, fifth, untouched = order

            # j selects the first question; a approves it.
            await a.keyboard.press("j")
            assert await cursor(a) == first
            await act(pages, "a", first, "approved")

            # Move down, r rejects.
            await go_to(a, third)
            await act(pages, "r", third, "rejected")

            # Back up, d puts one on deck, then s marks that one answered.
            await go_to(a, second_q)
            await act(pages, "d", second_q, "on_deck")
            await go_to(a, second_q)
            await act(pages, "s", second_q, "answered")

            # p pins one (it jumps to the top of the list, still pending).
            await go_to(a, fourth)
            await act(pages, "p", fourth, "pending", pinned=True)
            assert (await rows(a))[0]["id"] == fourth
            assert (await rows(b))[0]["id"] == fourth

            # x archives another.
            await go_to(a, fifth)
            await act(pages, "x", fifth, "archived")

            # ? lists the shortcuts; Escape closes the overlay.
            await a.keyboard.press("?")
            sheet = a.get_by_role("dialog", name="Keyboard shortcuts")
            await expect(sheet).to_be_visible(timeout=CONVERGE_MS)
            listed = {
                (await tr.locator("td.keys").inner_text()).strip(): await tr.locator(
                    "td:not(.keys)"
                ).inner_text()
                for tr in await sheet.locator("tr").all()
            }
            for keys, what in {
                "j / ↓": "next question",
                "k / ↑": "previous question",
                "a": "approve",
                "r": "reject",
                "d": "on deck",
                "s": "answered",
                "x": "archive",
                "p": "pin",
                "u": "undo",
                "?": "show / hide",
                "Esc": "close the overlay",
            }.items():
                assert keys in listed, (keys, listed)
                assert what in listed[keys], (keys, listed[keys])
            # While the overlay is open, action keys do nothing.
            await a.keyboard.press("a")
            await a.keyboard.press("Escape")
            await expect(sheet).to_be_hidden(timeout=CONVERGE_MS)
            await expect(a.locator(".overlay")).to_have_count(0)

            # u undoes the last action (the archive): back to pending on both consoles;
            # the earlier actions (the pin among them) stand.
            await a.keyboard.press("u")
            await converge(pages, fifth, "pending", pinned=False)
            await expect(a.locator(".toast", has_text="Undone")).to_be_visible(timeout=CONVERGE_MS)
            await converge(pages, fourth, "pending", pinned=True)

            expected = {
                first: ("approved", False),
                second_q: ("answered", False),
                third: ("rejected", False),
                fourth: ("pending", True),
                fifth: ("pending", False),
                untouched: ("pending", False),
            }
            async with stack.db.sessions() as session:
                in_db = {
                    q.id: (str(q.state), bool(q.pinned))
                    for q in await session.scalars(
                        select(Question).where(Question.event_id == seeded.event.id)
                    )
                }
            assert in_db == expected
            on_a = {r["id"]: (r["state"], r["pinned"]) for r in await rows(a)}
            on_b = {r["id"]: (r["state"], r["pinned"]) for r in await rows(b)}
            assert on_a == on_b == in_db

            # The counts on the state tabs agree with the database on both consoles.
            want = {s: sum(1 for st, _ in in_db.values() if st == s) for s in STATES}
            want["all"] = len(in_db)
            for page in pages:
                await expect(page.locator(f"{ALL_TAB} .n")).to_have_text(str(want["all"]))
                assert await tab_counts(page) == want

            # B converged through live deltas alone: same document, still live.
            assert await b.evaluate("window.__noReload") == "kept"
            for page in pages:
                await expect(page.locator("#connection-badge")).to_have_attribute(
                    "data-status", "live"
                )
        finally:
            for page in (a, b):
                if page is not None:
                    await page.context.close()
            pipeline.cancel()
            await asyncio.gather(pipeline, return_exceptions=True)
