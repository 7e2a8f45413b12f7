"""The printable report (HTML and Markdown) on the scenario of tests/reports/scenario.py,
with audience text that tries to break out: every number shown is the figure's, every
user text is escaped, and the HTML names no external resource and runs no script."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.events.models import Event
from app.incidents.models import Incident
from app.polls.models import Poll, PollOption
from app.questions.models import Question
from app.reports import figures, render, render_html, render_md
from app.reports.formatting import duration, num, pct
from tests.conftest import Seeded, Stack
from tests.reports.scenario import Played, play

HOSTILE_QUESTION = "<script>alert(1)</script>"
HOSTILE_TITLE = 'Launch <img src=x onerror=alert(1)> & "friends"'
HOSTILE_OPTION = "Europe </text><a href='https://evil.example/'>win</a>"
HOSTILE_CUE = "Keynote | <b>big</b> [link](https://evil.example/)"
HOSTILE_INCIDENT = "Stream stutters <svg onload=alert(1)>"


# -- a small DOM, enough to read the report's tables and cards --


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and all(
                    child.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()
                ):
                    found.append(child)
                found.extend(child.all(tag, **attrs))
        return found

    def one(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]

    def rows(self) -> list[list[str]]:
        """A table's body rows as cell texts."""
        return [
            [" ".join(td.text().split()) for td in tr.all("td")]
            for tr in self.one("tbody").all("tr")
        ]


VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "source"}


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    assert builder.stack == [builder.root], "an element was left open"
    return builder.root


# -- the scenario, with hostile text --


@dataclass
class Rendered:
    played: Played
    figures: dict[str, Any]
    html: str
    md: str
    dom: Node


@pytest.fixture
async def rendered(stack: Stack, seeded: Seeded) -> Rendered:
    played = await play(stack, seeded)
    event_id = seeded.event.id
    async with stack.db.sessions() as session:
        await session.execute(update(Event).where(Event.id == event_id).values(title=HOSTILE_TITLE))
        asked = await session.scalar(
            select(Question.id).where(Question.event_id == event_id, Question.text == "a2 asks?")
        )
        await session.execute(
            update(Question).where(Question.id == asked).values(text=HOSTILE_QUESTION)
        )
        await session.execute(
            update(PollOption)
            .where(PollOption.poll_id == played.poll_id, PollOption.label == "Europe")
            .values(label=HOSTILE_OPTION)
        )
        await session.execute(
            update(Poll).where(Poll.id == played.poll_id).values(title="Which <i>region</i>?")
        )
        await session.execute(
            update(Incident).where(Incident.id == played.incident_id).values(title=HOSTILE_INCIDENT)
        )
        from app.cues.models import Cue

        await session.execute(
            update(Cue)
            .where(Cue.event_id == event_id, Cue.title == "Keynote")
            .values(title=HOSTILE_CUE)
        )
        await session.commit()
        found = await figures.build(session, event_id)
    html = render_html.render(found)
    return Rendered(played, found, html, render_md.render(found), parse(html))


def card(dom: Node, key: str) -> str:
    node = dom.one("div", data_kpi=key)
    return " ".join(
        next(n for n in node.all("div") if n.attrs.get("class") == "value").text().split()
    )


# -- HTML --


async def test_html_has_every_section(rendered: Rendered) -> None:
    dom = rendered.dom
    for section in (
        "kpis", "charts", "retention", "segments", "questions", "polls", "incidents",
        "findings",
    ):  # fmt: skip
        assert dom.one("section", id=section).all("h2"), section
    dom.one("header", id="report-header")
    for part in ("highlights", "shortcomings", "recommendations"):
        dom.one("div", id=part)
    for chart in ("chart-audience", "chart-chat", "chart-retention", "chart-segments",
                  "chart-poll-1"):  # fmt: skip
        assert dom.one("svg", id=chart).attrs["viewbox"].startswith("0 0 ")
    # Page breaks between sections when printed, on A4.
    assert "@page { size: A4" in rendered.html
    assert re.search(r"@media print \{[^@]*section\.page \{ break-before: page;", rendered.html)
    assert dom.one("section", id="charts").attrs["class"] == "page"


async def test_html_header_says_when_and_how_long(rendered: Rendered) -> None:
    dom = rendered.dom
    assert dom.one("h1", id="event-title").text() == HOSTILE_TITLE
    assert dom.one("span", id="event-date").text() == "Fri 20 Nov 2026"
    assert dom.one("span", id="event-window").text() == "18:00-18:06 UTC"
    assert dom.one("span", id="event-duration").text() == "6 min"


async def test_html_kpis_are_the_figures(rendered: Rendered) -> None:
    dom, kpis = rendered.dom, rendered.figures["kpis"]
    # Known answers of the scenario (tests/reports/test_figures.py works them out).
    assert card(dom, "peak_viewers") == "300"
    assert card(dom, "average_viewers") == "208.33"
    assert card(dom, "viewer_minutes") == "1,250"
    assert card(dom, "participants") == num(kpis["participants"]["total"])
    assert card(dom, "interactions") == num(kpis["interactions"]["total"])
    assert card(dom, "engagement_rate") == num(kpis["engagement_rate"]["total"])
    assert card(dom, "messages") == num(kpis["messages"]["total"])
    # Watch time from presence (zoom joins and leaves): 900 s over 5 viewers = 180 s.
    assert kpis["watch_time"]["basis"] == "presence"
    assert card(dom, "watch_time") == duration(kpis["watch_time"]["average_s"]) == "3 min"

    rows = {r[0]: r for r in dom.one("table", id="kpi-platforms").rows()}
    assert rows["Twitch"][1:5] == ["180", "18:02", "125", "750"]
    assert rows["YouTube"][1:5] == ["120", "18:02", "83.33", "500"]
    assert rows["Total"][1:5] == ["300", "18:02", "208.33", "1,250"]
    assert rows["Twitch"][8] == num(kpis["engagement_rate"]["by_platform"]["twitch"])

    by_type = {r[0]: r[-1] for r in dom.one("table", id="kpi-types").rows()}
    for kind, label in (("chat", "Chat messages"), ("questions", "Questions asked"),
                        ("poll_votes", "Poll votes"), ("upvotes", "Question upvotes")):  # fmt: skip
        assert by_type[label] == num(kpis["interactions"]["by_type"][kind])


async def test_html_charts_carry_the_series(rendered: Rendered) -> None:
    dom = rendered.dom
    audience = dom.one("svg", id="chart-audience")
    lines = {p.attrs["data-series"]: int(p.attrs["data-points"]) for p in audience.all("polyline")}
    assert lines == {"Twitch": 6, "YouTube": 6, "Total": 6}
    # Cue markers with their titles (escaped), and the incident with its span.
    cues = [g for g in audience.all("g") if g.attrs.get("class") == "marker cue"]
    assert [g.one("title").text().split(":")[0] for g in cues] == ["Cue 1", "Cue 2", "Cue 3"]
    assert HOSTILE_CUE in cues[1].one("title").text()
    incident = [g for g in audience.all("g") if g.attrs.get("class") == "marker incident"]
    assert len(incident) == 1 and incident[0].one("text").text() == "#1"
    assert audience.all("rect", **{"class": "span"})
    chat = dom.one("svg", id="chart-chat")
    assert {p.attrs["data-series"] for p in chat.all("polyline")} == {"Twitch", "YouTube", "Total"}
    # Presence exists: the retention curve, not the audience curve.
    assert dom.one("section", id="retention").attrs["data-basis"] == "presence"
    assert "audience curve" not in dom.one("section", id="retention").text()


async def test_html_segments_questions_polls_incidents(rendered: Rendered) -> None:
    dom, found = rendered.dom, rendered.figures
    segments = dom.one("table", id="segments-table").rows()
    assert [r[1] for r in segments] == ["Welcome", HOSTILE_CUE, "Q&A"]
    for row, segment in zip(segments, found["segments"], strict=True):
        assert row[11] == num(segment["interactions"]["total"])
        assert row[12] == num(segment["engagement_rate"])

    questions = found["questions"]
    assert card(dom, "q_received") == num(questions["received"]) == "3"
    assert card(dom, "q_answered") == "1"
    assert card(dom, "q_time_to_answer") == "1 min 30 s"  # answered 90 s after it came in
    top = dom.one("table", id="top-questions").rows()
    assert top[0][1] == "How does it scale past one region?" and top[0][0] == "3"
    assert HOSTILE_QUESTION in [r[1] for r in top]

    poll = dom.one("table", id="poll-1-table").rows()
    # Europe: t1 t9 (twitch) + y1 (youtube); Americas: t2.
    assert poll[0] == ["1", HOSTILE_OPTION, "2", "1", "3", "75%"]
    assert poll[1] == ["2", "Americas", "1", "0", "1", "25%"]
    assert pct(found["polls"]["items"][0]["participation"]) in dom.one("section", id="polls").text()

    times = {r[0].split()[0]: r[1:] for r in dom.one("table", id="incident-times").rows()}
    # Impact 2:50, detected 3:20, acknowledged 4:20, resolved 5:30 (the drill left out).
    assert times["TTD"] == ["1", "30 s", "30 s"]
    assert times["TTA"] == ["1", "1 min", "1 min"]
    assert times["TTR"] == ["1", "2 min 10 s", "2 min 10 s"]
    listed = dom.one("table", id="incident-list").rows()
    assert len(listed) == 1 and listed[0][1] == HOSTILE_INCIDENT


async def test_html_findings_state_rule_and_evidence(rendered: Rendered) -> None:
    dom, found = rendered.dom, rendered.figures
    for section in ("highlights", "shortcomings", "recommendations"):
        part = dom.one("div", id=section)
        for result in found[section]:
            shown = part.one(data_rule=result["id"])
            if result["fired"]:
                assert shown.tag == "li" and shown.attrs["class"] == "finding"
                assert shown.one(**{"class": "message"}).text() == result["message"]
                assert shown.one(**{"class": "rule"}).text() == "Rule" + result["rule"]
                assert shown.all(**{"class": "evidence"})
            else:
                assert shown in part.one("ul", **{"class": "checked"}).all("li")
                assert result["rule"] in shown.text()
    assert "Checked, did not apply" in dom.one("section", id="findings").text()
    # The scenario's peak: evidence numbers are the figures'.
    peak = dom.one("div", id="highlights").one(data_rule="peak_audience")
    shown = peak.one(**{"class": "evidence"}).all("dl")[0]
    pairs = [n.text() for n in shown.children if isinstance(n, Node)]
    assert pairs[:4] == ["viewers", "300", "at", "18:02 UTC"]


async def test_html_escapes_user_text_and_loads_nothing(rendered: Rendered) -> None:
    html, dom = rendered.html, rendered.dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()  # the report has no script at all
    assert dom.all("script") == [] and dom.all("img") == [] and dom.all("a") == []
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<svg onload" not in html and dom.all("i") == []
    # The hostile texts come back whole as text, never as markup.
    assert dom.one("head").one("title").text() == f"Report: {HOSTILE_TITLE}"
    assert HOSTILE_INCIDENT in dom.one("section", id="incidents").text()
    # No resource by URL: no attribute that loads anything, none naming a URL or url(),
    # no @import; not even an xmlns (inline SVG in HTML needs none).
    loaders = {"src", "href", "xlink:href", "srcset", "action", "poster", "data", "xmlns"}
    for node in dom.all():
        assert not loaders & set(node.attrs), (node.tag, node.attrs)
        assert not any(k.startswith("on") for k in node.attrs), (node.tag, node.attrs)
        for value in node.attrs.values():
            assert "://" not in value, (node.tag, value)
            assert "url(" not in value, (node.tag, value)
    style = dom.one("style").text()
    assert "@import" not in style and "url(" not in style and "://" not in style
    for scheme in ("http://", "https://"):
        # The only URLs are inside escaped audience text (a poll option, a cue title).
        assert all(
            "evil.example" in html[m.start() : m.start() + 40]
            for m in re.finditer(re.escape(scheme), html)
        )
    csp = dom.one("meta", http_equiv="Content-Security-Policy").attrs["content"]
    assert "default-src 'none'" in csp


async def test_html_without_presence_labels_the_audience_curve(
    stack: Stack, seeded: Seeded
) -> None:
    from app.pipeline import persist
    from tests.reports.scenario import at

    rows = [
        {"event_id": seeded.event.id, "metric": "viewers", "dimension": "twitch",
         "bucket_at": at(m * 60), "value": float(v)}
        for m, v in enumerate([50, 100, 80])
    ]  # fmt: skip
    async with stack.db.sessions() as session:
        await persist.upsert_metric_samples(session, rows)
        await session.commit()
        found = await figures.build(session, seeded.event.id)
    dom = parse(render_html.render(found))
    retention = dom.one("section", id="retention")
    assert retention.attrs["data-basis"] == "viewer_counts"
    assert "audience curve from viewer counts" in retention.text()
    assert (
        "no presence data" in card(dom, "watch_time") + dom.one("div", data_kpi="watch_time").text()
    )
    curve = dom.one("svg", id="chart-retention")
    assert [int(p.attrs["data-points"]) for p in curve.all("polyline")] == [3]
    # No cue, poll or incident: those sections say so rather than vanish.
    assert "No run-of-show cue was played" in dom.one("section", id="segments").text()
    assert "No poll was launched" in dom.one("section", id="polls").text()
    md = render_md.render(found)
    assert "audience curve from viewer counts" in md


async def test_an_event_without_data_still_renders(stack: Stack, seeded: Seeded) -> None:
    async with stack.db.sessions() as session:
        found = await figures.build(session, seeded.event.id)
    dom = parse(render_html.render(found))
    assert card(dom, "peak_viewers") == "—"
    assert "no data" in dom.one("svg", id="chart-audience").text()
    assert dom.one("span", id="event-duration").text() == "—"
    assert "## Key figures" in render_md.render(found)


async def test_comparison_is_shown_when_given(rendered: Rendered) -> None:
    from app.reports import comparison

    compared = comparison.compare(rendered.figures, rendered.figures, basis="explicit")
    dom = parse(render_html.render(rendered.figures, compared))
    rows = {r[0]: r[1:] for r in dom.one("table", id="comparison-table").rows()}
    assert rows["peak concurrent viewers"] == ["300", "300", "0", "0%"]
    md = render_md.render(rendered.figures, compared)
    assert "| peak concurrent viewers | 300 | 300 | 0 | 0% |" in md
    assert rendered.dom.all("section", id="comparison") == []  # none without one

    # Against an event with a smaller audience and no engagement rate: signed deltas, and
    # a dash where one side has no figure.
    other = copy.deepcopy(rendered.figures)
    other["kpis"]["viewers"]["peak"]["total"] = 200
    other["kpis"]["engagement_rate"]["total"] = None
    compared = comparison.compare(rendered.figures, other, basis="explicit")
    rows = {
        r[0]: r[1:]
        for r in parse(render_html.render(rendered.figures, compared))
        .one("table", id="comparison-table")
        .rows()
    }
    assert rows["peak concurrent viewers"] == ["300", "200", "+100", "+50%"]
    assert rows["engagement rate (interactions per 100 viewers per minute)"][1:] == ["—", "—", "—"]
    md = render_md.render(rendered.figures, compared)
    assert "| peak concurrent viewers | 300 | 200 | +100 | +50% |" in md


# -- Markdown --


def md_table(md: str, heading: str) -> list[list[str]]:
    """The first pipe table after a heading: its rows (header and body), cells stripped."""
    after = md.split(heading, 1)[1]
    lines = []
    for line in after.splitlines():
        if line.startswith("|"):
            lines.append(line)
        elif lines:
            break
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
    assert set(cells[1][0]) <= set("-:"), "the second line is the alignment row"
    return [cells[0], *cells[2:]]


async def test_markdown_has_the_tables(rendered: Rendered) -> None:
    md, found = rendered.md, rendered.figures
    for heading in (
        "## Key figures", "### Per platform", "### Interactions by type",
        "## Audience and chat over time", "## Retention", "## Segments (run-of-show)",
        "## Questions", "### Top questions by votes", "## Polls", "## Incidents",
        "## Highlights, shortcomings and recommendations", "### Highlights",
        "### Shortcomings", "### Recommendations", "Checked, did not apply",
    ):  # fmt: skip
        assert heading in md, heading
    platforms = {r[0]: r for r in md_table(md, "### Per platform")[1:]}
    assert platforms["Twitch"][1:5] == ["180", "18:02", "125", "750"]
    assert platforms["**Total**"][1:5] == ["300", "18:02", "208.33", "1,250"]
    segments = md_table(md, "## Segments (run-of-show)")
    assert segments[0][:2] == ["#", "Segment"] and len(segments) == 4
    assert [r[12] for r in segments[1:]] == [num(s["engagement_rate"]) for s in found["segments"]]
    poll = md_table(md, "### Which \\<i\\>region\\</i\\>?")
    assert poll[0] == ["#", "Option", "Twitch", "YouTube", "Votes", "Share"]
    assert poll[2] == ["2", "Americas", "1", "0", "1", "25%"]
    # The series are summarised, not drawn.
    assert "Concurrent viewers (total, per minute): `▃▆█▇▆▆`" in md
    stretches = md_table(md, "equal stretches")
    assert [r[-3] for r in stretches[1:]] == ["100", "200", "300", "250", "200", "200"]
    for result in found["recommendations"]:
        assert render_md.md(result["rule"]) in md


async def test_markdown_escapes_user_text(rendered: Rendered) -> None:
    md = rendered.md
    assert "\\<script\\>alert(1)\\</script\\>" in md
    # Every angle bracket is escaped: no tag a Markdown viewer would render.
    assert not re.search(r"(?<!\\)[<>]", md)
    # A title cannot open a table cell or a link.
    assert "Keynote \\| \\<b\\>big\\</b\\> \\[link\\](https://evil.example/)" in md
    assert render_md.md(HOSTILE_TITLE) in md.splitlines()[0]


# -- CLI and API --


async def test_renderers_registered_for_cli_and_api(rendered: Rendered) -> None:
    assert {"html", "md", "json", "csv"} <= set(render.RENDERERS)
    html = render.RENDERERS["html"].render(rendered.figures, render.RenderOptions())
    assert html.decode().startswith("<!DOCTYPE html>")
    assert render.RENDERERS["md"].media_type.startswith("text/markdown")

    from app.cli import build_parser

    args = build_parser().parse_args(["report", "launch", "--format", "md", "--out", "r.md"])
    assert (args.format, args.out) == ("md", "r.md")


async def test_api_serves_each_format(stack: Stack, seeded: Seeded, mod: httpx.AsyncClient) -> None:
    await play(stack, seeded)
    base = f"/api/events/{seeded.event.id}/report"
    html = await mod.get(base, params={"format": "html"})
    assert html.status_code == 200
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert html.headers["content-disposition"] == 'attachment; filename="launch-report.html"'
    assert "default-src 'none'" in html.headers["content-security-policy"]
    assert parse(html.text).one("section", id="kpis")
    opened = await mod.get(base, params={"format": "html", "inline": "true"})
    assert opened.headers["content-disposition"] == 'inline; filename="launch-report.html"'

    md = await mod.get(base, params={"format": "md"})
    assert md.headers["content-type"] == "text/markdown; charset=utf-8"
    assert md.headers["content-disposition"] == 'attachment; filename="launch-report.md"'
    assert md.text.startswith("# Post-event report: Launch")

    as_file = await mod.get(base, params={"format": "json"})
    assert as_file.headers["content-disposition"] == 'attachment; filename="launch-report.json"'
    assert as_file.json()["kpis"]["viewers"]["peak"]["total"] == 300
    plain = await mod.get(base)
    assert "content-disposition" not in plain.headers
    assert plain.json()["kpis"]["viewers"]["peak"]["total"] == 300

    csv = await mod.get(base, params={"format": "csv", "series": "chat"})
    assert csv.headers["content-disposition"] == 'attachment; filename="launch-report-chat.csv"'
    assert csv.text.splitlines()[0] == "minute,twitch,youtube,total"

    wrong = await mod.get(base, params={"format": "pdf"})
    assert wrong.status_code == 422
