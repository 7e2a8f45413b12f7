"""Inline SVG charts for the printable report: a line chart (over time or over a number)
and a horizontal bar chart, drawn in Python.

The report is one file that opens offline and prints, so a chart is markup: no script,
no font, no image by URL. Every label is escaped here; callers pass plain text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

FONT = 11  # px: the labels' size, and the unit the layout estimates text widths in
CHAR_W = FONT * 0.6
AXIS = "#6b7280"
GRID = "#e5e7eb"
INK = "#111827"
TIME_STEPS_S = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


@dataclass(frozen=True)
class Line:
    """One series: (x, y) points; a y of None is a gap in the line."""

    label: str
    points: Sequence[tuple[float, float | None]]
    color: str
    width: float = 1.6
    dashed: bool = False


@dataclass(frozen=True)
class Marker:
    """A vertical line at x with a short label; `until` shades the span up to that x."""

    x: float
    label: str
    color: str = "#4b5563"
    title: str = ""  # the whole text, as a tooltip (the label may be cut short)
    until: float | None = None
    lane: str = "top"  # "top": labels above the plot (cues); "bottom": inside, at its foot


@dataclass(frozen=True)
class Bar:
    """One bar, stacked from its parts: (name, value, colour)."""

    label: str
    parts: Sequence[tuple[str, float, str]]
    note: str = ""


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(1, chars - 1)] + "…"


def nice_step(span: float, target: int) -> float:
    """A round step (1, 2, 2.5 or 5 x 10^k) that cuts `span` in about `target` parts."""
    raw = span / max(1, target)
    if raw <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude


def value_ticks(top: float, target: int = 5) -> list[float]:
    """0, a round step, … up to the first tick at or above `top`."""
    step = nice_step(top if top > 0 else 1, target)
    count = max(1, math.ceil((top if top > 0 else 1) / step - 1e-9))
    return [round(i * step, 10) for i in range(count + 1)]


def time_ticks(start: float, end: float, target: int = 8) -> list[float]:
    """Epoch seconds on whole minutes (or hours) between start and end, about `target`."""
    span = max(60.0, end - start)
    step = next((s for s in TIME_STEPS_S if span / s <= target), TIME_STEPS_S[-1])
    first = math.ceil(start / step) * step
    return [float(t) for t in range(int(first), int(end) + 1, step)]


def clock_label(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M")


def _tick_label(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:,.10g}"


def _legend(
    items: Sequence[tuple[str, str, str]], x0: float, y0: float, width: float
) -> tuple[list[str], float]:
    """Swatches ("line", "dashed" or "box") and labels in rows that fit `width`; returns
    the markup and its height."""
    out: list[str] = []
    x, y = x0, y0
    for label, color, style in items:
        text = _cut(label, 40)
        need = 22 + len(text) * CHAR_W + 14
        if x > x0 and x + need > x0 + width:
            x, y = x0, y + FONT + 6
        if style == "box":
            swatch = (
                f'<rect x="{_f(x + 3)}" y="{_f(y - 9)}" width="10" height="10" fill="{color}"/>'
            )
        else:
            dash = ' stroke-dasharray="4 3"' if style == "dashed" else ""
            swatch = (
                f'<line x1="{_f(x)}" y1="{_f(y - 4)}" x2="{_f(x + 16)}" y2="{_f(y - 4)}" '
                f'stroke="{color}" stroke-width="2.5"{dash}/>'
            )
        out.append(
            f'<g class="legend">{swatch}'
            f'<text x="{_f(x + 22)}" y="{_f(y)}" fill="{INK}">{escape(text)}</text></g>'
        )
        x += need
    return out, (y - y0) + FONT + 6 if items else 0.0


def line_chart(
    lines: Sequence[Line],
    *,
    title: str,
    x_range: tuple[float, float] | None = None,
    time_axis: bool = True,
    x_format: Callable[[float], str] | None = None,
    y_format: Callable[[float], str] | None = None,
    y_max: float | None = None,
    markers: Sequence[Marker] = (),
    width: int = 760,
    plot_height: int = 200,
    chart_id: str = "",
) -> str:
    """A line chart with axes, ticks, a legend and labelled vertical markers."""
    xs = [x for line in lines for x, y in line.points if y is not None]
    ys = [y for line in lines for _, y in line.points if y is not None]
    lo, hi = x_range if x_range is not None else (min(xs, default=0.0), max(xs, default=1.0))
    if hi <= lo:
        hi = lo + (60.0 if time_axis else 1.0)
    top_value = y_max if y_max is not None else max(ys, default=0.0)
    ticks_y = value_ticks(top_value)
    y_top = ticks_y[-1] if ticks_y[-1] > 0 else 1.0
    fmt_x = x_format or (clock_label if time_axis else _tick_label)
    fmt_y = y_format or _tick_label

    top_markers = [m for m in markers if m.lane == "top" and lo <= m.x <= hi]
    label_w = max((len(fmt_y(t)) for t in ticks_y), default=1) * CHAR_W
    left = max(36.0, label_w + 12)
    right = 22.0  # half the last time label, which is centred on the axis' end
    plot_w = width - left - right
    # Cue labels take rows above the plot; a label goes on the first row it fits on.
    rows_end: list[float] = []
    placed: list[tuple[Marker, int, str]] = []
    for marker in sorted(top_markers, key=lambda m: m.x):
        at_x = left + (marker.x - lo) / (hi - lo) * plot_w
        text = _cut(marker.label, 28)
        end = at_x + 3 + len(text) * CHAR_W
        for row, last in enumerate(rows_end):
            if at_x > last + 4:
                rows_end[row] = end
                placed.append((marker, row, text))
                break
        else:
            if len(rows_end) < 3:
                rows_end.append(end)
                placed.append((marker, len(rows_end) - 1, text))
            else:
                placed.append((marker, -1, ""))  # no room: the line and its tooltip stay
    top = 10.0 + len(rows_end) * (FONT + 4)
    plot_bottom = top + plot_height

    def px(x: float) -> float:
        return left + (x - lo) / (hi - lo) * plot_w

    def py(y: float) -> float:
        return plot_bottom - (y / y_top) * plot_height

    body: list[str] = []
    for marker in markers:  # spans first: everything else draws over them
        if marker.until is not None and marker.until > lo and marker.x < hi:
            x1, x2 = px(max(lo, marker.x)), px(min(hi, marker.until))
            body.append(
                f'<rect class="span" x="{_f(x1)}" y="{_f(top)}" width="{_f(max(1.0, x2 - x1))}" '
                f'height="{plot_height}" fill="{marker.color}" fill-opacity="0.10"/>'
            )
    for tick in ticks_y:
        y = py(tick)
        body.append(
            f'<line x1="{_f(left)}" y1="{_f(y)}" x2="{_f(left + plot_w)}" y2="{_f(y)}" '
            f'stroke="{GRID}"/>'
            f'<text x="{_f(left - 6)}" y="{_f(y + 4)}" text-anchor="end" fill="{AXIS}">'
            f"{escape(fmt_y(tick))}</text>"
        )
    ticks_x = time_ticks(lo, hi) if time_axis else [t for t in value_ticks(hi, 8) if lo <= t <= hi]
    for tick in ticks_x:
        x = px(tick)
        body.append(
            f'<line x1="{_f(x)}" y1="{_f(plot_bottom)}" x2="{_f(x)}" y2="{_f(plot_bottom + 4)}" '
            f'stroke="{AXIS}"/>'
            f'<text x="{_f(x)}" y="{_f(plot_bottom + 16)}" text-anchor="middle" fill="{AXIS}">'
            f"{escape(fmt_x(tick))}</text>"
        )
    body.append(
        f'<line x1="{_f(left)}" y1="{_f(plot_bottom)}" x2="{_f(left + plot_w)}" '
        f'y2="{_f(plot_bottom)}" stroke="{AXIS}"/>'
    )
    for marker, row, text in placed:
        x = px(marker.x)
        tip = escape(marker.title or marker.label)
        label = ""
        if row >= 0:
            y = 10.0 + row * (FONT + 4) + FONT - 1
            label = f'<text x="{_f(x + 3)}" y="{_f(y)}" fill="{marker.color}">{escape(text)}</text>'
        body.append(
            f'<g class="marker cue"><title>{tip}</title>'
            f'<line x1="{_f(x)}" y1="{_f(top - 2)}" x2="{_f(x)}" y2="{_f(plot_bottom)}" '
            f'stroke="{marker.color}" stroke-dasharray="2 3"/>{label}</g>'
        )
    for marker in markers:
        if marker.lane != "bottom" or not lo <= marker.x <= hi:
            continue
        x = px(marker.x)
        body.append(
            f'<g class="marker incident"><title>{escape(marker.title or marker.label)}</title>'
            f'<line x1="{_f(x)}" y1="{_f(top)}" x2="{_f(x)}" y2="{_f(plot_bottom)}" '
            f'stroke="{marker.color}" stroke-width="1.5" stroke-dasharray="5 3"/>'
            f'<text x="{_f(x + 3)}" y="{_f(plot_bottom - 5)}" fill="{marker.color}" '
            f'font-weight="700">{escape(_cut(marker.label, 16))}</text></g>'
        )
    for line in lines:
        body.extend(_polylines(line, px, py))
    if not ys:
        body.append(
            f'<text x="{_f(left + plot_w / 2)}" y="{_f(top + plot_height / 2)}" '
            f'text-anchor="middle" fill="{AXIS}">no data</text>'
        )
    legend, legend_h = _legend(
        [(line.label, line.color, "dashed" if line.dashed else "line") for line in lines],
        left,
        plot_bottom + 34,
        plot_w,
    )
    height = plot_bottom + 30 + legend_h
    return _svg(title, width, height, chart_id, "line-chart", [*body, *legend], points=len(xs))


def _polylines(line: Line, px: Callable[[float], float], py: Callable[[float], float]) -> list[str]:
    """The line's runs between gaps; a run of one point is a dot."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in line.points:
        if y is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((px(x), py(y)))
    dash = ' stroke-dasharray="5 3"' if line.dashed else ""
    out = []
    for run in (r for r in runs if r):
        if len(run) == 1:
            x, y = run[0]
            out.append(
                f'<circle data-series="{escape(line.label)}" data-points="1" cx="{_f(x)}" '
                f'cy="{_f(y)}" r="2.5" fill="{line.color}"/>'
            )
            continue
        points = " ".join(f"{_f(x)},{_f(y)}" for x, y in run)
        out.append(
            f'<polyline data-series="{escape(line.label)}" data-points="{len(run)}" '
            f'points="{points}" fill="none" stroke="{line.color}" '
            f'stroke-width="{_f(line.width)}" stroke-linejoin="round"{dash}/>'
        )
    return out


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    width: int = 760,
    value_format: Callable[[float], str] | None = None,
    max_value: float | None = None,
    chart_id: str = "",
) -> str:
    """Horizontal bars, one row each, stacked from their parts, with a legend of the parts."""
    fmt = value_format or _tick_label
    row_h, bar_h = 24.0, 14.0
    label_chars = min(30, max((len(b.label) for b in bars), default=4))
    left = 8 + label_chars * CHAR_W + 8
    note_w = max((len(b.note) for b in bars), default=0) * CHAR_W + 12
    plot_w = max(120.0, width - left - note_w - 8)
    totals = [sum(max(0.0, v) for _, v, _ in b.parts) for b in bars]
    top_value = max_value if max_value is not None else max(totals, default=0.0)
    scale = plot_w / top_value if top_value > 0 else 0.0
    body: list[str] = []
    for i, bar in enumerate(bars):
        y = 6 + i * row_h
        body.append(
            f'<g class="bar"><title>{escape(bar.label)}: {escape(bar.note or fmt(totals[i]))}'
            f"</title>"
            f'<text x="{_f(left - 8)}" y="{_f(y + bar_h - 3)}" text-anchor="end" fill="{INK}">'
            f"{escape(_cut(bar.label, label_chars))}</text>"
            f'<rect x="{_f(left)}" y="{_f(y)}" width="{_f(plot_w)}" height="{_f(bar_h)}" '
            f'fill="#f3f4f6"/>'
        )
        x = left
        for name, value, color in bar.parts:
            w = max(0.0, value) * scale
            if w <= 0:
                continue
            body.append(
                f'<rect data-part="{escape(name)}" x="{_f(x)}" y="{_f(y)}" width="{_f(w)}" '
                f'height="{_f(bar_h)}" fill="{color}"/>'
            )
            x += w
        body.append(
            f'<text x="{_f(left + plot_w + 8)}" y="{_f(y + bar_h - 3)}" fill="{INK}">'
            f"{escape(bar.note or fmt(totals[i]))}</text></g>"
        )
    names: dict[str, str] = {}
    for bar in bars:
        for name, _, color in bar.parts:
            names.setdefault(name, color)
    plot_bottom = 6 + len(bars) * row_h
    legend: list[str] = []
    legend_h = 0.0
    if len(names) > 1:
        legend, legend_h = _legend(
            [(n, c, "box") for n, c in names.items()], left, plot_bottom + 14, plot_w
        )
    height = plot_bottom + 6 + legend_h
    return _svg(title, width, height, chart_id, "bar-chart", [*body, *legend], points=len(bars))


def _svg(
    title: str,
    width: float,
    height: float,
    chart_id: str,
    kind: str,
    body: list[str],
    *,
    points: int,
) -> str:
    # Inline in HTML5, an <svg> needs no xmlns: the file names no URL at all.
    ident = f' id="{escape(chart_id)}"' if chart_id else ""
    return (
        f'<svg{ident} class="chart {kind}" data-points="{points}" role="img" '
        f'aria-label="{escape(title)}" viewBox="0 0 {_f(width)} {_f(height)}" '
        f'width="{_f(width)}" height="{_f(height)}" font-size="{FONT}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )
