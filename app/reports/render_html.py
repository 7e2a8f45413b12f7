"""The post-event report as one self-contained HTML file that prints well on A4.

Everything is inline: the CSS, the charts (inline SVG, app/reports/svg.py) and the data.
The file loads nothing (no script, font, image or stylesheet by URL, and a CSP that
forbids it), so it opens offline and attached to a mail exactly as it was written.
Titles, questions, poll options and names come from users and the audience: every text
from the figures goes through `escape`.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from app.reports import svg
from app.reports.formatting import (
    DASH,
    FINDING_SECTIONS,
    INTERACTION_LABELS,
    MEASURE_LABELS,
    TOTAL_COLOR,
    clock,
    cue_number,
    day,
    duration,
    is_identifier,
    is_instant,
    num,
    parse,
    pct,
    platform_color,
    platform_name,
    series_columns,
    shares_text,
    window_text,
    words,
)

Figures = dict[str, Any]
INCIDENT_COLOR = "#b91c1c"
CUE_COLOR = "#4b5563"

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: #111827;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; line-height: 1.2; }
h2 { font-size: 19px; margin: 0 0 12px; padding-bottom: 4px; border-bottom: 2px solid #111827; }
h3 { font-size: 15px; margin: 18px 0 8px; }
p { margin: 6px 0; }
section { margin: 32px 0 0; }
.meta { color: #4b5563; margin: 0; }
.meta span + span::before { content: " · "; color: #9ca3af; }
.muted { color: #6b7280; }
.small { font-size: 12px; }
.basis { display: inline-block; padding: 1px 8px; border: 1px solid #d97706; border-radius: 10px;
  color: #92400e; font-size: 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: 10px;
  margin: 0 0 16px; }
.card { border: 1px solid #d1d5db; border-radius: 6px; padding: 8px 10px; }
.card .label { font-size: 12px; color: #4b5563; }
.card .value { font-size: 22px; font-weight: 700; font-variant-numeric: tabular-nums; }
.card .sub { font-size: 12px; color: #6b7280; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 14px; font-size: 13px; }
th { font-size: 12px; }
caption { text-align: left; font-weight: 600; padding: 0 0 4px; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 4px 6px; text-align: left;
  vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td.n, td:first-child { white-space: nowrap; }
tr.total td { font-weight: 700; border-top: 2px solid #9ca3af; }
.chart-box { margin: 8px 0 18px; break-inside: avoid; }
.chart-box figcaption { font-size: 12px; color: #4b5563; margin-top: 2px; }
svg.chart { display: block; width: 100%; height: auto; max-width: 100%; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 4px; vertical-align: baseline; }
.findings > li { margin: 0 0 12px; padding: 8px 12px; border-left: 4px solid #9ca3af;
  background: #f9fafb; list-style: none; break-inside: avoid; }
.findings { padding: 0; margin: 0; }
#highlights .findings > li { border-color: #15803d; }
#shortcomings .findings > li { border-color: #b91c1c; }
#recommendations .findings > li { border-color: #1d4ed8; }
.finding .message { font-weight: 600; margin: 0 0 4px; }
.finding .suggestion { margin: 0 0 4px; }
.finding .rule, .finding .evidence, .checked li { font-size: 12px; color: #374151; }
.tag { font-size: 11px; text-transform: uppercase; letter-spacing: 0.05em; color: #6b7280;
  margin-right: 4px; }
dl.ev { display: inline; margin: 0; }
dl.ev dt, dl.ev dd { display: inline; margin: 0; }
dl.ev dt::after { content: ": "; }
dl.ev dd::after { content: "; "; }
dl.ev dd:last-child::after { content: ""; }
ol.ev { margin: 2px 0; padding-left: 20px; }
.checked { padding-left: 18px; }
.checked li { margin: 0 0 4px; }
.none { color: #6b7280; font-style: italic; }
footer { margin-top: 40px; padding-top: 8px; border-top: 1px solid #d1d5db; font-size: 12px;
  color: #6b7280; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
@page { size: A4; margin: 14mm 12mm 16mm; }
@media print {
  body { font-size: 10.5pt; background: #fff !important; color: #000; }
  main { max-width: none; padding: 0; }
  section { margin: 8mm 0 0; }
  section.page { break-before: page; margin: 0; }
  h2, h3 { break-after: avoid; }
  table { font-size: 9pt; }
  tr, .card, .chart-box, .finding { break-inside: avoid; }
  th { background: #f3f4f6 !important; -webkit-print-color-adjust: exact;
    print-color-adjust: exact; }
  svg.chart { width: 100%; max-height: 92mm; }
  .chart-box, .swatch, svg.chart { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .cards { grid-template-columns: repeat(3, 1fr); }
}
"""

# The file itself forbids every load: even opened from disk, it can fetch nothing.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _n(value: Any, digits: int = 2) -> str:
    return _e(num(value, digits))


def _row(cells: Sequence[tuple[str, bool]], css: str = "") -> str:
    """One table row from (already escaped html, numeric?) cells."""
    klass = f' class="{css}"' if css else ""
    return (
        f"<tr{klass}>"
        + "".join(f'<td class="n">{c}</td>' if n else f"<td>{c}</td>" for c, n in cells)
        + "</tr>"
    )


def _table(
    head: Sequence[tuple[str, bool]],
    rows: Sequence[str],
    *,
    caption: str = "",
    table_id: str = "",
) -> str:
    ident = f' id="{_e(table_id)}"' if table_id else ""
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    cells = "".join(f'<th class="n">{_e(h)}</th>' if n else f"<th>{_e(h)}</th>" for h, n in head)
    body = "".join(rows) if rows else f'<tr><td colspan="{len(head)}" class="none">none</td></tr>'
    return f"<table{ident}>{cap}<thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _card(label: str, value: str, sub: str = "", key: str = "") -> str:
    data = f' data-kpi="{_e(key)}"' if key else ""
    extra = f'<div class="sub">{sub}</div>' if sub else ""
    return (
        f'<div class="card"{data}><div class="label">{_e(label)}</div>'
        f'<div class="value">{value}</div>{extra}</div>'
    )


def _swatch(color: str) -> str:
    return f'<span class="swatch" style="background:{color}"></span>'


def _platform(platform: str, platforms: list[str]) -> str:
    return _swatch(platform_color(platform, platforms)) + _e(platform_name(platform))


# -- header and KPIs --


def _header(figures: Figures) -> str:
    event = figures.get("event") or {}
    date, span, length = window_text(figures)
    platforms = figures.get("platforms") or []
    names = ", ".join(platform_name(p) for p in platforms) or DASH
    return (
        '<header id="report-header">'
        '<p class="muted small">Post-event report</p>'
        f'<h1 id="event-title">{_e(event.get("title") or event.get("slug") or "Event")}</h1>'
        '<p class="meta">'
        f'<span id="event-date">{_e(date)}</span>'
        f'<span id="event-window">{_e(span)}</span>'
        f'<span id="event-duration">{_e(length)}</span>'
        f"<span>{_e(names)}</span>"
        "</p>"
        f'<p class="meta small"><span>event <code>{_e(event.get("slug", ""))}</code></span>'
        f"<span>status {_e(event.get('status', DASH))}</span>"
        f"<span>{_n((figures.get('window') or {}).get('minutes'))} minutes with data</span></p>"
        "</header>"
    )


def _kpis(figures: Figures) -> str:
    kpis = figures.get("kpis") or {}
    viewers = kpis.get("viewers") or {}
    people = kpis.get("participants") or {}
    interactions = kpis.get("interactions") or {}
    engagement = kpis.get("engagement_rate") or {}
    watch = kpis.get("watch_time") or {}
    messages = kpis.get("messages") or {}
    platforms = list(figures.get("platforms") or [])
    peak, average = viewers.get("peak") or {}, viewers.get("average") or {}
    peak_at = viewers.get("peak_at") or {}
    minutes = viewers.get("viewer_minutes") or {}

    if watch.get("basis") == "presence":
        watch_card = _card(
            "Average watch time",
            _e(duration(watch.get("average_s"))),
            f"median {_e(duration(watch.get('median_s')))} · {_n(watch.get('viewers'))} viewers "
            "(from presence)",
            "watch_time",
        )
    else:
        watch_card = _card(
            "Watch time",
            DASH,
            '<span class="basis">audience curve from viewer counts</span> no presence data',
            "watch_time",
        )
    shared, shared_note = shares_text(kpis.get("shares"))
    cards = [
        _card(
            "Peak concurrent viewers",
            _n(peak.get("total")),
            f"at {_e(clock(peak_at.get('total')))} UTC" if peak_at.get("total") else "",
            "peak_viewers",
        ),
        _card("Average concurrent viewers", _n(average.get("total")), "", "average_viewers"),
        _card(
            "Unique participants",
            _n(people.get("total")),
            f"{_n(people.get('chatters'))} chatted · {_n(people.get('askers'))} asked · "
            f"{_n(people.get('voters'))} voted",
            "participants",
        ),
        _card("Interactions", _n(interactions.get("total")), "", "interactions"),
        _card(
            "Engagement rate",
            _n(engagement.get("total"), 2),
            _e(engagement.get("unit", "")),
            "engagement_rate",
        ),
        watch_card,
        _card("Shares", _e(shared), _e(shared_note), "shares"),
        _card(
            "Chat messages",
            _n(messages.get("total")),
            f"{_n(messages.get('hidden'))} hidden by moderators",
            "messages",
        ),
        _card("Viewer-minutes", _n(minutes.get("total")), "", "viewer_minutes"),
    ]

    by_people = people.get("by_platform") or {}
    by_interactions = interactions.get("by_platform") or {}
    by_rate = engagement.get("by_platform") or {}
    by_messages = messages.get("by_platform") or {}
    by_watch = (figures.get("retention") or {}).get("by_platform") or {}
    # A platform seen only in presence data (a meeting tool) still gets its watch time row.
    platforms += [p for p in by_watch if p not in platforms]
    head = [
        ("Platform", False),
        ("Peak viewers", True),
        ("Peak at (UTC)", True),
        ("Average viewers", True),
        ("Viewer-minutes", True),
        ("Participants", True),
        ("Messages", True),
        ("Interactions", True),
        ("Engagement rate", True),
    ]
    if by_watch:
        head.append(("Avg watch time", True))
    rows = []
    for p in platforms:
        cells = [
            (_platform(p, platforms), False),
            (_n((peak.get("by_platform") or {}).get(p)), True),
            (_e(clock((peak_at.get("by_platform") or {}).get(p))), True),
            (_n((average.get("by_platform") or {}).get(p)), True),
            (_n((minutes.get("by_platform") or {}).get(p)), True),
            (_n((by_people.get(p) or {}).get("participants")), True),
            (_n(by_messages.get(p)), True),
            (_n((by_interactions.get(p) or {}).get("total")), True),
            (_n(by_rate.get(p)), True),
        ]
        if by_watch:
            cells.append((_e(duration((by_watch.get(p) or {}).get("average_s"))), True))
        rows.append(_row(cells))
    total = [
        ("Total", False),
        (_n(peak.get("total")), True),
        (_e(clock(peak_at.get("total"))), True),
        (_n(average.get("total")), True),
        (_n(minutes.get("total")), True),
        (_n(people.get("total")), True),
        (_n(messages.get("total")), True),
        (_n(interactions.get("total")), True),
        (_n(engagement.get("total")), True),
    ]
    if by_watch:
        total.append((_e(duration(watch.get("average_s"))), True))
    rows.append(_row(total, "total"))
    per_platform = _table(head, rows, caption="Per platform", table_id="kpi-platforms")

    by_type = interactions.get("by_type") or {}
    type_head = [
        ("Interaction", False),
        *[(platform_name(p), True) for p in by_interactions],
        ("Total", True),
    ]
    type_rows = [
        _row(
            [
                (_e(INTERACTION_LABELS.get(kind, words(kind))), False),
                *[(_n((by_interactions[p] or {}).get(kind)), True) for p in by_interactions],
                (_n(by_type.get(kind)), True),
            ]
        )
        for kind in by_type
    ]
    type_rows.append(
        _row(
            [
                ("All interactions", False),
                *[(_n((by_interactions[p] or {}).get("total")), True) for p in by_interactions],
                (_n(interactions.get("total")), True),
            ],
            "total",
        )
    )
    by_kind = _table(type_head, type_rows, caption="Interactions by type", table_id="kpi-types")
    return (
        '<section id="kpis"><h2>Key figures</h2>'
        f'<div class="cards">{"".join(cards)}</div>{per_platform}{by_kind}'
        f'<p class="muted small">Engagement rate: {_e(engagement.get("unit", ""))} '
        "(interactions &times; 100 ÷ viewer-minutes). Interactions are visible chat lines, questions, "
        "poll votes and question upvotes.</p></section>"
    )


# -- charts --


def _epoch(value: str | None) -> float | None:
    at = parse(value)
    return at.timestamp() if at else None


def _x_range(figures: Figures) -> tuple[float, float] | None:
    window = figures.get("window") or {}
    start, end = _epoch(window.get("start")), _epoch(window.get("end"))
    return (start, end) if start is not None and end is not None else None


def markers(figures: Figures) -> list[svg.Marker]:
    """The run-of-show's cues (labelled with their title) and the incidents (#number)."""
    found: list[svg.Marker] = []
    marks = figures.get("markers") or {}
    for cue in marks.get("cues") or []:
        start = _epoch(cue.get("start"))
        if start is None:
            continue
        title, number = str(cue.get("title") or ""), cue_number(cue.get("position"))
        found.append(
            svg.Marker(
                start,
                f"{number} {title}".strip(),
                CUE_COLOR,
                title=f"Cue {number}: {title} from {clock(cue.get('start'))}",
            )
        )
    for incident in marks.get("incidents") or []:
        began = incident.get("impact_started_at") or incident.get("detected_at")
        start = _epoch(began)
        if start is None:
            continue
        over = _epoch(incident.get("resolved_at") or incident.get("mitigated_at"))
        found.append(
            svg.Marker(
                start,
                f"#{incident.get('number', '')}",
                INCIDENT_COLOR,
                title=f"Incident #{incident.get('number', '')}: {incident.get('title', '')} "
                f"({incident.get('severity', '')}) from {clock(began)}",
                until=over if over is not None else None,
                lane="bottom",
            )
        )
    return found


def _lines(table: dict[str, Any], platforms: list[str]) -> list[svg.Line]:
    """One line per platform column and a bold one for the total."""
    rows = table.get("rows") or []
    xs = [_epoch(row[0]) for row in rows]
    lines = []
    for index, name in enumerate(series_columns(table), start=1):
        points = [(x, row[index]) for x, row in zip(xs, rows, strict=True) if x is not None]
        if name == "total":
            lines.append(svg.Line("Total", points, TOTAL_COLOR, width=2.4))
        else:
            lines.append(svg.Line(platform_name(name), points, platform_color(name, platforms)))
    return lines


def _chart(chart: str, caption: str) -> str:
    return f'<figure class="chart-box">{chart}<figcaption>{caption}</figcaption></figure>'


def _charts(figures: Figures) -> str:
    series = figures.get("series") or {}
    platforms = list(figures.get("platforms") or [])
    marks = markers(figures)
    x_range = _x_range(figures)
    legend_note = (
        "Dotted grey lines: cues of the run-of-show (their start). "
        "Red dashed lines and shading: incidents, from the impact's start to resolution."
    )
    audience = svg.line_chart(
        _lines(series.get("audience") or {}, platforms),
        title="Concurrent viewers per minute",
        x_range=x_range,
        markers=marks,
        chart_id="chart-audience",
    )
    chat = svg.line_chart(
        _lines(series.get("chat") or {}, platforms),
        title="Chat messages per minute",
        x_range=x_range,
        markers=marks,
        chart_id="chart-chat",
    )
    return (
        '<section id="charts" class="page"><h2>Audience and chat over time</h2>'
        "<h3>Concurrent viewers</h3>"
        + _chart(audience, f"Viewers per platform and in total, per minute (UTC). {legend_note}")
        + "<h3>Chat rate</h3>"
        + _chart(chat, f"Chat messages per minute, per platform and in total. {legend_note}")
        + "</section>"
    )


def _retention(figures: Figures) -> str:
    retention = figures.get("retention") or {}
    curve = retention.get("curve") or {}
    rows = curve.get("rows") or []
    platforms = list(figures.get("platforms") or [])
    if retention.get("basis") == "presence":
        points = [(float(r[0]), float(r[1]) * 100) for r in rows if r[1] is not None]
        chart = svg.line_chart(
            [svg.Line("Share still watching", points, TOTAL_COLOR, width=2.4)],
            title="Retention: share of viewers still watching after N minutes",
            time_axis=False,
            x_format=lambda v: f"{v:g} min",
            y_format=lambda v: f"{v:g}%",
            y_max=100,
            chart_id="chart-retention",
        )
        by_platform = retention.get("by_platform") or {}
        table = _table(
            [("Platform", False), ("Viewers", True), ("Average", True), ("Median", True)],
            [
                _row(
                    [
                        (_platform(p, platforms), False),
                        (_n(v.get("viewers")), True),
                        (_e(duration(v.get("average_s"))), True),
                        (_e(duration(v.get("median_s"))), True),
                    ]
                )
                for p, v in by_platform.items()
            ]
            + [
                _row(
                    [
                        ("Total", False),
                        (_n(retention.get("viewers")), True),
                        (_e(duration(retention.get("average_s"))), True),
                        (_e(duration(retention.get("median_s"))), True),
                    ],
                    "total",
                )
            ],
            caption="Watch time from presence (join / leave)",
            table_id="watch-time",
        )
        intro = (
            '<p><span class="basis">from presence data</span> '
            f"{_n(retention.get('viewers'))} viewers seen joining and leaving; average watch "
            f"time {_e(duration(retention.get('average_s')))}, median "
            f"{_e(duration(retention.get('median_s')))}.</p>"
        )
        return (
            '<section id="retention" class="page" data-basis="presence"><h2>Retention</h2>'
            + intro
            + _chart(
                chart,
                "Share of the viewers seen in presence data still watching, by "
                "minutes since they joined.",
            )
            + table
            + "</section>"
        )
    shares = [(_epoch(r[0]), r[2] * 100 if r[2] is not None else None) for r in rows]
    chart = svg.line_chart(
        [
            svg.Line(
                "Viewers, % of the peak",
                [(x, y) for x, y in shares if x is not None],
                TOTAL_COLOR,
                width=2.4,
            )
        ],
        title="Audience curve: total viewers as a share of the peak",
        x_range=_x_range(figures),
        y_format=lambda v: f"{v:g}%",
        y_max=100,
        markers=markers(figures),
        chart_id="chart-retention",
    )
    return (
        '<section id="retention" class="page" data-basis="viewer_counts"><h2>Retention</h2>'
        '<p><span class="basis">audience curve from viewer counts</span> No presence data '
        "(join / leave) for this event, so watch time cannot be measured per viewer: this is "
        "the audience curve, total concurrent viewers per minute as a share of the peak.</p>"
        + _chart(chart, "Audience curve (not a retention curve): total viewers ÷ peak viewers.")
        + "</section>"
    )


# -- segments, questions, polls, incidents --


def _segments(figures: Figures) -> str:
    segments = figures.get("segments") or []
    head = [
        ("#", True),
        ("Segment", False),
        ("Start", True),
        ("Minutes", True),
        ("Overrun", True),
        ("Avg viewers", True),
        ("Messages", True),
        ("Chat", True),
        ("Questions", True),
        ("Poll votes", True),
        ("Upvotes", True),
        ("Interactions", True),
        ("Engagement rate", True),
    ]
    rows = []
    bars = []
    for s in segments:
        counts = s.get("interactions") or {}
        rows.append(
            _row(
                [
                    (_e(cue_number(s.get("position"))), True),
                    (_e(s.get("title", "")), False),
                    (_e(clock(s.get("start"))), True),
                    (_n(s.get("minutes"), 1), True),
                    (_e(duration(s.get("overrun_s")) if s.get("overrun_s") else DASH), True),
                    (_n(s.get("average_viewers"), 1), True),
                    (_n(s.get("messages")), True),
                    (_n(counts.get("chat")), True),
                    (_n(counts.get("questions")), True),
                    (_n(counts.get("poll_votes")), True),
                    (_n(counts.get("upvotes")), True),
                    (_n(counts.get("total")), True),
                    (_n(s.get("engagement_rate")), True),
                ]
            )
        )
        if s.get("engagement_rate") is not None:
            bars.append(
                svg.Bar(
                    f"{cue_number(s.get('position'))}. {s.get('title', '')}",
                    [("engagement rate", float(s["engagement_rate"]), "#2563eb")],
                    num(s["engagement_rate"]),
                )
            )
    if not segments:
        body = (
            '<p class="none">No run-of-show cue was played: per-segment figures need the '
            "cues' actual start and end times.</p>"
        )
    else:
        chart = (
            _chart(
                svg.bar_chart(bars, title="Engagement rate per segment", chart_id="chart-segments"),
                "Interactions per 100 viewers per minute, per played segment.",
            )
            if bars
            else ""
        )
        body = _table(head, rows, table_id="segments-table") + chart
    return (
        '<section id="segments" class="page"><h2>Segments (run-of-show)</h2>' + body + "</section>"
    )


def _questions(figures: Figures) -> str:
    q = figures.get("questions") or {}
    backlog = q.get("backlog") or {}
    cards = [
        _card("Received", _n(q.get("received")), f"{_n(q.get('merged'))} merged", "q_received"),
        _card("Approved", _n(q.get("approved")), "", "q_approved"),
        _card("Answered", _n(q.get("answered")), "", "q_answered"),
        _card(
            "Unanswered",
            _n(q.get("unanswered")),
            f"{_e(pct(q.get('unanswered_share')))} of approved",
            "q_unanswered",
        ),
        _card(
            "Median time to answer",
            _e(duration(q.get("median_time_to_answer_s"))),
            f"p90 {_e(duration(q.get('p90_time_to_answer_s')))} · "
            f"{_n(q.get('answer_times_counted'))} answers timed",
            "q_time_to_answer",
        ),
        _card(
            "Pending at peak",
            _n(backlog.get("peak_pending")),
            f"at {_e(clock(backlog.get('peak_at')))} UTC" if backlog.get("peak_at") else "",
            "q_backlog",
        ),
    ]
    states = (
        f"Still pending: {_n(q.get('pending'))} · rejected: {_n(q.get('rejected'))} · "
        f"archived: {_n(q.get('archived'))}"
    )
    by_platform = q.get("by_platform") or {}
    platforms = list(figures.get("platforms") or [])
    where = ", ".join(
        f"{_swatch(platform_color(p, platforms))}{_e(platform_name(p))} {_n(n)}"
        for p, n in by_platform.items()
    )
    top_rows = [
        _row(
            [
                (_n(t.get("votes")), True),
                (f'<span class="question">{_e(t.get("text", ""))}</span>', False),
                (_e(t.get("author_name") or DASH), False),
                (_e(platform_name(str(t.get("platform", "")))), False),
                (_e(t.get("state", "")), False),
                (_e(clock(t.get("received_at"))), True),
                (_e(clock(t.get("answered_at"))), True),
            ],
            "unanswered" if t.get("state") in ("approved", "on_deck", "pending") else "",
        )
        for t in q.get("top") or []
    ]
    top = _table(
        [
            ("Votes", True),
            ("Question", False),
            ("Asked by", False),
            ("Platform", False),
            ("State", False),
            ("Received", True),
            ("Answered", True),
        ],
        top_rows,
        caption="Top questions by votes",
        table_id="top-questions",
    )
    return (
        '<section id="questions" class="page"><h2>Questions</h2>'
        f'<div class="cards">{"".join(cards)}</div>'
        f'<p class="small">{states}. By platform: {where or DASH}.</p>'
        f"{top}"
        '<p class="muted small">Unanswered: approved or on deck, never answered. Time to '
        "answer: from a question's arrival to its answer.</p></section>"
    )


def _count_at(platform: dict[str, Any], at: int) -> int:
    counts = platform.get("counts") or []
    return int(counts[at]) if 0 <= at < len(counts) else 0


def _polls(figures: Figures) -> str:
    polls = figures.get("polls") or {}
    items = polls.get("items") or []
    platforms = list(figures.get("platforms") or [])
    parts = []
    for index, poll in enumerate(items):
        results = poll.get("results") or {}
        by_platform = results.get("by_platform") or {}
        names = sorted(by_platform)
        voters = poll.get("voters") or 0
        bars = []
        rows = []
        for option in results.get("options") or []:
            at = int(option.get("position", 1)) - 1
            counts = [(p, _count_at(by_platform[p], at)) for p in names]
            share = (option.get("votes") or 0) / voters if voters else None
            bars.append(
                svg.Bar(
                    str(option.get("label", "")),
                    [(platform_name(p), float(n), platform_color(p, platforms)) for p, n in counts]
                    or [("votes", float(option.get("votes") or 0), TOTAL_COLOR)],
                    f"{num(option.get('votes'))} ({pct(share, 0)})",
                )
            )
            rows.append(
                _row(
                    [
                        (_n(option.get("position")), True),
                        (_e(option.get("label", "")), False),
                        *[(_n(n), True) for _, n in counts],
                        (_n(option.get("votes")), True),
                        (_e(pct(share)), True),
                    ]
                )
            )
        table = _table(
            [
                ("#", True),
                ("Option", False),
                *[(platform_name(p), True) for p in names],
                ("Votes", True),
                ("Share of voters", True),
            ],
            rows,
            table_id=f"poll-{index + 1}-table",
        )
        chart = svg.bar_chart(
            bars,
            title=f"Poll results: {poll.get('title', '')}",
            chart_id=f"chart-poll-{index + 1}",
        )
        average = results.get("average")
        rating = f" · average rating {_n(average)}" if average is not None else ""
        parts.append(
            f'<article class="poll" data-poll="{_e(poll.get("id", ""))}">'
            f"<h3>{_e(poll.get('title', ''))}</h3>"
            f'<p class="small">{_e(poll.get("kind", ""))} poll, {_e(poll.get("state", ""))} · '
            f"opened {_e(clock(poll.get('opens_at')))} UTC for "
            f"{_e(duration(poll.get('open_s')))} · {_n(voters)} voters of "
            f"{_n(poll.get('average_viewers'), 1)} average viewers → participation "
            f"<strong>{_e(pct(poll.get('participation')))}</strong>"
            f"{rating} · late votes {_n(results.get('late_votes'))}</p>"
            + _chart(chart, "Votes per option, stacked by platform.")
            + table
            + "</article>"
        )
    summary = (
        f'<p class="small">{_n(polls.get("launched"))} launched · '
        f"{_n(polls.get('not_launched'))} drafts never launched · average participation "
        f"{_e(pct(polls.get('average_participation')))} (voters ÷ average viewers while "
        "open).</p>"
    )
    body = "".join(parts) if parts else '<p class="none">No poll was launched.</p>'
    return f'<section id="polls" class="page"><h2>Polls</h2>{summary}{body}</section>'


def _incidents(figures: Figures) -> str:
    incidents = figures.get("incidents") or {}
    response = (incidents.get("response") or {}).get("all", {}).get("all", {})
    rows = []
    for measure, (short, long) in MEASURE_LABELS.items():
        found = response.get(measure) or {}
        rows.append(
            _row(
                [
                    (f"<strong>{_e(short)}</strong> {_e(long)}", False),
                    (_n(found.get("count")), True),
                    (_e(duration(found.get("median_s"))), True),
                    (_e(duration(found.get("p90_s"))), True),
                ]
            )
        )
    times = _table(
        [("Measure", False), ("Incidents", True), ("Median", True), ("p90", True)],
        rows,
        caption="Response times",
        table_id="incident-times",
    )
    adherence = incidents.get("adherence") or {}
    steps = (
        '<p class="none">No playbook step was attached to a counted incident.</p>'
        if not adherence.get("playbook_steps")
        else f"<p>Playbook adherence: <strong>{_e(pct(adherence.get('done_ratio')))}</strong> of "
        f"{_n(adherence.get('playbook_steps'))} playbook steps done "
        f"({_n(adherence.get('done'))} done, {_n(adherence.get('skipped'))} skipped, "
        f"{_n(adherence.get('open'))} left open); {_n(adherence.get('ad_hoc'))} steps added "
        f"ad hoc, {_n(adherence.get('ad_hoc_done'))} of them done.</p>"
    )
    listed = [
        _row(
            [
                (f"#{_n(i.get('number'))}", True),
                (_e(i.get("title", "")), False),
                (_e(i.get("category", "")), False),
                (_e(i.get("severity", "")), False),
                (_e(i.get("state", "")), False),
                (_e(clock(i.get("impact_started_at"), seconds=True)), True),
                (_e(clock(i.get("detected_at"), seconds=True)), True),
                (_e(clock(i.get("acknowledged_at"), seconds=True)), True),
                (_e(clock(i.get("resolved_at"), seconds=True)), True),
            ]
        )
        for i in (figures.get("markers") or {}).get("incidents") or []
    ]
    table = _table(
        [
            ("#", True),
            ("Incident", False),
            ("Category", False),
            ("Severity", False),
            ("State", False),
            ("Impact from", True),
            ("Detected", True),
            ("Acknowledged", True),
            ("Resolved", True),
        ],
        listed,
        caption="Incidents",
        table_id="incident-list",
    )
    note = (
        f'<p class="muted small">{_n(incidents.get("counted"))} incidents counted; '
        f"{_n(incidents.get('drills'))} drill incidents and {_n(incidents.get('cancelled'))} "
        "cancelled ones are left out. Durations run from detection, except time to detect "
        "(from the impact's start).</p>"
    )
    return (
        '<section id="incidents" class="page"><h2>Incidents</h2>'
        + table
        + times
        + steps
        + note
        + "</section>"
    )


# -- highlights, shortcomings, recommendations --


def evidence_html(value: Any, depth: int = 0) -> str:
    """The numbers a rule decided on, as written in the figures (nested, escaped)."""
    if isinstance(value, dict):
        shown = {k: v for k, v in value.items() if not is_identifier(str(k))}
        if not shown:
            return '<span class="none">none</span>'
        pairs = "".join(
            f"<dt>{_e(words(str(k)))}</dt><dd>{evidence_html(v, depth + 1)}</dd>"
            for k, v in shown.items()
        )
        return f'<dl class="ev">{pairs}</dl>'
    if isinstance(value, list):
        if not value:
            return '<span class="none">none</span>'
        if all(not isinstance(v, dict | list) for v in value):
            return ", ".join(evidence_html(v, depth + 1) for v in value)
        items = "".join(f"<li>{evidence_html(v, depth + 1)}</li>" for v in value)
        return f'<ol class="ev">{items}</ol>'
    if is_instant(value):
        return _e(f"{clock(value)} UTC")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _n(value, 4)
    return _e(num(value))


def _findings(figures: Figures) -> str:
    parts = []
    for key, heading in FINDING_SECTIONS:
        results = figures.get(key) or []
        fired = [r for r in results if r.get("fired")]
        quiet = [r for r in results if not r.get("fired")]
        items = []
        for r in fired:
            suggestion = (
                f'<p class="suggestion"><span class="tag">Do</span>{_e(r["suggestion"])}</p>'
                if r.get("suggestion")
                else ""
            )
            items.append(
                f'<li class="finding" data-rule="{_e(r.get("id", ""))}">'
                f'<p class="message">{_e(r.get("message") or "")}</p>{suggestion}'
                f'<p class="rule"><span class="tag">Rule</span>{_e(r.get("rule", ""))}</p>'
                f'<div class="evidence"><span class="tag">Evidence</span>'
                f"{evidence_html(r.get('evidence'))}</div></li>"
            )
        fired_html = (
            f'<ul class="findings">{"".join(items)}</ul>'
            if items
            else '<p class="none">No rule of this kind fired.</p>'
        )
        quiet_html = ""
        if quiet:
            lines = "".join(
                f'<li data-rule="{_e(r.get("id", ""))}">{_e(r.get("rule", ""))} '
                f'<span class="muted">({evidence_html(r.get("evidence"))})</span></li>'
                for r in quiet
            )
            quiet_html = (
                f'<h4 class="small">Checked, did not apply</h4><ul class="checked">{lines}</ul>'
            )
        parts.append(f'<div id="{key}"><h3>{heading}</h3>{fired_html}{quiet_html}</div>')
    return (
        '<section id="findings" class="page"><h2>Highlights, shortcomings and recommendations'
        "</h2>"
        '<p class="muted small">Each is a stated rule over the figures above, shown with the '
        "numbers that decided it; rules that did not fire are listed as checked.</p>"
        + "".join(parts)
        + "</section>"
    )


def _comparison(found: dict[str, Any] | None) -> str:
    if not found:
        return ""
    other = found.get("other") or {}
    rows = [
        _row(
            [
                (_e(m.get("label", "")), False),
                (_n(m.get("this")), True),
                (_n(m.get("other")), True),
                (
                    _e(("+" if (m.get("delta") or 0) > 0 else "") + num(m.get("delta")))
                    if m.get("delta") is not None
                    else DASH,
                    True,
                ),
                (
                    _e(
                        ("+" if (m.get("delta_pct") or 0) > 0 else "")
                        + num(m.get("delta_pct"))
                        + "%"
                    )
                    if m.get("delta_pct") is not None
                    else DASH,
                    True,
                ),
            ]
        )
        for m in found.get("metrics") or []
    ]
    return (
        '<section id="comparison" class="page"><h2>Compared with another event</h2>'
        f"<p>Against <strong>{_e(other.get('title', ''))}</strong> "
        f"(<code>{_e(other.get('slug', ''))}</code>, "
        f"{_e(day((other.get('window') or {}).get('start') or other.get('starts_at')))}): "
        f"{_e(found.get('rule', ''))}.</p>"
        + _table(
            [("Figure", False), ("This event", True), ("Other", True), ("Δ", True), ("Δ %", True)],
            rows,
            table_id="comparison-table",
        )
        + "</section>"
    )


def render(figures: Figures, comparison: dict[str, Any] | None = None) -> str:
    """The whole report as one HTML document (figures from app.reports.figures.build)."""
    event = figures.get("event") or {}
    title = f"Report: {event.get('title') or event.get('slug') or 'event'}"
    generated = figures.get("generated_at")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="Control Room">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        "<body><main>"
        + _header(figures)
        + _kpis(figures)
        + _charts(figures)
        + _retention(figures)
        + _segments(figures)
        + _questions(figures)
        + _polls(figures)
        + _incidents(figures)
        + _findings(figures)
        + _comparison(comparison)
        + "<footer>"
        f"Generated {_e(day(generated))} {_e(clock(generated, seconds=True))} UTC by Control "
        f"Room from the event's own data (report schema {_n(figures.get('schema_version'))}). "
        "Every figure comes from the event's database; the same figures as JSON: "
        f"<code>controlroom report {_e(event.get('slug', ''))} --format json</code>."
        "</footer></main></body></html>\n"
    )
