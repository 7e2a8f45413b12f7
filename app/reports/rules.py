"""Highlights, shortcomings and recommendations: stated rules over the report's figures.

Each rule reads only the figures (never the database), says in words what it checks
(thresholds filled in), and answers `fired` with the numbers that decided it; rules that
did not fire are kept too, so the report shows everything that was checked. Nothing is
said that a rule did not derive.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

Figures = dict[str, Any]


@dataclass(frozen=True)
class Thresholds:
    """The numbers the rules compare with (docs/PROTOCOL.md, "Report" lists them)."""

    drop_share: float = 0.20  # an audience drop: at least this share of the level lost…
    drop_window_min: int = 5  # …within this many minutes…
    drop_min_viewers: int = 10  # …from a level of at least this many viewers
    backlog_pending: int = 20  # more pending questions than this at a sample
    unanswered_share: float = 0.30  # more than this share of approved questions unanswered…
    unanswered_min_approved: int = 5  # …when at least this many were approved
    low_engagement_rate: float = 2.0  # interactions per 100 viewers per minute, below…
    low_engagement_min_minutes: float = 10.0  # …in a segment at least this long
    slow_answer_s: float = 600.0  # median time to answer above this
    low_poll_participation: float = 0.10  # a poll's voters ÷ average viewers below this
    high_poll_participation: float = 0.30  # …or at least this (a highlight)
    no_poll_min_minutes: int = 30  # an event this long with no poll launched
    slow_acknowledge_s: float = 120.0  # median time to acknowledge an incident above this
    slow_detect_s: float = 60.0  # median time to detect an incident above this
    adherence_ratio: float = 0.80  # share of playbook steps done below this


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str  # highlight | shortcoming | recommendation
    text: str  # with {placeholders} from Thresholds
    check: Callable[[Figures, Thresholds], tuple[bool, dict[str, Any], str | None]]
    suggestion: str | None = None  # what a recommendation proposes


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _hhmm(value: str | None) -> str:
    return _at(value).strftime("%H:%M UTC") if value else "?"


def _pct(share: float) -> str:
    return f"{share * 100:.0f}%"


def _totals(figures: Figures) -> list[tuple[str, float]]:
    table = figures["series"]["audience"]
    at = table["columns"].index("total")
    return [(row[0], float(row[at])) for row in table["rows"] if row[at] is not None]


def _live_at(figures: Figures, minute: str) -> dict[str, Any] | None:
    """The cue on air in that minute (the later one, when it changed within the minute)."""
    start = _at(minute)
    found = None
    for cue in figures["markers"]["cues"]:
        if _at(cue["start"]) < start + timedelta(minutes=1) and _at(cue["end"]) > start:
            found = {"cue_id": cue["id"], "title": cue["title"]}
    return found


def _incidents_near(figures: Figures, start: str, end: str) -> list[int]:
    lo, hi = _at(start), _at(end) + timedelta(minutes=1)
    found = []
    for incident in figures["markers"]["incidents"]:
        began = incident["impact_started_at"] or incident["detected_at"]
        over = incident["resolved_at"]
        if began and _at(began) < hi and (over is None or _at(over) >= lo):
            found.append(incident["number"])
    return found


# -- highlights --


def _peak_audience(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    viewers = f["kpis"]["viewers"]
    peak, at = viewers["peak"]["total"], viewers["peak_at"]["total"]
    if peak is None:
        return False, {"minutes_sampled": 0}, None
    table = f["series"]["audience"]
    row = next((r for r in table["rows"] if r[0] == at), None)
    split = dict(zip(table["columns"][1:-1], row[1:-1], strict=True)) if row else {}
    evidence = {"viewers": peak, "at": at, "by_platform": split}
    return True, evidence, f"Peak audience: {peak:,} concurrent viewers at {_hhmm(at)}."


def _best_segment(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    rated = [s for s in f["segments"] if s["engagement_rate"] is not None]
    if len(rated) < 2:
        return False, {"segments_with_a_rate": len(rated)}, None
    ranked = sorted(rated, key=lambda s: s["engagement_rate"], reverse=True)
    best, second = ranked[0], ranked[1]
    evidence = {
        "cue_id": best["cue_id"],
        "title": best["title"],
        "engagement_rate": best["engagement_rate"],
        "average_viewers": best["average_viewers"],
        "interactions": best["interactions"]["total"],
        "minutes": best["minutes"],
        "runner_up": {"title": second["title"], "engagement_rate": second["engagement_rate"]},
    }
    return (
        True,
        evidence,
        f"Best segment: '{best['title']}' with {best['engagement_rate']} interactions "
        f"per 100 viewers per minute (next: '{second['title']}', {second['engagement_rate']}).",
    )


def _peak_chat(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    table = f["series"]["chat"]
    rows = [(r[0], r[-1]) for r in table["rows"] if r[-1]]
    if not rows:
        return False, {"messages": 0}, None
    top = max(n for _, n in rows)
    at = min(m for m, n in rows if n == top)
    return (
        True,
        {"messages": top, "at": at},
        f"Busiest chat minute: {top:,} messages at {_hhmm(at)}.",
    )


def _strong_polls(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    found = [
        {"poll_id": p["id"], "title": p["title"], "participation": p["participation"]}
        for p in f["polls"]["items"]
        if p["participation"] is not None and p["participation"] >= t.high_poll_participation
    ]
    evidence = {"polls": found, "launched": f["polls"]["launched"]}
    if not found:
        return False, evidence, None
    best = max(found, key=lambda p: p["participation"])
    return (
        True,
        evidence,
        f"Poll '{best['title']}' reached {_pct(best['participation'])} of the audience.",
    )


# -- shortcomings --


def audience_drops(f: Figures, t: Thresholds) -> list[dict[str, Any]]:
    """Each stretch where total viewers were ≥ drop_share below the highest level of the
    drop_window_min minutes before (that level being ≥ drop_min_viewers)."""
    totals = _totals(f)
    window = timedelta(minutes=t.drop_window_min)
    drops: list[dict[str, Any]] = []
    for i, (minute, viewers) in enumerate(totals):
        now = _at(minute)
        before = [(m, v) for m, v in totals[:i] if now - window <= _at(m) < now]
        if not before:
            continue
        level = max(v for _, v in before)
        share = (level - viewers) / level if level else 0.0
        # A hair of tolerance: 300 → 240 is a 20% drop however the floats round.
        if level < t.drop_min_viewers or share < t.drop_share - 1e-9:
            continue
        since = min(m for m, v in before if v == level)
        last = drops[-1] if drops else None
        if last is not None and _at(last["to_minute"]) >= now - window:
            # The same fall going on: keep its start, follow it to its lowest point.
            if viewers < last["to_viewers"]:
                last.update(to_minute=minute, to_viewers=viewers)
            last["drop_share"] = round(
                (last["from_viewers"] - last["to_viewers"]) / last["from_viewers"], 4
            )
            continue
        drops.append(
            {
                "from_minute": since,
                "to_minute": minute,
                "from_viewers": level,
                "to_viewers": viewers,
                "drop_share": round(share, 4),
            }
        )
    for drop in drops:
        drop["from_viewers"] = _whole(drop["from_viewers"])
        drop["to_viewers"] = _whole(drop["to_viewers"])
        drop["cue"] = _live_at(f, drop["to_minute"])
        drop["incidents"] = _incidents_near(f, drop["from_minute"], drop["to_minute"])
    return drops


def _whole(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _audience_drop(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    drops = audience_drops(f, t)
    evidence = {"drops": drops, "minutes_checked": len(_totals(f))}
    if not drops:
        return False, evidence, None
    worst = max(drops, key=lambda d: d["drop_share"])
    return (
        True,
        evidence,
        f"{len(drops)} audience drop(s); the worst: {worst['from_viewers']:,} → "
        f"{worst['to_viewers']:,} viewers ({_pct(worst['drop_share'])}) between "
        f"{_hhmm(worst['from_minute'])} and {_hhmm(worst['to_minute'])}.",
    )


def _incidents(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    items = f["markers"]["incidents"]
    evidence = {
        "count": len(items),
        "by_severity": dict(sorted(Counter(i["severity"] for i in items).items())),
        "incidents": [
            {k: i[k] for k in ("number", "title", "category", "severity", "detected_at")}
            for i in items
        ],
        "drills_left_out": f["incidents"]["drills"],
        "cancelled_left_out": f["incidents"]["cancelled"],
    }
    if not items:
        return False, evidence, None
    severities = ", ".join(f"{n} {s}" for s, n in evidence["by_severity"].items())
    return True, evidence, f"{len(items)} incident(s) during the event ({severities})."


def _backlog(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    table = f["series"]["backlog"]
    samples = [(m, v) for m, v in table["rows"] if v is not None]
    over = [(m, v) for m, v in samples if v > t.backlog_pending]
    peak = max((v for _, v in samples), default=None)
    evidence: dict[str, Any] = {
        "samples": len(samples),
        "peak_pending": peak,
        "peak_at": min((m for m, v in samples if v == peak), default=None),
        "minutes_over": len(over),
        "first_over_at": over[0][0] if over else None,
    }
    if not over:
        return False, evidence, None
    return (
        True,
        evidence,
        f"Question backlog above {t.backlog_pending} for {len(over)} minute(s), "
        f"peaking at {peak} pending at {_hhmm(evidence['peak_at'])}.",
    )


def _unanswered(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    q = f["questions"]
    share = q["unanswered_share"]
    evidence = {"approved": q["approved"], "unanswered": q["unanswered"], "share": share}
    fired = (
        share is not None
        and q["approved"] >= t.unanswered_min_approved
        and share > t.unanswered_share
    )
    if not fired:
        return False, evidence, None
    return (
        True,
        evidence,
        f"{q['unanswered']} of {q['approved']} approved questions ({_pct(share)}) were "
        "never answered.",
    )


# -- recommendations --


def _quiet_segments(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    quiet = [
        {
            "cue_id": s["cue_id"],
            "title": s["title"],
            "minutes": s["minutes"],
            "engagement_rate": s["engagement_rate"],
            "average_viewers": s["average_viewers"],
        }
        for s in f["segments"]
        if s["engagement_rate"] is not None
        and s["minutes"] >= t.low_engagement_min_minutes
        and s["engagement_rate"] < t.low_engagement_rate
    ]
    evidence = {"segments": quiet, "segments_checked": len(f["segments"])}
    if not quiet:
        return False, evidence, None
    names = ", ".join(f"'{s['title']}' ({s['engagement_rate']})" for s in quiet)
    return True, evidence, f"Run a poll or a Q&A prompt in: {names}."


def _review_drops(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    drops = audience_drops(f, t)
    evidence = {
        "drops": [
            {k: d[k] for k in ("from_minute", "to_minute", "drop_share", "cue", "incidents")}
            for d in drops
        ]
    }
    if not drops:
        return False, evidence, None
    on_air = sorted({d["cue"]["title"] for d in drops if d["cue"]})
    where = f" (on air: {', '.join(repr(x) for x in on_air)})" if on_air else ""
    return True, evidence, f"Review what was on air when the audience fell{where}."


def _more_moderators(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    fired, evidence, _ = _backlog(f, t)
    if not fired:
        return False, evidence, None
    return (
        True,
        evidence,
        f"Up to {evidence['peak_pending']} questions waited for triage: add a moderator or "
        "triage in bulk at peaks.",
    )


def _answer_sooner(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    q = f["questions"]
    found = q["median_time_to_answer_s"]
    evidence = {"median_time_to_answer_s": found, "answered": q["answered"]}
    if found is None or found <= t.slow_answer_s:
        return False, evidence, None
    return (
        True,
        evidence,
        f"Questions waited {found / 60:.1f} min (median) for an answer: schedule Q&A "
        "earlier or in several slots.",
    )


def _follow_up(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    fired, evidence, _ = _unanswered(f, t)
    if not fired:
        return False, evidence, None
    return (
        True,
        evidence,
        f"Answer the {evidence['unanswered']} open approved questions after the event.",
    )


def _promote_polls(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    weak = [
        {"poll_id": p["id"], "title": p["title"], "participation": p["participation"]}
        for p in f["polls"]["items"]
        if p["participation"] is not None and p["participation"] < t.low_poll_participation
    ]
    evidence = {"polls": weak, "launched": f["polls"]["launched"]}
    if not weak:
        return False, evidence, None
    names = ", ".join(f"'{p['title']}' ({_pct(p['participation'])})" for p in weak)
    return True, evidence, f"Announce polls on stream and keep them open longer: {names}."


def _add_polls(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    minutes = f["window"]["minutes"]
    launched = f["polls"]["launched"]
    evidence = {"launched": launched, "minutes": minutes}
    if launched or minutes < t.no_poll_min_minutes:
        return False, evidence, None
    return True, evidence, f"No poll in {minutes} minutes: plan at least one."


def _incident_median(f: Figures, measure: str) -> tuple[float | None, int]:
    found = f["incidents"]["response"]["all"].get("all", {}).get(measure, {})
    return found.get("median_s"), int(found.get("count", 0))


def _faster_acknowledge(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    found, count = _incident_median(f, "acknowledge")
    evidence = {"median_acknowledge_s": found, "incidents_measured": count}
    if found is None or found <= t.slow_acknowledge_s:
        return False, evidence, None
    return (
        True,
        evidence,
        f"Incidents took {found:.0f} s (median) to be acknowledged: review who is alerted and how.",
    )


def _tune_detection(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    found, count = _incident_median(f, "detect")
    evidence = {"median_detect_s": found, "incidents_measured": count}
    if found is None or found <= t.slow_detect_s:
        return False, evidence, None
    return (
        True,
        evidence,
        f"Problems took {found:.0f} s (median) to be detected: tighten the detectors' "
        "thresholds or windows.",
    )


def _rehearse(f: Figures, t: Thresholds) -> tuple[bool, dict[str, Any], str | None]:
    adherence = f["incidents"]["adherence"]
    ratio = adherence.get("done_ratio")
    evidence = {k: adherence.get(k) for k in ("playbook_steps", "done", "skipped", "done_ratio")}
    if ratio is None or ratio >= t.adherence_ratio:
        return False, evidence, None
    return (
        True,
        evidence,
        f"Only {_pct(ratio)} of the playbook steps were done: rehearse them in a drill.",
    )


RULES: tuple[Rule, ...] = (
    Rule(
        "peak_audience",
        "highlight",
        "the minute with the most concurrent viewers, all platforms together",
        _peak_audience,
    ),
    Rule(
        "best_segment",
        "highlight",
        "the played segment with the highest engagement rate, when at least two have one",
        _best_segment,
    ),
    Rule("peak_chat_minute", "highlight", "the minute with the most chat messages", _peak_chat),
    Rule(
        "strong_poll",
        "highlight",
        "a poll whose voters reached at least {high_poll_participation:.0%} of the average "
        "viewers while it was open",
        _strong_polls,
    ),
    Rule(
        "audience_drop",
        "shortcoming",
        "total concurrent viewers fell by at least {drop_share:.0%} within "
        "{drop_window_min} minutes, from a level of at least {drop_min_viewers} viewers",
        _audience_drop,
    ),
    Rule(
        "incidents",
        "shortcoming",
        "at least one incident was opened (drills and cancelled incidents left out)",
        _incidents,
    ),
    Rule(
        "question_backlog",
        "shortcoming",
        "more than {backlog_pending} questions were pending at a minute sample",
        _backlog,
    ),
    Rule(
        "unanswered_questions",
        "shortcoming",
        "more than {unanswered_share:.0%} of approved questions were never answered "
        "(with at least {unanswered_min_approved} approved)",
        _unanswered,
    ),
    Rule(
        "poll_in_quiet_segment",
        "recommendation",
        "a segment of at least {low_engagement_min_minutes:g} minutes had fewer than "
        "{low_engagement_rate:g} interactions per 100 viewers per minute",
        _quiet_segments,
        "run a poll or a Q&A prompt in that segment",
    ),
    Rule(
        "review_audience_drops",
        "recommendation",
        "the audience_drop shortcoming fired",
        _review_drops,
        "review what was on air at each drop; shorten or move that segment, or fix the "
        "stream problem behind it",
    ),
    Rule(
        "more_moderators",
        "recommendation",
        "more than {backlog_pending} questions were pending at a minute sample",
        _more_moderators,
        "add a moderator, or triage in bulk during peaks",
    ),
    Rule(
        "answer_sooner",
        "recommendation",
        "the median time from a question's arrival to its answer was over {slow_answer_s:g} s",
        _answer_sooner,
        "schedule Q&A earlier or in several slots",
    ),
    Rule(
        "follow_up_unanswered",
        "recommendation",
        "more than {unanswered_share:.0%} of approved questions were never answered "
        "(with at least {unanswered_min_approved} approved)",
        _follow_up,
        "answer the remaining questions after the event (mail, post, next session)",
    ),
    Rule(
        "promote_polls",
        "recommendation",
        "a poll's voters were fewer than {low_poll_participation:.0%} of the average "
        "viewers while it was open",
        _promote_polls,
        "announce polls on stream and keep them open longer",
    ),
    Rule(
        "add_polls",
        "recommendation",
        "no poll was launched in an event of at least {no_poll_min_minutes} minutes",
        _add_polls,
        "plan at least one poll",
    ),
    Rule(
        "faster_acknowledge",
        "recommendation",
        "incidents took over {slow_acknowledge_s:g} s (median) from detection to acknowledgement",
        _faster_acknowledge,
        "review who is alerted for incidents, and how",
    ),
    Rule(
        "tune_detection",
        "recommendation",
        "incidents took over {slow_detect_s:g} s (median) from the impact's start to detection",
        _tune_detection,
        "tighten the detectors' thresholds or windows",
    ),
    Rule(
        "rehearse_playbook",
        "recommendation",
        "fewer than {adherence_ratio:.0%} of the playbook steps of incidents were done",
        _rehearse,
        "rehearse the playbook's steps in a drill",
    ),
)
SECTIONS = {
    "highlight": "highlights",
    "shortcoming": "shortcomings",
    "recommendation": "recommendations",
}


def text_of(rule: Rule, thresholds: Thresholds) -> str:
    return rule.text.format(**thresholds.__dict__)


def evaluate(figures: Figures, thresholds: Thresholds) -> dict[str, list[dict[str, Any]]]:
    """{highlights, shortcomings, recommendations}: every rule, fired or not."""
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in SECTIONS.values()}
    for rule in RULES:
        fired, evidence, message = rule.check(figures, thresholds)
        result: dict[str, Any] = {
            "id": rule.id,
            "rule": text_of(rule, thresholds),
            "fired": fired,
            "evidence": evidence,
            "message": message if fired else None,
        }
        if rule.suggestion is not None:
            result["suggestion"] = rule.suggestion
        out[SECTIONS[rule.kind]].append(result)
    return out
