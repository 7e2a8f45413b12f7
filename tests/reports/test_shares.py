"""Shares (or forwards), where a platform reports them: none of Twitch, YouTube, Zoom or
Owncast does live, so they come from the signed webhook (`"type": "shares"`), a running
count per platform. The report shows the count, and names the platforms that report none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.envelope import Author, Kind, make_envelope
from app.events import service as events
from app.pipeline.worker import PipelineWorker
from app.reports import figures
from app.reports.render import RENDERERS, RenderOptions
from tests.conftest import Seeded, Stack
from tests.pipeline.harness import drain

T0 = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
LINKEDIN = "webhook:linkedin"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
async def hook(stack: Stack, seeded: Seeded) -> str:
    async with stack.db.sessions() as session:
        source = await events.add_source(
            session, seeded.event, "webhook", "LinkedIn Live", config={"label": "linkedin"}
        )
        await session.commit()
        return source.id


async def feed(
    stack: Stack, seeded: Seeded, hook: str, items: list[tuple[str, Kind, float, dict]]
) -> None:
    """One batch through the pipeline."""
    sources = {"twitch": seeded.sources[0].id, LINKEDIN: hook}
    payloads = [
        make_envelope(
            event_id=seeded.event.id,
            source_id=sources[platform],
            platform=platform,
            kind=kind,
            platform_message_id=f"{kind}-{second}-{i}",
            platform_at=at(second),
            ingest_at=at(second),
            author=Author(id="t1", name="T1") if kind is Kind.chat else None,
            text="great talk" if kind is Kind.chat else None,
            data=data,
        ).to_json()
        for i, (platform, kind, second, data) in enumerate(items)
    ]
    await stack.bus.add_ingest(seeded.event.id, payloads)
    await drain(stack, PipelineWorker(stack.bus, stack.db, consumer="shares"), seeded.event.id)


def rendered(found: dict[str, Any], fmt: str, **options: Any) -> str:
    return RENDERERS[fmt].render(found, RenderOptions(**options)).decode()


async def report(stack: Stack, seeded: Seeded) -> dict[str, Any]:
    async with stack.db.sessions() as session:
        return await figures.build(session, seeded.event.id)


async def test_shares_are_the_running_count_a_platform_reports(
    stack: Stack, seeded: Seeded, hook: str
) -> None:
    await feed(
        stack,
        seeded,
        hook,
        [
            ("twitch", Kind.chat, 10, {}),
            ("twitch", Kind.chat, 70, {}),
            (LINKEDIN, Kind.shares, 20, {"count": 5}),
            (LINKEDIN, Kind.shares, 50, {"count": 12}),
            (LINKEDIN, Kind.shares, 80, {"count": 20}),
        ],
    )
    # Late and older, in a batch of its own: it lowers nothing.
    await feed(stack, seeded, hook, [(LINKEDIN, Kind.shares, 40, {"count": 3})])
    found = await report(stack, seeded)
    assert found["kpis"]["shares"] == {
        "total": 20,
        "by_platform": {LINKEDIN: 20},
        "reported_by": [LINKEDIN],
        "not_reported_by": ["twitch"],
    }
    assert found["series"]["shares"] == {
        "columns": ["minute", LINKEDIN, "total"],
        "rows": [
            ["2026-11-20T18:00:00Z", 12, 12],
            ["2026-11-20T18:01:00Z", 20, 20],
        ],
    }
    html = rendered(found, "html")
    assert 'data-kpi="shares"' in html and "not reported by Twitch" in html
    md = rendered(found, "md")
    assert "| Shares | 20 (" in md
    csv = rendered(found, "csv", series="shares")
    assert csv.splitlines()[-1].endswith(",20,20")


async def test_no_platform_reporting_shares_says_so(
    stack: Stack, seeded: Seeded, hook: str
) -> None:
    await feed(stack, seeded, hook, [("twitch", Kind.chat, 10, {})])
    found = await report(stack, seeded)
    assert found["kpis"]["shares"] == {
        "total": None,
        "by_platform": {},
        "reported_by": [],
        "not_reported_by": ["twitch"],
    }
    md = rendered(found, "md")
    assert "| Shares | — (not reported by Twitch) |" in md


async def test_a_shares_report_without_a_count_is_set_aside(
    stack: Stack, seeded: Seeded, hook: str
) -> None:
    await feed(stack, seeded, hook, [(LINKEDIN, Kind.shares, 10, {"count": -1})])
    dead = await stack.bus.dead_letters(seeded.event.id, 10)
    assert [d.reason for d in dead] == ["shares without a count"]
    assert (await report(stack, seeded))["kpis"]["shares"]["total"] is None
