"""The post-event report as Markdown: the HTML report's sections, tables instead of charts.

The series are summarised (a text sparkline and a table of averages over a few equal
stretches) rather than drawn. Text from users and the audience is escaped for Markdown:
a question cannot open a link, an HTML tag or a new table cell.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from app.reports.formatting import (
    DASH,
    FINDING_SECTIONS,
    INTERACTION_LABELS,
    MEASURE_LABELS,
    clock,
    column,
    cue_number,
    day,
    duration,
    is_identifier,
    is_instant,
    num,
    pct,
    platform_name,
    series_columns,
    shares_text,
    window_text,
    words,
)

Figures = dict[str, Any]
SUMMARY_ROWS = 12  # stretches a series is summarised in
SPARK = "▁▂▃▄▅▆▇█"
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#])")


def md(value: Any) -> str:
    """Text from the figures, safe in Markdown prose and table cells (one line)."""
    text = " ".join(str(value).split())
    return _SPECIAL.sub(r"\\\1", text)


def code(value: Any) -> str:
    """An identifier in a code span (where a backslash would not escape anything)."""
    return "`" + " ".join(str(value).split()).replace("`", "'") + "`"


def _n(value: Any, digits: int = 2) -> str:
    return num(value, digits)


def table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool]) -> str:
    """A pipe table; cells must already be escaped (md) or be our own numbers."""
    if not rows:
        return "_none_\n"
    align = ["---:" if n else "---" for n in numeric]
    lines = [
        "| " + " | ".join(head) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    return "\n".join(lines) + "\n"


def sparkline(values: Sequence[float | None]) -> str:
    found = [v for v in values if v is not None]
    if not found:
        return ""
    top = max(found)
    return "".join(
        " "
        if v is None
        else SPARK[min(len(SPARK) - 1, round(v / top * (len(SPARK) - 1)))]
        if top > 0
        else SPARK[0]
        for v in values
    )


# -- sections --


def _header(figures: Figures) -> str:
    event = figures.get("event") or {}
    date, span, length = window_text(figures)
    platforms = ", ".join(platform_name(p) for p in figures.get("platforms") or []) or DASH
    return (
        f"# Post-event report: {md(event.get('title') or event.get('slug') or 'event')}\n\n"
        f"- **Date:** {date}\n"
        f"- **Time:** {span}\n"
        f"- **Duration:** {length}\n"
        f"- **Platforms:** {md(platforms)}\n"
        f"- **Event:** {code(event.get('slug', ''))} ({md(event.get('status', DASH))}), "
        f"{_n((figures.get('window') or {}).get('minutes'))} minutes with data\n"
    )


def _kpis(figures: Figures) -> str:
    kpis = figures.get("kpis") or {}
    viewers = kpis.get("viewers") or {}
    people = kpis.get("participants") or {}
    interactions = kpis.get("interactions") or {}
    engagement = kpis.get("engagement_rate") or {}
    watch = kpis.get("watch_time") or {}
    messages = kpis.get("messages") or {}
    peak, average = viewers.get("peak") or {}, viewers.get("average") or {}
    peak_at = viewers.get("peak_at") or {}
    minutes = viewers.get("viewer_minutes") or {}
    if watch.get("basis") == "presence":
        watch_text = (
            f"average {duration(watch.get('average_s'))}, median "
            f"{duration(watch.get('median_s'))} ({_n(watch.get('viewers'))} viewers, from presence)"
        )
    else:
        watch_text = (
            "not measured: no presence data (the audience curve from viewer counts is shown)"
        )
    headline = table(
        ["Figure", "Value"],
        [
            [
                "Peak concurrent viewers",
                f"{_n(peak.get('total'))} at {clock(peak_at.get('total'))} UTC"
                if peak_at.get("total")
                else _n(peak.get("total")),
            ],
            ["Average concurrent viewers", _n(average.get("total"))],
            ["Viewer-minutes", _n(minutes.get("total"))],
            [
                "Unique participants",
                f"{_n(people.get('total'))} ({_n(people.get('chatters'))} chatted, "
                f"{_n(people.get('askers'))} asked, {_n(people.get('voters'))} voted)",
            ],
            ["Interactions", _n(interactions.get("total"))],
            [
                "Engagement rate",
                f"{_n(engagement.get('total'))} {md(engagement.get('unit', ''))}",
            ],
            ["Watch time", watch_text],
            ["Shares", "{} ({})".format(*(md(t) for t in shares_text(kpis.get("shares"))))],
            [
                "Chat messages",
                f"{_n(messages.get('total'))} ({_n(messages.get('hidden'))} hidden)",
            ],
        ],
        [False, False],
    )
    platforms = list(figures.get("platforms") or [])
    by_people = people.get("by_platform") or {}
    by_interactions = interactions.get("by_platform") or {}
    by_rate = engagement.get("by_platform") or {}
    by_messages = messages.get("by_platform") or {}
    by_watch = (figures.get("retention") or {}).get("by_platform") or {}
    platforms += [p for p in by_watch if p not in platforms]
    rows = [
        [
            md(platform_name(p)),
            _n((peak.get("by_platform") or {}).get(p)),
            clock((peak_at.get("by_platform") or {}).get(p)),
            _n((average.get("by_platform") or {}).get(p)),
            _n((minutes.get("by_platform") or {}).get(p)),
            _n((by_people.get(p) or {}).get("participants")),
            _n(by_messages.get(p)),
            _n((by_interactions.get(p) or {}).get("total")),
            _n(by_rate.get(p)),
            *([duration((by_watch.get(p) or {}).get("average_s"))] if by_watch else []),
        ]
        for p in platforms
    ]
    rows.append(
        [
            "**Total**",
            _n(peak.get("total")),
            clock(peak_at.get("total")),
            _n(average.get("total")),
            _n(minutes.get("total")),
            _n(people.get("total")),
            _n(messages.get("total")),
            _n(interactions.get("total")),
            _n(engagement.get("total")),
            *([duration(watch.get("average_s"))] if by_watch else []),
        ]
    )
    head = [
        "Platform",
        "Peak viewers",
        "Peak at (UTC)",
        "Average viewers",
        "Viewer-minutes",
        "Participants",
        "Messages",
        "Interactions",
        "Engagement rate",
        *(["Avg watch time"] if by_watch else []),
    ]
    per_platform = table(head, rows, [False, *[True] * (len(head) - 1)])
    by_type = interactions.get("by_type") or {}
    names = list(by_interactions)
    type_rows = [
        [
            INTERACTION_LABELS.get(kind, words(kind)),
            *[_n((by_interactions[p] or {}).get(kind)) for p in names],
            _n(by_type.get(kind)),
        ]
        for kind in by_type
    ]
    type_rows.append(
        [
            "**All interactions**",
            *[_n((by_interactions[p] or {}).get("total")) for p in names],
            _n(interactions.get("total")),
        ]
    )
    kinds = table(
        ["Interaction", *[md(platform_name(p)) for p in names], "Total"],
        type_rows,
        [False, *[True] * (len(names) + 1)],
    )
    return (
        "## Key figures\n\n"
        + headline
        + "\n### Per platform\n\n"
        + per_platform
        + "\n### Interactions by type\n\n"
        + kinds
        + f"\nEngagement rate: {md(engagement.get('unit', ''))} (interactions x 100 ÷ "
        "viewer-minutes).\n"
    )


def _stretches(rows: list[list[Any]], count: int) -> list[list[list[Any]]]:
    size = max(1, math.ceil(len(rows) / count))
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _mean(values: Sequence[Any]) -> float | None:
    found = [float(v) for v in values if v is not None]
    return sum(found) / len(found) if found else None


def _cue_at(figures: Figures, minute: str) -> str:
    found = ""
    for cue in (figures.get("markers") or {}).get("cues") or []:
        if (cue.get("start") or "") <= minute < (cue.get("end") or ""):
            found = str(cue.get("title") or "")
    return found


def _series(figures: Figures) -> str:
    series = figures.get("series") or {}
    audience = series.get("audience") or {}
    chat = series.get("chat") or {}
    totals = column(audience, "total")
    messages = column(chat, "total")
    lines = ["## Audience and chat over time\n\n"]
    if not audience.get("rows"):
        return lines[0] + "\n_No minute had data._\n"
    lines.append(
        f"Concurrent viewers (total, per minute): `{sparkline(totals)}`  \n"
        f"Chat messages (per minute): `{sparkline(messages)}`\n"
    )
    platforms = [c for c in series_columns(audience) if c != "total"]
    chat_by_minute = {row[0]: row[-1] for row in chat.get("rows") or []}
    rows = []
    for part in _stretches(audience.get("rows") or [], SUMMARY_ROWS):
        first, last = part[0][0], part[-1][0]
        span = clock(first) if first == last else f"{clock(first)}-{clock(last)}"
        rows.append(
            [
                span,
                *[_n(_mean([r[i + 1] for r in part]), 1) for i in range(len(platforms))],
                _n(_mean([r[-1] for r in part]), 1),
                _n(sum(int(chat_by_minute.get(r[0]) or 0) for r in part)),
                md(_cue_at(figures, first)),
            ]
        )
    lines.append(
        f"\nAverages over {len(rows)} equal stretches (UTC); chat is the stretch's total.\n\n"
    )
    lines.append(
        table(
            [
                "Minutes",
                *[f"{md(platform_name(p))} viewers" for p in platforms],
                "Total viewers",
                "Chat messages",
                "On air",
            ],
            rows,
            [False, *[True] * (len(platforms) + 2), False],
        )
    )
    marks = (figures.get("markers") or {}).get("incidents") or []
    if marks:
        lines.append(
            "\nIncidents on the timeline: "
            + "; ".join(
                f"#{_n(i.get('number'))} {md(i.get('title', ''))} "
                f"{clock(i.get('impact_started_at') or i.get('detected_at'))}-"
                f"{clock(i.get('resolved_at'))}"
                for i in marks
            )
            + ".\n"
        )
    return "".join(lines)


def _retention(figures: Figures) -> str:
    retention = figures.get("retention") or {}
    rows = (retention.get("curve") or {}).get("rows") or []
    if retention.get("basis") == "presence":
        by_platform = retention.get("by_platform") or {}
        table_rows = [
            [
                md(platform_name(p)),
                _n(v.get("viewers")),
                duration(v.get("average_s")),
                duration(v.get("median_s")),
            ]
            for p, v in by_platform.items()
        ]
        table_rows.append(
            [
                "**Total**",
                _n(retention.get("viewers")),
                duration(retention.get("average_s")),
                duration(retention.get("median_s")),
            ]
        )
        step = max(1, math.ceil(len(rows) / SUMMARY_ROWS))
        curve = [[f"{_n(r[0])} min", pct(r[1])] for r in rows[::step]]
        return (
            "## Retention\n\n"
            "Basis: **presence data** (join / leave).\n\n"
            + table(
                ["Platform", "Viewers", "Average watch time", "Median watch time"],
                table_rows,
                [False, True, True, True],
            )
            + "\nShare of viewers still watching after N minutes: "
            f"`{sparkline([r[1] for r in rows])}`\n\n"
            + table(["After", "Still watching"], curve, [True, True])
        )
    shares = [r[2] for r in rows]
    return (
        "## Retention\n\n"
        "Basis: **audience curve from viewer counts** (no presence data, so watch time is "
        "not measured per viewer).\n\n"
        f"Total viewers as a share of the peak, per minute: `{sparkline(shares)}`\n"
    )


def _segments(figures: Figures) -> str:
    segments = figures.get("segments") or []
    if not segments:
        return "## Segments (run-of-show)\n\n_No run-of-show cue was played._\n"
    rows = []
    for s in segments:
        counts = s.get("interactions") or {}
        rows.append(
            [
                cue_number(s.get("position")),
                md(s.get("title", "")),
                clock(s.get("start")),
                _n(s.get("minutes"), 1),
                duration(s.get("overrun_s")) if s.get("overrun_s") else DASH,
                _n(s.get("average_viewers"), 1),
                _n(s.get("messages")),
                _n(counts.get("chat")),
                _n(counts.get("questions")),
                _n(counts.get("poll_votes")),
                _n(counts.get("upvotes")),
                _n(counts.get("total")),
                _n(s.get("engagement_rate")),
            ]
        )
    return "## Segments (run-of-show)\n\n" + table(
        [
            "#",
            "Segment",
            "Start",
            "Minutes",
            "Overrun",
            "Avg viewers",
            "Messages",
            "Chat",
            "Questions",
            "Poll votes",
            "Upvotes",
            "Interactions",
            "Engagement rate",
        ],
        rows,
        [True, False, *[True] * 11],
    )


def _questions(figures: Figures) -> str:
    q = figures.get("questions") or {}
    backlog = q.get("backlog") or {}
    summary = table(
        ["Figure", "Value"],
        [
            ["Received", f"{_n(q.get('received'))} ({_n(q.get('merged'))} merged)"],
            ["Approved", _n(q.get("approved"))],
            ["Answered", _n(q.get("answered"))],
            [
                "Unanswered",
                f"{_n(q.get('unanswered'))} ({pct(q.get('unanswered_share'))} of approved)",
            ],
            ["Still pending", _n(q.get("pending"))],
            ["Rejected", _n(q.get("rejected"))],
            [
                "Median time to answer",
                f"{duration(q.get('median_time_to_answer_s'))} (p90 "
                f"{duration(q.get('p90_time_to_answer_s'))}, {_n(q.get('answer_times_counted'))} "
                "answers timed)",
            ],
            [
                "Pending at peak",
                f"{_n(backlog.get('peak_pending'))}"
                + (f" at {clock(backlog.get('peak_at'))} UTC" if backlog.get("peak_at") else ""),
            ],
        ],
        [False, False],
    )
    top = table(
        ["Votes", "Question", "Asked by", "Platform", "State", "Received", "Answered"],
        [
            [
                _n(t.get("votes")),
                md(t.get("text", "")),
                md(t.get("author_name") or DASH),
                md(platform_name(str(t.get("platform", "")))),
                md(t.get("state", "")),
                clock(t.get("received_at")),
                clock(t.get("answered_at")),
            ]
            for t in q.get("top") or []
        ],
        [True, False, False, False, False, True, True],
    )
    return "## Questions\n\n" + summary + "\n### Top questions by votes\n\n" + top


def _polls(figures: Figures) -> str:
    polls = figures.get("polls") or {}
    out = [
        "## Polls\n\n",
        f"{_n(polls.get('launched'))} launched, {_n(polls.get('not_launched'))} drafts never "
        f"launched; average participation {pct(polls.get('average_participation'))} (voters ÷ "
        "average viewers while open).\n",
    ]
    for poll in polls.get("items") or []:
        results = poll.get("results") or {}
        by_platform = results.get("by_platform") or {}
        names = sorted(by_platform)
        voters = poll.get("voters") or 0
        rows = []
        for option in results.get("options") or []:
            at = int(option.get("position", 1)) - 1
            counts = [_n((by_platform[p].get("counts") or [0] * (at + 1))[at]) for p in names]
            share = (option.get("votes") or 0) / voters if voters else None
            rows.append(
                [
                    _n(option.get("position")),
                    md(option.get("label", "")),
                    *counts,
                    _n(option.get("votes")),
                    pct(share),
                ]
            )
        average = results.get("average")
        out.append(
            f"\n### {md(poll.get('title', ''))}\n\n"
            f"{md(poll.get('kind', ''))} poll, {md(poll.get('state', ''))}; opened "
            f"{clock(poll.get('opens_at'))} UTC for {duration(poll.get('open_s'))}; "
            f"{_n(voters)} voters of {_n(poll.get('average_viewers'), 1)} average viewers: "
            f"participation **{pct(poll.get('participation'))}**"
            + (f"; average rating {_n(average)}" if average is not None else "")
            + ".\n\n"
            + table(
                ["#", "Option", *[md(platform_name(p)) for p in names], "Votes", "Share"],
                rows,
                [True, False, *[True] * (len(names) + 2)],
            )
        )
    if not polls.get("items"):
        out.append("\n_No poll was launched._\n")
    return "".join(out)


def _incidents(figures: Figures) -> str:
    incidents = figures.get("incidents") or {}
    listed = table(
        ["#", "Incident", "Category", "Severity", "State", "Impact from", "Detected", "Resolved"],
        [
            [
                f"#{_n(i.get('number'))}",
                md(i.get("title", "")),
                md(i.get("category", "")),
                md(i.get("severity", "")),
                md(i.get("state", "")),
                clock(i.get("impact_started_at"), seconds=True),
                clock(i.get("detected_at"), seconds=True),
                clock(i.get("resolved_at"), seconds=True),
            ]
            for i in (figures.get("markers") or {}).get("incidents") or []
        ],
        [True, False, False, False, False, True, True, True],
    )
    response = (incidents.get("response") or {}).get("all", {}).get("all", {})
    times = table(
        ["Measure", "Incidents", "Median", "p90"],
        [
            [
                f"**{short}** {long}",
                _n((response.get(m) or {}).get("count")),
                duration((response.get(m) or {}).get("median_s")),
                duration((response.get(m) or {}).get("p90_s")),
            ]
            for m, (short, long) in MEASURE_LABELS.items()
        ],
        [False, True, True, True],
    )
    adherence = incidents.get("adherence") or {}
    steps = (
        f"Playbook adherence: **{pct(adherence.get('done_ratio'))}** of "
        f"{_n(adherence.get('playbook_steps'))} playbook steps done ({_n(adherence.get('done'))} "
        f"done, {_n(adherence.get('skipped'))} skipped, {_n(adherence.get('open'))} left open); "
        f"{_n(adherence.get('ad_hoc'))} added ad hoc."
        if adherence.get("playbook_steps")
        else "Playbook adherence: no playbook step was attached to a counted incident."
    )
    return (
        "## Incidents\n\n" + listed + "\n" + times + f"\n{steps}\n\n"
        f"{_n(incidents.get('counted'))} incidents counted; {_n(incidents.get('drills'))} drill "
        f"and {_n(incidents.get('cancelled'))} cancelled incidents left out.\n"
    )


def evidence_md(value: Any) -> str:
    """A rule's evidence on one line: key: value; nested in parentheses and brackets."""
    if isinstance(value, dict):
        shown = {k: v for k, v in value.items() if not is_identifier(str(k))}
        if not shown:
            return "none"
        return "; ".join(f"{md(words(str(k)))}: {evidence_md(v)}" for k, v in shown.items())
    if isinstance(value, list):
        if not value:
            return "none"
        if all(not isinstance(v, dict | list) for v in value):
            return ", ".join(evidence_md(v) for v in value)
        return " ".join(f"({evidence_md(v)})" for v in value)
    if is_instant(value):
        return f"{clock(value)} UTC"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _n(value, 4)
    return md(num(value))


def _findings(figures: Figures) -> str:
    out = [
        "## Highlights, shortcomings and recommendations\n\n"
        "Each is a stated rule over the figures, with the numbers that decided it.\n"
    ]
    for key, heading in FINDING_SECTIONS:
        results = figures.get(key) or []
        fired = [r for r in results if r.get("fired")]
        quiet = [r for r in results if not r.get("fired")]
        out.append(f"\n### {heading}\n\n")
        if not fired:
            out.append("_No rule of this kind fired._\n")
        for r in fired:
            out.append(f"- **{md(r.get('message') or '')}**\n")
            if r.get("suggestion"):
                out.append(f"  - Do: {md(r['suggestion'])}\n")
            out.append(f"  - Rule: {md(r.get('rule', ''))}\n")
            out.append(f"  - Evidence: {evidence_md(r.get('evidence'))}\n")
        if quiet:
            out.append("\nChecked, did not apply:\n\n")
            out.extend(
                f"- {md(r.get('rule', ''))} ({evidence_md(r.get('evidence'))})\n" for r in quiet
            )
    return "".join(out)


def _comparison(found: dict[str, Any] | None) -> str:
    if not found:
        return ""
    other = found.get("other") or {}

    def signed(value: Any, suffix: str = "") -> str:
        if value is None:
            return DASH
        return ("+" if value > 0 else "") + num(value) + suffix

    rows = [
        [
            md(m.get("label", "")),
            _n(m.get("this")),
            _n(m.get("other")),
            signed(m.get("delta")),
            signed(m.get("delta_pct"), "%"),
        ]
        for m in found.get("metrics") or []
    ]
    return (
        "\n## Compared with another event\n\n"
        f"Against **{md(other.get('title', ''))}** ({code(other.get('slug', ''))}, "
        f"{day((other.get('window') or {}).get('start') or other.get('starts_at'))}): "
        f"{md(found.get('rule', ''))}.\n\n"
        + table(["Figure", "This event", "Other", "Δ", "Δ %"], rows, [False, *[True] * 4])
    )


def render(figures: Figures, comparison: dict[str, Any] | None = None) -> str:
    """The whole report as one Markdown document (figures from app.reports.figures.build)."""
    event = figures.get("event") or {}
    generated = figures.get("generated_at")
    parts = [
        _header(figures),
        _kpis(figures),
        _series(figures),
        _retention(figures),
        _segments(figures),
        _questions(figures),
        _polls(figures),
        _incidents(figures),
        _findings(figures),
        _comparison(comparison),
    ]
    footer = (
        f"\n---\n\nGenerated {day(generated)} {clock(generated, seconds=True)} UTC by Control Room "
        f"(report schema {_n(figures.get('schema_version'))}); the same figures as JSON: "
        f"{code('controlroom report ' + str(event.get('slug', '')) + ' --format json')}.\n"
    )
    return "\n".join(p for p in parts if p) + footer
