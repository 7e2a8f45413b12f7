"""The HTML report in headless Chromium, opened from a file as a reader would: it asks the
network for nothing (even with its CSP taken out), its charts draw (the screenshot of
the audience chart has the lines' colours in it), and it prints to A4 PDF, one page
per section at least, without dark backgrounds."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.reports import figures, render_html
from app.reports.formatting import PLATFORM_COLORS, TOTAL_COLOR
from tests.conftest import Seeded, Stack
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.reports.scenario import play

pytestmark = pytest.mark.e2e

SECTIONS = ("kpis", "charts", "retention", "segments", "questions", "polls", "incidents",
            "findings")  # fmt: skip


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    """The report needs no console build: the browser alone (launched as conftest does)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def report_file(stack: Stack, seeded: Seeded, tmp_path: Path) -> Path:
    await play(stack, seeded)
    async with stack.db.sessions() as session:
        found = await figures.build(session, seeded.event.id)
    return write(tmp_path / "report.html", render_html.render(found))


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


class Recorder:
    """Every request the page makes, and every console complaint (a CSP refusal is one)."""

    def __init__(self, own: str) -> None:
        self.own = own
        self.requests: list[str] = []
        self.complaints: list[str] = []

    async def attach(self, page: Any) -> None:
        async def route(r: Any) -> None:
            self.requests.append(r.request.url)
            if r.request.url == self.own:
                await r.continue_()
            else:
                await r.abort()

        def console(message: Any) -> None:
            if message.type in ("error", "warning"):
                self.complaints.append(message.text)

        await page.route("**/*", route)
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", console)

    def external(self) -> list[str]:
        return [u for u in self.requests if u != self.own]


async def open_report(browser: Any, path: Path) -> tuple[Any, Recorder]:
    page = await browser.new_page(viewport={"width": 1100, "height": 900})
    recorder = Recorder(path.as_uri())
    await recorder.attach(page)
    await page.goto(path.as_uri(), wait_until="load")
    return page, recorder


# -- PNG without Pillow: Chromium writes 8-bit RGB(A), non-interlaced --


def decode_png(data: bytes) -> tuple[int, int, list[bytes], int]:
    """(width, height, rows of raw pixels, bytes per pixel)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks, header = 8, [], b""
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        at += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            corner = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + guess) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows, bpp


def pixels(png: bytes) -> list[tuple[int, int, int]]:
    width, _, rows, bpp = decode_png(png)
    return [tuple(row[x * bpp : x * bpp + 3]) for row in rows for x in range(width)]  # type: ignore[misc]


def rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def near(a: tuple[int, int, int], b: tuple[int, int, int], tolerance: int = 24) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


# -- the tests --


async def test_report_opens_offline_and_its_charts_draw(
    chromium: Any, report_file: Path, tmp_path: Path
) -> None:
    page, recorder = await open_report(chromium, report_file)
    assert await page.title() == "Report: Launch"
    for section in SECTIONS:
        assert await page.locator(f"section#{section}").is_visible(), section
    await page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 0

    # Every chart has a size on the page, and its lines have a length.
    charts = page.locator("svg.chart")
    assert await charts.count() >= 5
    for i in range(await charts.count()):
        box = await charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 60, box
    lines = await page.evaluate(
        """() => [...document.querySelectorAll('#chart-audience polyline')].map((p) => ({
            series: p.dataset.series,
            points: p.points.numberOfItems,
            length: p.getTotalLength(),
        }))"""
    )
    assert {line["series"]: line["points"] for line in lines} == {
        "Twitch": 6,
        "YouTube": 6,
        "Total": 6,
    }
    assert all(line["length"] > 100 for line in lines), lines

    # The screenshot of the audience chart has ink, and the colours of its three lines.
    chart = page.locator("#chart-audience")
    await chart.scroll_into_view_if_needed()
    shot = pixels(await chart.screenshot())
    ink = [p for p in shot if p != (255, 255, 255)]
    assert len(ink) / len(shot) > 0.02, f"{len(ink)} of {len(shot)} pixels drawn"
    for name, color in (("twitch", PLATFORM_COLORS["twitch"]),
                        ("youtube", PLATFORM_COLORS["youtube"]), ("total", TOTAL_COLOR)):  # fmt: skip
        hits = sum(1 for p in shot if near(p, rgb(color)))
        assert hits > 200, f"the {name} line: {hits} pixels of {color}"

    # Nothing but the file itself was asked for, and nothing was refused.
    assert recorder.external() == []
    assert recorder.complaints == []
    await page.close()


async def test_report_markup_loads_nothing_without_its_csp(
    chromium: Any, report_file: Path, tmp_path: Path
) -> None:
    """The CSP would block a load silently: without it, the markup must still ask for
    nothing. A copy with one external image shows the recorder would see it."""
    html = read(report_file)
    bare = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    assert bare != html
    naked = tmp_path / "no-csp.html"
    write(naked, bare)
    page, recorder = await open_report(chromium, naked)
    await page.wait_for_timeout(300)
    assert recorder.external() == []
    await page.close()

    control = tmp_path / "control.html"
    write(control, bare.replace("</main>", '<img src="http://198.51.100.7/pixel.png"></main>'))
    page, recorder = await open_report(chromium, control)
    await page.wait_for_timeout(300)
    assert recorder.external() == ["http://198.51.100.7/pixel.png"] * 2  # routed and seen
    await page.close()


async def test_report_prints_to_a4(chromium: Any, report_file: Path) -> None:
    page, recorder = await open_report(chromium, report_file)
    await page.emulate_media(media="print")
    # No dark background when printed: every painted area larger than a legend swatch
    # (a platform's colour square) is light.
    dark = await page.evaluate(
        """() => [...document.querySelectorAll('*')].flatMap((el) => {
            const m = getComputedStyle(el).backgroundColor.match(/[\\d.]+/g);
            const box = el.getBoundingClientRect();
            if (!m || box.width * box.height <= 400) return [];
            const [r, g, b, a = 1] = m.map(Number);
            const light = 0.2126 * r + 0.7152 * g + 0.0722 * b;
            return a > 0.3 && light < 200 ? [`${el.tagName}#${el.id} ${m}`] : [];
        })"""
    )
    assert dark == []
    widths = await page.evaluate(
        "() => [...document.querySelectorAll('svg.chart')].map((s) => s.getBoundingClientRect().width)"
    )
    assert widths and all(w > 0 for w in widths)

    pdf = await page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    # The header and key figures, then a page break before each following section.
    assert pages >= len(SECTIONS), pages
    assert re.search(rb"/MediaBox\s*\[\s*0 0 59[45]\.\d+ 84[12]\.\d+\s*\]", pdf), "not A4"
    assert recorder.external() == []
    await page.close()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_console_report_menu_opens_and_downloads(
    stack: Stack, seeded: Seeded, browser: Any
) -> None:
    """From the Ops view: the HTML report opens in a new tab, Markdown downloads."""
    from playwright.async_api import expect

    from app.main import create_app
    from tests.conftest import run_server

    await play(stack, seeded)
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    async with run_server(app) as server:
        context = await browser.new_context(
            viewport={"width": 1500, "height": 1000}, accept_downloads=True
        )
        page = await context.new_page()
        await page.goto(server.base_url + "/")
        await page.fill("input[name=username], input#username", "mod")
        await page.fill("input[type=password]", "mod-pass")
        await page.click("button[type=submit]")
        await page.click(f"text={seeded.event.title}")
        await page.wait_for_selector("#connection-badge[data-status=live]", timeout=10_000)
        await page.click("#ops-button")
        await expect(page.locator("#ops-view")).to_be_visible()

        menu = page.locator("#report-button")
        await menu.click()
        await expect(menu).to_have_attribute("aria-expanded", "true")
        links = page.locator("#report-links a")
        await expect(links).to_have_text(
            [
                "Open HTML report",
                "Download Markdown",
                "Download JSON",
                "Download CSV (audience series)",
            ]
        )
        # Esc closes the menu, not the Ops view.
        await page.keyboard.press("Escape")
        await expect(menu).to_have_attribute("aria-expanded", "false")
        await expect(page.locator("#ops-view")).to_be_visible()

        await menu.click()
        async with context.expect_page() as opened:
            await page.click("#report-html")
        report = await opened.value
        await report.wait_for_load_state("load")
        assert await report.title() == "Report: Launch"
        await expect(report.locator("#chart-audience polyline")).to_have_count(3)
        await report.close()

        await menu.click()
        async with page.expect_download() as saved:
            await page.click("#report-md")
        download = await saved.value
        assert download.suggested_filename == "launch-report.md"
        text = read(Path(await download.path()))
        assert text.startswith("# Post-event report: Launch")
        await context.close()
