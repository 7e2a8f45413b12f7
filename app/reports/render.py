"""The report's output formats, by name: `json` and `csv` here, `html` (render_html.py)
and `md` (render_md.py) in their own modules.

RENDERERS is the hook for more: a renderer takes the figures (figures.build) and the
options and returns the file's bytes; `controlroom report --format NAME` and the API
offer every name registered here (`register` adds one).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from app.reports import render_html, render_md

Figures = dict[str, Any]
Table = dict[str, Any]  # {"columns": [...], "rows": [[...], ...]}


@dataclass(frozen=True)
class RenderOptions:
    series: str = "audience"  # the table a one-table format (csv) writes
    comparison: dict[str, Any] | None = None  # comparison.compare(), for formats that show it


@dataclass(frozen=True)
class Renderer:
    media_type: str
    extension: str
    render: Callable[[Figures, RenderOptions], bytes]


def _segments(figures: Figures) -> Table:
    columns = [
        "position", "cue_id", "title", "start", "end", "minutes", "average_viewers",
        "messages", "chat", "questions", "poll_votes", "upvotes", "interactions",
        "engagement_rate",
    ]  # fmt: skip
    rows = [
        [
            s["position"],
            s["cue_id"],
            s["title"],
            s["start"],
            s["end"],
            s["minutes"],
            s["average_viewers"],
            s["messages"],
            s["interactions"]["chat"],
            s["interactions"]["questions"],
            s["interactions"]["poll_votes"],
            s["interactions"]["upvotes"],
            s["interactions"]["total"],
            s["engagement_rate"],
        ]
        for s in figures["segments"]
    ]
    return {"columns": columns, "rows": rows}


def _polls(figures: Figures) -> Table:
    """One row per poll option, with each platform's count for it."""
    items = figures["polls"]["items"]
    platforms = sorted({p for poll in items for p in poll["results"]["by_platform"]})
    columns = [
        "poll_id", "title", "state", "opens_at", "closes_at", "voters", "average_viewers",
        "participation", "position", "label", "votes", *platforms,
    ]  # fmt: skip
    rows = []
    for poll in items:
        by_platform = poll["results"]["by_platform"]
        for option in poll["results"]["options"]:
            at = option["position"] - 1
            rows.append(
                [
                    poll["id"],
                    poll["title"],
                    poll["state"],
                    poll["opens_at"],
                    poll["closes_at"],
                    poll["voters"],
                    poll["average_viewers"],
                    poll["participation"],
                    option["position"],
                    option["label"],
                    option["votes"],
                    *[by_platform[p]["counts"][at] if p in by_platform else 0 for p in platforms],
                ]
            )
    return {"columns": columns, "rows": rows}


def _records(items: list[dict[str, Any]], columns: list[str]) -> Table:
    return {"columns": columns, "rows": [[item.get(c) for c in columns] for item in items]}


def tables(figures: Figures) -> dict[str, Table]:
    """Every table the report carries, by the name `?series=` and `--series` take."""
    found: dict[str, Table] = dict(figures["series"])
    found["retention"] = figures["retention"]["curve"]
    found["segments"] = _segments(figures)
    found["polls"] = _polls(figures)
    found["top_questions"] = _records(
        figures["questions"]["top"],
        ["id", "text", "author_name", "platform", "votes", "state", "received_at", "answered_at"],
    )
    found["cues"] = _records(
        figures["markers"]["cues"],
        ["position", "id", "title", "start", "end", "duration_s", "planned_duration_s",
         "overrun_s"],
    )  # fmt: skip
    found["incidents"] = _records(
        figures["markers"]["incidents"],
        ["number", "id", "title", "category", "severity", "state", "impact_started_at",
         "detected_at", "acknowledged_at", "mitigated_at", "resolved_at"],
    )  # fmt: skip
    return found


class SeriesName(StrEnum):
    """The tables `tables` returns."""

    audience = "audience"
    chat = "chat"
    interactions = "interactions"
    backlog = "backlog"
    chatters = "chatters"
    shares = "shares"
    retention = "retention"
    segments = "segments"
    polls = "polls"
    top_questions = "top_questions"
    cues = "cues"
    incidents = "incidents"


TABLE_NAMES = tuple(name.value for name in SeriesName)

# A spreadsheet runs a cell that starts with one of these as a formula: audience text
# (a question, a name) must never be able to do that.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return str(value)


def csv_text(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table["columns"])
    for row in table["rows"]:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


_INT = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?|-?inf|nan")


def read_csv(text: str) -> Table:
    """A numeric series back from csv_text: empty cells are None, numbers typed."""

    def typed(cell: str) -> Any:
        if cell == "":
            return None
        if _INT.fullmatch(cell):
            return int(cell)
        if _FLOAT.fullmatch(cell):
            return float(cell)
        return cell

    rows = list(csv.reader(io.StringIO(text)))
    return {"columns": rows[0], "rows": [[typed(c) for c in row] for row in rows[1:]]}


class UnknownSeries(ValueError):
    pass


def table(figures: Figures, name: str) -> Table:
    found = tables(figures)
    if name not in found:
        raise UnknownSeries(f"no series {name!r}: choose one of {', '.join(TABLE_NAMES)}")
    return found[name]


def _json(figures: Figures, options: RenderOptions) -> bytes:
    body = figures if options.comparison is None else {**figures, "comparison": options.comparison}
    return orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"


def _csv(figures: Figures, options: RenderOptions) -> bytes:
    return csv_text(table(figures, options.series)).encode()


def _html(figures: Figures, options: RenderOptions) -> bytes:
    return render_html.render(figures, options.comparison).encode()


def _md(figures: Figures, options: RenderOptions) -> bytes:
    return render_md.render(figures, options.comparison).encode()


RENDERERS: dict[str, Renderer] = {
    "json": Renderer("application/json", "json", _json),
    "csv": Renderer("text/csv; charset=utf-8", "csv", _csv),
    "html": Renderer("text/html; charset=utf-8", "html", _html),
    "md": Renderer("text/markdown; charset=utf-8", "md", _md),
}
