"""Each KPI of the report on a scenario replayed through the pipeline, with known answers
(the table in tests/reports/scenario.py; every expected number is worked out here)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.presence.models import PresenceEvent
from app.reports import figures
from tests.conftest import Seeded, Stack
from tests.reports.scenario import Played, at, play

Report = tuple[Played, dict[str, Any]]


def iso(seconds: float) -> str:
    return at(seconds).isoformat().replace("+00:00", "Z")


def fired(report: dict[str, Any], section: str) -> set[str]:
    return {r["id"] for r in report[section] if r["fired"]}


@pytest.fixture
async def played(stack: Stack, seeded: Seeded) -> Report:
    found = await play(stack, seeded)
    async with stack.db.sessions() as session:
        return found, await figures.build(session, seeded.event.id)


async def test_viewers_peak_and_average(played: Report) -> None:
    viewers = played[1]["kpis"]["viewers"]
    assert viewers["peak"] == {"total": 300, "by_platform": {"twitch": 180, "youtube": 120}}
    assert viewers["peak_at"]["total"] == iso(120)
    # (100 + 200 + 300 + 250 + 200 + 200) / 6 = 208.33; twitch 750 / 6; youtube 500 / 6
    assert viewers["average"] == {"total": 208.33, "by_platform": {"twitch": 125, "youtube": 83.33}}
    assert viewers["viewer_minutes"] == {
        "total": 1250,
        "by_platform": {"twitch": 750, "youtube": 500},
    }
    assert viewers["minutes_sampled"] == 6
    assert played[1]["window"] == {"start": iso(0), "end": iso(360), "minutes": 6}


async def test_unique_participants(played: Report) -> None:
    people = played[1]["kpis"]["participants"]
    # twitch: chatters t1..t4; t1 asked; voters t1, t2, t9 (poll) and t2, t3, t8 (upvotes)
    assert people["by_platform"]["twitch"] == {
        "participants": 6,  # t1 t2 t3 t4 t8 t9
        "chatters": 4,
        "askers": 1,
        "voters": 5,  # t1 t2 t3 t8 t9
    }
    assert people["by_platform"]["youtube"] == {
        "participants": 3,
        "chatters": 3,
        "askers": 0,
        "voters": 1,
    }
    assert people["by_platform"]["qa"] == {
        "participants": 2,
        "chatters": 0,
        "askers": 2,
        "voters": 0,
    }
    assert (people["total"], people["chatters"], people["askers"], people["voters"]) == (
        11,
        7,
        3,
        6,
    )


async def test_interactions_and_engagement_rate(played: Report) -> None:
    kpis = played[1]["kpis"]
    # 28 lines, less the one that is a question and the one a moderator hid: 26 chat.
    assert kpis["messages"] == {
        "total": 28,
        "hidden": 1,
        "by_platform": {"twitch": 18, "youtube": 10},
    }
    by_type = {"chat": 26, "questions": 3, "poll_votes": 4, "upvotes": 3}
    assert kpis["interactions"]["by_type"] == by_type
    assert kpis["interactions"]["total"] == 36
    assert kpis["interactions"]["by_platform"]["twitch"] == {
        "chat": 17,
        "questions": 1,
        "poll_votes": 3,
        "upvotes": 3,
        "total": 24,
    }
    # interactions x 100 / viewer-minutes: 36 x 100 / 1250; twitch 24 x 100 / 750;
    # youtube (9 chat + 1 vote) x 100 / 500
    assert kpis["engagement_rate"]["total"] == pytest.approx(36 * 100 / 1250)
    assert kpis["engagement_rate"]["by_platform"] == {
        "twitch": pytest.approx(24 * 100 / 750),
        "youtube": pytest.approx(10 * 100 / 500),
    }


async def test_watch_time_from_presence(stack: Stack, played: Report) -> None:
    report = played[1]
    async with stack.db.sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(PresenceEvent))
    assert stored == 11  # every join and leave the zoom source sent, the repeat included
    # z1 300 s, z2 60 + 60, z3 230 (the repeated join is the same visit), z4 90 (from
    # the window's start), z5 160 (to the window's end): 900 s over 5 viewers.
    assert report["kpis"]["watch_time"] == {
        "basis": "presence",
        "viewers": 5,
        "average_s": 180,
        "median_s": 160,  # sorted 90 120 160 230 300
    }
    retention = report["retention"]
    assert retention["platforms"] == ["zoom"]
    assert retention["total_s"] == 900
    assert retention["curve"]["rows"] == [
        [0, 1.0],
        [1, 1.0],
        [2, 0.8],  # z4 (90 s) is gone
        [3, 0.4],  # 230 and 300 s left
        [4, 0.2],
        [5, 0.2],
    ]


async def test_audience_curve_without_presence(stack: Stack, seeded: Seeded) -> None:
    """No presence records: the curve comes from viewer counts, and says so."""
    from app.pipeline import persist

    rows = [
        {
            "event_id": seeded.event.id,
            "metric": "viewers",
            "dimension": "twitch",
            "bucket_at": at(m * 60),
            "value": float(v),
        }
        for m, v in enumerate([50, 100, 80])
    ]
    async with stack.db.sessions() as session:
        await persist.upsert_metric_samples(session, rows)
        await session.commit()
        report = await figures.build(session, seeded.event.id)
    assert report["kpis"]["watch_time"]["basis"] == "viewer_counts"
    assert report["kpis"]["watch_time"]["average_s"] is None
    assert report["retention"]["basis"] == "viewer_counts"
    assert report["retention"]["curve"] == {
        "columns": ["minute", "viewers", "share_of_peak"],
        "rows": [[iso(0), 50, 0.5], [iso(60), 100, 1.0], [iso(120), 80, 0.8]],
    }


async def test_series_per_minute(played: Report) -> None:
    series = played[1]["series"]
    assert series["audience"] == {
        "columns": ["minute", "twitch", "youtube", "total"],
        "rows": [
            [iso(0), 60, 40, 100],
            [iso(60), 120, 80, 200],
            [iso(120), 180, 120, 300],
            [iso(180), 150, 100, 250],
            [iso(240), 120, 80, 200],
            [iso(300), 120, 80, 200],
        ],
    }
    assert [r[1:] for r in series["chat"]["rows"]] == [
        [2, 1, 3],
        [4, 2, 6],
        [6, 3, 9],
        [3, 2, 5],
        [2, 1, 3],
        [1, 1, 2],
    ]
    minute_2 = series["interactions"]["rows"][2]
    # chat 9 - 1 question; the question; 3 upvotes; 12 x 100 / 300 viewers
    assert minute_2 == [iso(120), 8, 1, 0, 3, 12, 300, 4.0]
    assert [r[1] for r in series["backlog"]["rows"]] == [0, 0, 1, 3, 3, 3]
    assert [r[1] for r in series["chatters"]["rows"]] == [3, 6, 7, 5, 3, 2]


async def test_segments_from_the_run_of_show(played: Report) -> None:
    segments = played[1]["segments"]
    assert [(s["title"], s["start"], s["end"]) for s in segments] == [
        ("Welcome", iso(0), iso(120)),
        ("Keynote", iso(120), iso(300)),
        ("Q&A", iso(300), iso(360)),
    ]
    welcome, keynote, qa = segments
    # Welcome: minutes 0-1, 150 viewers on average, 9 chat lines: 9 x 100 / (150 x 2)
    assert (welcome["average_viewers"], welcome["messages"]) == (150, 9)
    assert welcome["engagement_rate"] == pytest.approx(3.0)
    # Keynote: 15 chat + 3 questions + 4 votes + 3 upvotes over 3 min at 250 viewers
    assert keynote["interactions"] == {
        "chat": 15,
        "questions": 3,
        "poll_votes": 4,
        "upvotes": 3,
        "total": 25,
    }
    assert keynote["average_viewers"] == 250
    assert keynote["engagement_rate"] == pytest.approx(round(25 * 100 / (250 * 3), 3))
    assert keynote["overrun_s"] == 30  # planned 150 s, ran 180
    assert qa["engagement_rate"] == pytest.approx(2 * 100 / (200 * 1))
    assert [c["title"] for c in played[1]["markers"]["cues"]] == ["Welcome", "Keynote", "Q&A"]


async def test_a_live_cue_runs_to_the_end_of_the_window(stack: Stack, seeded: Seeded) -> None:
    await play(stack, seeded, finish=False)
    async with stack.db.sessions() as session:
        report = await figures.build(session, seeded.event.id)
    qa = report["segments"][2]
    assert (qa["title"], qa["state"], qa["ended"]) == ("Q&A", "live", False)
    assert (qa["start"], qa["end"], qa["minutes"]) == (iso(300), iso(360), 1)
    assert (qa["messages"], qa["interactions"]["total"]) == (2, 2)
    assert report["window"]["end"] == iso(360)


async def test_questions(played: Report) -> None:
    questions = played[1]["questions"]
    assert {k: questions[k] for k in ("received", "approved", "answered", "pending")} == {
        "received": 3,
        "approved": 2,
        "answered": 1,
        "pending": 1,
    }
    assert questions["by_platform"] == {"qa": 2, "twitch": 1}
    assert (questions["unanswered"], questions["unanswered_share"]) == (1, 0.5)
    assert questions["median_time_to_answer_s"] == 90
    top = questions["top"]
    assert (top[0]["id"], top[0]["votes"]) == (played[0].question_id, 3)
    assert len(top) == 3
    assert questions["backlog"] == {"samples": 6, "peak_pending": 3, "peak_at": iso(180)}


async def test_polls(played: Report) -> None:
    polls = played[1]["polls"]
    assert (polls["launched"], polls["not_launched"]) == (1, 0)
    poll = polls["items"][0]
    assert poll["id"] == played[0].poll_id
    assert (poll["opens_at"], poll["closes_at"]) == (iso(240), iso(330))
    # Open 4:00-5:30: samples of minutes 4 and 5, 200 viewers each; 4 voters / 200.
    assert (poll["voters"], poll["average_viewers"], poll["participation"]) == (4, 200, 0.02)
    assert [o["votes"] for o in poll["results"]["options"]] == [3, 1]
    assert poll["results"]["by_platform"] == {
        "twitch": {"voters": 3, "counts": [2, 1]},
        "youtube": {"voters": 1, "counts": [1, 0]},
    }


async def test_incidents_leave_drills_out(played: Report) -> None:
    incidents = played[1]["incidents"]
    assert (incidents["counted"], incidents["drills"]) == (1, 1)
    response = incidents["response"]["all"]["all"]
    assert response["detect"]["median_s"] == 30  # impact 2:50, detected 3:20
    assert response["acknowledge"]["median_s"] == 60
    assert response["resolve"]["median_s"] == 130
    markers = played[1]["markers"]["incidents"]
    assert [(m["id"], m["severity"]) for m in markers] == [(played[0].incident_id, "sev2")]


async def test_rules_on_the_scenario(played: Report) -> None:
    report = played[1]
    assert fired(report, "highlights") == {"peak_audience", "best_segment", "peak_chat_minute"}
    assert fired(report, "shortcomings") == {"audience_drop", "incidents"}
    assert fired(report, "recommendations") == {"review_audience_drops", "promote_polls"}
    drop = next(r for r in report["shortcomings"] if r["id"] == "audience_drop")
    assert drop["evidence"]["drops"] == [
        {
            "from_minute": iso(120),
            "to_minute": iso(240),
            "from_viewers": 300,
            "to_viewers": 200,
            "drop_share": 0.3333,
            "cue": {"cue_id": report["segments"][1]["cue_id"], "title": "Keynote"},
            "incidents": [1],
        }
    ]
    best = next(r for r in report["highlights"] if r["id"] == "best_segment")
    assert best["evidence"]["title"] == "Keynote"
    # Every rule is reported, fired or not, with its text and evidence.
    for section in ("highlights", "shortcomings", "recommendations"):
        for rule in report[section]:
            assert rule["rule"] and isinstance(rule["evidence"], dict)
            assert (rule["message"] is not None) == rule["fired"]


async def test_rehearsal_platform_is_left_out(stack: Stack, seeded: Seeded) -> None:
    """A drill's source (platform "drill") adds viewers and chat that are practice."""
    from app.events import service as events
    from app.pipeline import persist

    async with stack.db.sessions() as session:
        event = await session.get(type(seeded.event), seeded.event.id)
        drill = await events.add_source(
            session, event, "simulator", "Drill", config={"plays": "drill"}
        )
        rows = [
            {"event_id": event.id, "metric": "viewers", "dimension": d, "bucket_at": at(0),
             "value": v}
            for d, v in (("twitch", 10.0), ("drill", 400.0), ("total", 410.0))
        ]  # fmt: skip
        await persist.upsert_metric_samples(session, rows)
        await persist.insert_chat(
            session,
            [
                {
                    "id": f"{i:032x}",
                    "event_id": event.id,
                    "source_id": drill.id,
                    "platform": "drill",
                    "platform_message_id": f"d{i}",
                    "author_id": "x",
                    "author_name": "X",
                    "text": "practice",
                    "platform_at": at(i),
                    "received_at": at(i),
                }
                for i in range(5)
            ],
        )
        await session.commit()
        report = await figures.build(session, event.id)
    assert report["kpis"]["viewers"]["peak"] == {"total": 10, "by_platform": {"twitch": 10}}
    assert report["kpis"]["messages"]["total"] == 0
    assert report["kpis"]["participants"]["total"] == 0
