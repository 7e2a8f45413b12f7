"""How the printed report (HTML and Markdown) writes the figures' numbers, times and names.

One place for both formats, so the two show the same value the same way: the figures
stay the source of truth and these only format them (nothing here computes a figure).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

DASH = "—"
INTERACTION_LABELS = {
    "chat": "Chat messages",
    "questions": "Questions asked",
    "poll_votes": "Poll votes",
    "upvotes": "Question upvotes",
}
# Incident response measures, in the order a response runs (app/incidents/metrics.py).
MEASURE_LABELS = {
    "detect": ("TTD", "time to detect (impact start → detection)"),
    "acknowledge": ("TTA", "time to acknowledge (detection → acknowledgement)"),
    "mitigate": ("TTM", "time to mitigate (detection → mitigation)"),
    "resolve": ("TTR", "time to resolve (detection → resolution)"),
}
FINDING_SECTIONS = (
    ("highlights", "Highlights"),
    ("shortcomings", "Shortcomings"),
    ("recommendations", "Recommendations"),
)
PLATFORM_COLORS = {
    "twitch": "#7c3aed",
    "youtube": "#dc2626",
    "zoom": "#2563eb",
    "facebook": "#1d4ed8",
    "linkedin": "#0e7490",
    "x": "#374151",
    "teams": "#4f46e5",
    "webex": "#059669",
    "qa": "#b45309",
    "slido": "#65a30d",
    "webhook": "#6b7280",
}
OTHER_COLORS = ("#0891b2", "#c2410c", "#4d7c0f", "#be185d", "#6d28d9", "#0f766e", "#a16207")
TOTAL_COLOR = "#111827"
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def platform_color(platform: str, platforms: list[str]) -> str:
    """A platform's colour: its brand-like one, else one of the others by position."""
    if platform in PLATFORM_COLORS:
        return PLATFORM_COLORS[platform]
    unknown = [p for p in platforms if p not in PLATFORM_COLORS]
    at = unknown.index(platform) if platform in unknown else len(unknown)
    return OTHER_COLORS[at % len(OTHER_COLORS)]


def platform_name(platform: str) -> str:
    return {"youtube": "YouTube", "qa": "Q&A", "x": "X", "linkedin": "LinkedIn"}.get(
        platform, platform[:1].upper() + platform[1:]
    )


def num(value: Any, digits: int = 2) -> str:
    """A figure: whole numbers with thousands separators, others to `digits` decimals."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return DASH
        if value.is_integer():
            return f"{int(value):,}"
        text = f"{value:,.{digits}f}".rstrip("0").rstrip(".")
        return text if text not in ("", "-0") else "0"
    return str(value)


def pct(share: float | None, digits: int = 1) -> str:
    """A share (0..1) as a percentage: 0.4 → 40%, 0.1234 → 12.3%."""
    if share is None:
        return DASH
    return num(round(share * 100, digits), digits) + "%"


def duration(seconds: float | None) -> str:
    """Seconds as people say them: 42 s, 3 min 20 s, 1 h 05 min."""
    if seconds is None:
        return DASH
    total = round(seconds)
    if total < 60:
        return f"{num(round(seconds, 1), 1)} s" if seconds < 10 else f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def parse(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(UTC)


def clock(value: str | None, *, seconds: bool = False) -> str:
    """An ISO instant as its UTC time of day: 18:02 (or 18:02:30)."""
    at = parse(value)
    if at is None:
        return DASH
    return at.strftime("%H:%M:%S" if seconds or at.second else "%H:%M")


def day(value: str | None) -> str:
    at = parse(value)
    return at.strftime("%a %d %b %Y") if at else DASH


def cue_number(position: Any) -> str:
    """A cue's number as the console shows it: positions count from 0, people from 1."""
    return str(position + 1) if isinstance(position, int) else ""


def is_identifier(key: str) -> bool:
    """A row id in a rule's evidence: kept in the JSON, left out where people read."""
    return key == "id" or key.endswith("_id")


def is_instant(value: Any) -> bool:
    return isinstance(value, str) and _ISO.fullmatch(value) is not None


def words(key: str) -> str:
    """A figure's key as words: median_time_to_answer_s → median time to answer (s)."""
    text = key.replace("_", " ")
    if text.endswith(" s"):
        text = text[:-2] + " (s)"
    return text


def window_text(figures: dict[str, Any]) -> tuple[str, str, str]:
    """(date, time range, duration) of the event's window; dashes when it has no data."""
    window = figures.get("window") or {}
    start, end = parse(window.get("start")), parse(window.get("end"))
    if start is None or end is None:
        starts = (figures.get("event") or {}).get("starts_at")
        return day(starts), DASH, DASH
    return (
        start.strftime("%a %d %b %Y"),
        f"{start:%H:%M}-{end:%H:%M} UTC",
        duration((end - start).total_seconds()),
    )


def series_columns(table: dict[str, Any]) -> list[str]:
    """A series' value columns (every column but the first, the minute)."""
    return list(table.get("columns", [])[1:])


def column(table: dict[str, Any], name: str) -> list[Any]:
    columns = table.get("columns", [])
    if name not in columns:
        return []
    at = columns.index(name)
    return [row[at] for row in table.get("rows", [])]


def shares_text(shares: dict[str, Any] | None) -> tuple[str, str]:
    """(value, note) for the shares figure: the count where a platform reports one, else a
    dash and why (none of Twitch, YouTube, Zoom or Owncast report shares live)."""
    shares = shares or {}
    missing = ", ".join(platform_name(p) for p in shares.get("not_reported_by") or [])
    if shares.get("total") is None:
        return DASH, f"not reported by {missing}" if missing else "no platform reported shares"
    counted = ", ".join(
        f"{platform_name(p)} {num(n)}" for p, n in (shares.get("by_platform") or {}).items()
    )
    return num(shares["total"]), counted + (f"; not reported by {missing}" if missing else "")
