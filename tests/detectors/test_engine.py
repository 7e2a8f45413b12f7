"""The detector engine on hand-made timelines: each detector fires on its scenario and
stays quiet on a near miss; cooldown, scope, modes and bounded memory."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from app.detectors.engine import Decision, DetectorEngine, Finding, Rule
from app.detectors.signals import CueOverrun, EventSignals, SourceSignals

EVENT = "e1"


def snap(now: float, event_id: str = EVENT, **fields: Any) -> EventSignals:
    return EventSignals(event_id=event_id, now=float(now), **fields)


def viewers(now: float, **by_platform: int) -> EventSignals:
    return snap(now, viewers=by_platform, viewers_total=sum(by_platform.values()))


def feed(engine: DetectorEngine, times: Iterable[float], make: Callable[[float], EventSignals]):
    for t in times:
        engine.observe(make(t))


def only(decisions: list[Decision]) -> Decision:
    assert len(decisions) == 1, decisions
    return decisions[0]


def quiet(engine: DetectorEngine, rule: Rule, now: float) -> Finding:
    """Asserts the rule does not fire, and returns what it saw (the near miss)."""
    assert engine.evaluate([rule], now) == []
    found = engine.diagnose([rule], now)
    assert len(found) == 1, found
    assert not found[0].met
    return found[0]


def source(sid: str = "s1", **fields: Any) -> SourceSignals:
    base: dict[str, Any] = {"platform": "twitch", "state": "connected", "name": "Main"}
    return SourceSignals(source_id=sid, **{**base, **fields})


# -- viewers_drop --
VIEWERS_30 = Rule("stream-down", "viewers_drop", {"drop_pct": 30}, window_s=60, scope="total")


def test_viewers_drop_fires_with_the_numbers_in_its_explanation() -> None:
    engine = DetectorEngine()
    feed(engine, range(41), lambda t: viewers(t, twitch=800, youtube=400))
    feed(engine, range(41, 61), lambda t: viewers(t, twitch=400, youtube=260))
    decision = only(engine.evaluate([VIEWERS_30], 60))
    assert decision.explanation == (
        "total viewers fell 45% (1,200 → 660) within 60 s; the rule fires at 30%"
    )
    assert (decision.signal, decision.scope, decision.entry_slug) == (
        "viewers_drop",
        "total",
        "stream-down",
    )
    assert decision.data["peak"] == 1200
    assert decision.data["current"] == 660
    assert decision.data["drop_pct"] == 45.0
    assert decision.at == 60
    assert decision.key == ("viewers_drop", "total")


def test_a_29_percent_drop_does_not_fire_a_30_percent_rule() -> None:
    engine = DetectorEngine()
    feed(engine, range(31), lambda t: viewers(t, twitch=1000))
    feed(engine, range(31, 61), lambda t: viewers(t, twitch=710))
    seen = quiet(engine, VIEWERS_30, 60)
    assert seen.explanation == (
        "total viewers fell 29% (1,000 → 710) within 60 s; the rule fires at 30%"
    )
    # One viewer fewer and it is exactly 30%: it fires.
    engine.observe(viewers(61, twitch=700))
    assert only(engine.evaluate([VIEWERS_30], 61)).data["drop_pct"] == 30.0


def test_a_peak_older_than_the_window_does_not_count() -> None:
    engine = DetectorEngine()
    engine.observe(viewers(0, twitch=1200))
    feed(engine, range(10, 101), lambda t: viewers(t, twitch=600))
    # Judged at t=60 the fall is within the window; at t=100 the peak has left it.
    assert only(engine.evaluate([VIEWERS_30], 60)).data["peak"] == 1200
    seen = quiet(engine, VIEWERS_30, 100)
    assert (seen.data["peak"], seen.data["drop_pct"]) == (600, 0)


def test_a_platform_with_a_tiny_audience_is_not_judged() -> None:
    rule = Rule("stream-down", "viewers_drop", {"drop_pct": 30}, scope="per_platform")
    engine = DetectorEngine()
    feed(engine, range(31), lambda t: viewers(t, twitch=500, zoom=19))
    feed(engine, range(31, 61), lambda t: viewers(t, twitch=500, zoom=2))
    assert engine.evaluate([rule], 60) == []
    assert [f.scope for f in engine.diagnose([rule], 60)] == ["platform:twitch"]
    # At 20 viewers it is an audience.
    engine = DetectorEngine()
    feed(engine, range(31), lambda t: viewers(t, twitch=500, zoom=20))
    feed(engine, range(31, 61), lambda t: viewers(t, twitch=500, zoom=2))
    assert only(engine.evaluate([rule], 60)).scope == "platform:zoom"


def test_per_platform_scope_sees_a_drop_the_total_hides() -> None:
    # Twitch loses 60%, YouTube holds: the total falls 30%, under a 40% rule.
    engine = DetectorEngine()
    feed(engine, range(31), lambda t: viewers(t, twitch=1000, youtube=1000))
    feed(engine, range(31, 61), lambda t: viewers(t, twitch=400, youtube=1000))
    total = Rule("stream-down", "viewers_drop", {"drop_pct": 40}, scope="total")
    per_platform = Rule("platform-down", "viewers_drop", {"drop_pct": 40}, scope="per_platform")
    both = Rule("either", "viewers_drop", {"drop_pct": 40})  # no scope: total and platforms

    assert engine.evaluate([total], 60) == []
    decision = only(engine.evaluate([per_platform], 60))
    assert decision.scope == "platform:twitch"
    assert decision.explanation == (
        "twitch viewers fell 60% (1,000 → 400) within 60 s; the rule fires at 40%"
    )
    assert [d.scope for d in engine.evaluate([both], 60)] == ["platform:twitch"]
    assert {f.scope: f.met for f in engine.diagnose([both], 60)} == {
        "total": False,
        "platform:twitch": True,
        "platform:youtube": False,
    }


# -- connector_stale --
STALE_30 = Rule("connector-down", "connector_stale", {"stale_s": 30}, scope="per_source")


def test_a_connected_source_without_events_is_stale() -> None:
    engine = DetectorEngine()
    engine.observe(snap(100, sources=(source(since_last_event_s=45.0),)))
    decision = only(engine.evaluate([STALE_30], 100))
    assert decision.scope == "source:s1"
    assert decision.explanation == (
        'twitch source "Main" is connected and has sent nothing for 45 s; the rule fires at 30 s'
    )
    assert decision.data["since_last_event_s"] == 45.0


def test_a_source_quiet_for_29_s_is_not_stale() -> None:
    engine = DetectorEngine()
    engine.observe(snap(100, sources=(source(since_last_event_s=29.0),)))
    assert "sent nothing for 29 s" in quiet(engine, STALE_30, 100).explanation


def test_a_reconnecting_source_is_stale_once_it_has_been_down_stale_s() -> None:
    engine = DetectorEngine()
    feed(engine, range(10), lambda t: snap(t, sources=(source(since_last_event_s=1.0),)))
    down = source(state="reconnecting", since_last_event_s=1.0)
    feed(engine, range(10, 40), lambda t: snap(t, sources=(down,)))
    seen = quiet(engine, STALE_30, 39)  # down since t=10: 29 s
    assert seen.explanation.startswith('twitch source "Main" has been reconnecting for 29 s')
    engine.observe(snap(40, sources=(down,)))
    decision = only(engine.evaluate([STALE_30], 40))
    assert decision.explanation == (
        'twitch source "Main" has been reconnecting for 30 s; the rule fires at 30 s'
    )
    assert decision.data["not_connected_s"] == 30.0


def test_a_failed_source_fires_at_once_and_a_paused_one_never() -> None:
    engine = DetectorEngine()
    failed = source(state="failed", since_last_event_s=2.0, last_error="401 bad token")
    paused = source("s2", state="paused", since_last_event_s=None, platform="youtube")
    engine.observe(snap(5, sources=(failed, paused)))
    decision = only(engine.evaluate([STALE_30], 5))
    assert decision.scope == "source:s1"
    assert decision.explanation == (
        'twitch source "Main" has failed (401 bad token); the rule fires on failure or '
        "after 30 s without events"
    )
    feed(engine, range(6, 300), lambda t: snap(t, sources=(paused,)))
    assert engine.evaluate([STALE_30], 299) == []


def test_a_source_that_never_sent_anything_is_stale_after_stale_s_of_watching() -> None:
    engine = DetectorEngine()
    never = source(since_last_event_s=None)
    feed(engine, range(100, 130), lambda t: snap(t, sources=(never,)))
    quiet(engine, STALE_30, 129)
    engine.observe(snap(130, sources=(never,)))
    assert "sent nothing for 30 s" in only(engine.evaluate([STALE_30], 130)).explanation


# -- chat_raid --
RAID = Rule("chat-raid", "chat_raid", {"rate_factor": 5, "duplicate_ratio": 0.6}, window_s=300)


def chat(now: float, messages: float, dup: float) -> EventSignals:
    return snap(now, messages_last_min=messages, duplicate_ratio=dup)


def test_a_raid_is_a_rate_far_over_baseline_of_mostly_repeated_lines() -> None:
    engine = DetectorEngine()
    feed(engine, range(301), lambda t: chat(t, 40 + t % 3, 0.1))  # median 41
    feed(engine, range(301, 361), lambda t: chat(t, 420, 0.72))
    decision = only(engine.evaluate([RAID], 360))
    assert decision.explanation == (
        "chat at 420 messages/min is 10.2 times its baseline of 41 (median over the 5 min "
        "before the last minute), and 72% of the lines repeat an earlier one; the rule "
        "fires at 5 times and 60%"
    )
    assert decision.data["baseline_per_min"] == 41
    assert decision.data["rate_vs_baseline"] == 10.24


def test_a_busy_chat_of_different_lines_is_no_raid() -> None:
    engine = DetectorEngine()
    feed(engine, range(301), lambda t: chat(t, 40, 0.1))
    feed(engine, range(301, 361), lambda t: chat(t, 420, 0.59))
    assert "59% of the lines repeat" in quiet(engine, RAID, 360).explanation
    # And repeats at 4.9 times the baseline are no raid either.
    engine.observe(chat(361, 196, 0.9))
    assert "4.9 times its baseline" in quiet(engine, RAID, 361).explanation


def test_the_first_minute_of_watching_is_no_baseline() -> None:
    """Chat that starts with the event ramps its trailing-minute rate up from 0: that
    ramp is not the chat's normal, and ordinary chat after it is no raid."""
    rule = Rule("chat-raid", "chat_raid", {"rate_factor": 5, "duplicate_ratio": 0.6})
    engine = DetectorEngine()
    feed(engine, range(0, 95), lambda t: chat(t, min(200, 2 * t), 0.9))
    assert "no baseline yet" in quiet(engine, rule, 94).explanation
    feed(engine, range(95, 200), lambda t: chat(t, 200, 0.9))
    feed(engine, range(200, 230), lambda t: chat(t, 1200, 0.9))
    assert only(engine.evaluate([rule], 229)).data["baseline_per_min"] == 200


def test_no_baseline_no_raid() -> None:
    engine = DetectorEngine()
    # The worker started 140 s ago, so its first minute's undercounted rates are left
    # out: 80 s of usable history before the last minute, not 150.
    feed(engine, range(160, 301), lambda t: chat(t, 40, 0.1))
    feed(engine, range(301, 361), lambda t: chat(t, 2000, 0.95))
    assert "no baseline yet" in quiet(engine, RAID, 360).explanation
    engine = DetectorEngine()
    feed(engine, range(90, 301), lambda t: chat(t, 40, 0.1))
    feed(engine, range(301, 361), lambda t: chat(t, 2000, 0.95))
    assert only(engine.evaluate([RAID], 360)).data["baseline_per_min"] == 40


def test_a_quiet_chat_has_a_floor_under_its_baseline() -> None:
    engine = DetectorEngine()
    feed(engine, range(301), lambda t: chat(t, 0, 0.0))
    feed(engine, range(301, 361), lambda t: chat(t, 49, 0.9))
    seen = quiet(engine, RAID, 360)
    assert "is 4.9 times its baseline of 0, floored at 10" in seen.explanation
    engine.observe(chat(361, 50, 0.9))
    assert only(engine.evaluate([RAID], 361)).data["reference_per_min"] == 10


def test_a_raid_rule_without_a_duplicate_ratio_judges_the_rate_alone() -> None:
    rule = Rule("chat-surge", "chat_raid", {"rate_factor": 5, "duplicate_ratio": None})
    engine = DetectorEngine()
    feed(engine, range(121), lambda t: chat(t, 40, 0.0))
    feed(engine, range(121, 181), lambda t: chat(t, 200, 0.0))
    assert only(engine.evaluate([rule], 180)).explanation.endswith("the rule fires at 5 times")


# -- ingest_lag --
LAG_10 = Rule("lagging", "ingest_lag", {"lag_s": 10}, scope="per_source")


def test_ingest_lag_fires_per_source_over_the_threshold() -> None:
    engine = DetectorEngine()
    engine.observe(snap(1, sources=(source(lag_s=12.5), source("s2", lag_s=0.4, name=""))))
    decision = only(engine.evaluate([LAG_10], 1))
    assert decision.scope == "source:s1"
    assert decision.explanation == (
        'twitch source "Main" delivers 12.5 s behind the platform; the rule fires at 10 s'
    )
    assert decision.data["lag_s"] == 12.5


def test_ingest_lag_just_under_the_threshold_is_quiet() -> None:
    engine = DetectorEngine()
    engine.observe(snap(1, sources=(source(lag_s=9.99),)))
    assert "delivers 9.9 s behind" in quiet(engine, LAG_10, 1).explanation
    # A reconnecting source's lag is stale news: not judged.
    engine.observe(snap(2, sources=(source(state="reconnecting", lag_s=50),)))
    assert engine.diagnose([LAG_10], 2) == []


# -- cue_overrun --
OVERRUN_60 = Rule("segment-overrun", "cue_overrun", {"over_s": 60})


def test_a_cue_over_by_over_s_fires_in_its_own_scope() -> None:
    engine = DetectorEngine()
    engine.observe(snap(1, overruns=(CueOverrun("c1", "Keynote", 600, 95),)))
    decision = only(engine.evaluate([OVERRUN_60], 1))
    assert decision.scope == "cue:c1"
    assert decision.explanation == (
        'cue "Keynote" has run 95 s past its planned 10 min; the rule fires at 60 s over'
    )
    assert decision.data["over_s"] == 95


def test_a_cue_59_s_over_does_not_fire_a_60_s_rule() -> None:
    engine = DetectorEngine()
    engine.observe(snap(1, overruns=(CueOverrun("c1", "Keynote", 600, 59),)))
    assert "has run 59 s past" in quiet(engine, OVERRUN_60, 1).explanation


# -- question_backlog --
BACKLOG = Rule("question-backlog", "question_backlog", {"pending_gt": 30, "oldest_s": 300})


def test_question_backlog_fires_on_the_count_or_the_age() -> None:
    engine = DetectorEngine()
    engine.observe(snap(1, questions_pending=42, oldest_pending_s=365))
    decision = only(engine.evaluate([BACKLOG], 1))
    assert decision.explanation == (
        "42 questions pending, the oldest waiting 6 min 5 s; "
        "the rule fires above 30 pending or at 5 min waiting"
    )
    age_only = Rule("old-question", "question_backlog", {"pending_gt": None, "oldest_s": 300})
    engine.observe(snap(2, questions_pending=2, oldest_pending_s=300))
    assert only(engine.evaluate([age_only], 2)).data["oldest_pending_s"] == 300


def test_question_backlog_at_the_limit_is_quiet() -> None:
    engine = DetectorEngine()
    engine.observe(snap(1, questions_pending=30, oldest_pending_s=299.5))
    assert quiet(engine, BACKLOG, 1).explanation == (
        "30 questions pending, the oldest waiting 4 min 59 s; "
        "the rule fires above 30 pending or at 5 min waiting"
    )
    engine.observe(snap(2))
    assert quiet(engine, BACKLOG, 2).explanation.startswith("no question pending;")


# -- engagement_drop --
ENGAGEMENT = Rule(
    "engagement-drop", "engagement_drop", {"per_100_viewers_per_min_lt": 2}, window_s=300
)


def engaged(now: float, interactions: float, viewers_total: int = 1500) -> EventSignals:
    return snap(
        now,
        viewers={"twitch": viewers_total},
        viewers_total=viewers_total,
        interactions_last_min=interactions,
    )


def test_engagement_below_the_floor_for_the_whole_window_fires() -> None:
    engine = DetectorEngine()
    feed(engine, range(301), lambda t: engaged(t, 12))
    decision = only(engine.evaluate([ENGAGEMENT], 300))
    assert decision.explanation == (
        "engagement is 0.8 interactions per 100 viewers per minute (12 from 1,500 viewers), "
        "below the floor of 2 for 5 min; the rule fires after 5 min below"
    )
    assert decision.data["per_100_viewers_per_min"] == 0.8


def test_engagement_that_recovered_within_the_window_is_quiet() -> None:
    engine = DetectorEngine()
    feed(engine, range(301), lambda t: engaged(t, 45 if t == 150 else 12))  # 3 per 100 once
    assert "below the floor of 2 for 2 min 29 s" in quiet(engine, ENGAGEMENT, 300).explanation
    # A small audience is not judged at all.
    engine = DetectorEngine()
    feed(engine, range(301), lambda t: engaged(t, 0, viewers_total=49))
    assert engine.evaluate([ENGAGEMENT], 300) == []
    assert engine.diagnose([ENGAGEMENT], 300) == []


# -- manual --
def test_manual_entries_never_fire() -> None:
    engine = DetectorEngine()
    engine.observe(snap(1, questions_pending=10_000, sources=(source(state="failed"),)))
    assert engine.evaluate([Rule("speaker-late", "manual", window_s=0)], 1) == []


# -- cooldown, modes, events --
def test_cooldown_keeps_a_rule_and_scope_quiet_then_lets_it_fire_again() -> None:
    rule = Rule("question-backlog", "question_backlog", {"pending_gt": 5}, cooldown_s=120)
    engine = DetectorEngine()
    fired = []
    for t in range(0, 250, 10):
        engine.observe(snap(t, questions_pending=9))
        fired += [d.at for d in engine.evaluate([rule], t)]
    assert fired == [0, 120, 240]
    assert engine.last_fired(EVENT, rule, "total") == 240


def test_cooldown_is_per_scope() -> None:
    engine = DetectorEngine()
    engine.observe(snap(1, overruns=(CueOverrun("c1", "A", 60, 90),)))
    assert [d.scope for d in engine.evaluate([OVERRUN_60], 1)] == ["cue:c1"]
    both = (CueOverrun("c1", "A", 60, 91), CueOverrun("c2", "B", 60, 90))
    engine.observe(snap(2, overruns=both))
    assert [d.scope for d in engine.evaluate([OVERRUN_60], 2)] == ["cue:c2"]


@pytest.mark.parametrize("mode", ["open_incident", "suggest", "monitor"])
def test_every_mode_but_off_is_evaluated_and_returned_with_its_mode(mode: str) -> None:
    rule = Rule("question-backlog", "question_backlog", {"pending_gt": 5}, mode=mode)
    engine = DetectorEngine()
    engine.observe(snap(1, questions_pending=9))
    decision = only(engine.evaluate([rule], 1))
    assert decision.mode == mode
    assert decision.severity == "sev3"


def test_mode_off_is_never_evaluated() -> None:
    rule = Rule("question-backlog", "question_backlog", {"pending_gt": 5}, mode="off")
    engine = DetectorEngine()
    engine.observe(snap(1, questions_pending=9))
    assert engine.evaluate([rule], 1) == []
    assert engine.diagnose([rule], 1) == []
    assert engine.last_fired(EVENT, rule, "total") is None


def test_events_are_judged_apart() -> None:
    rule = Rule("question-backlog", "question_backlog", {"pending_gt": 5})
    engine = DetectorEngine()
    engine.observe(snap(1, questions_pending=9))
    engine.observe(snap(1, event_id="e2", questions_pending=1))
    engine.observe(snap(1, event_id="e3", questions_pending=7))
    assert [d.event_id for d in engine.evaluate([rule], 1)] == ["e1", "e3"]
    engine.observe(snap(2, event_id="e2", questions_pending=9))
    assert [d.event_id for d in engine.evaluate([rule], 2, event_id="e2")] == ["e2"]
    assert engine.evaluate([rule], 2, event_id="unknown") == []
    engine.forget("e2")
    assert engine.samples("e2") == ()


# -- memory --
def test_history_keeps_only_what_the_rules_look_back_over() -> None:
    engine = DetectorEngine()
    for t in range(5000):
        engine.observe(viewers(t, twitch=100))
    # Before any rule is known: the default retention (900 s).
    assert len(engine.samples(EVENT)) == 901
    engine.evaluate([VIEWERS_30], 4999)
    assert len(engine.samples(EVENT)) == 71  # 60 s window + 10 s slack, both ends
    for t in range(5000, 6000):
        engine.observe(viewers(t, twitch=100))
        engine.evaluate([VIEWERS_30, RAID], t)
    # The raid's baseline reaches 300 s before the last minute.
    assert len(engine.samples(EVENT)) == 371
    assert engine.samples(EVENT)[0].now == 5999 - 370


def test_cooldown_memory_is_dropped_once_it_has_run_out() -> None:
    rule = Rule("question-backlog", "question_backlog", {"pending_gt": 5}, cooldown_s=60)
    engine = DetectorEngine()
    engine.observe(snap(0, questions_pending=9))
    assert engine.evaluate([rule], 0)
    engine.observe(snap(61, questions_pending=0))
    assert engine.evaluate([rule], 61) == []
    assert engine.last_fired(EVENT, rule, "total") is None


def test_late_and_repeated_snapshots_keep_the_history_in_order() -> None:
    engine = DetectorEngine()
    engine.observe(viewers(10, twitch=100))
    engine.observe(viewers(5, twitch=999))  # late: dropped
    engine.observe(viewers(10, twitch=120))  # same time: replaces
    assert [(s.now, s.viewers_total) for s in engine.samples(EVENT)] == [(10, 120)]


# -- rules --
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"signal": "viewer_drop", "condition": {}}, "unknown signal 'viewer_drop'"),
        ({"signal": "viewers_drop", "condition": {}}, "needs condition keys drop_pct"),
        (
            {"signal": "ingest_lag", "condition": {"lag_s": 5, "lag": 3}},
            "does not know condition keys lag",
        ),
        ({"signal": "question_backlog", "condition": {"oldest_s": None}}, "pending_gt, oldest_s"),
        ({"signal": "ingest_lag", "condition": {"lag_s": -1}}, "a number ≥ 0"),
        ({"signal": "ingest_lag", "condition": {"lag_s": 5}, "mode": "loud"}, "unknown mode"),
        (
            {"signal": "viewers_drop", "condition": {"drop_pct": 5}, "scope": "per_source"},
            "counted per platform",
        ),
        (
            {"signal": "chat_raid", "condition": {"rate_factor": 5, "duplicate_ratio": 60}},
            "between 0 and 1",
        ),
    ],
)
def test_a_rule_the_engine_cannot_judge_is_refused_with_the_reason(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Rule("entry", **fields)
