"""The pipeline worker: ingest stream -> dedupe, classify, persist -> live deltas.

At-least-once and idempotent: an entry is acknowledged only after its rows are
committed and its deltas published; a crash anywhere before that leaves it pending,
and the next worker reclaims it. The unique (source, platform message id)
constraints make the replay write nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select

from app.audit import service as audit
from app.bus import Bus, IngestEntry
from app.chat import service as chat
from app.chat.models import ChatMessage, ModerationAction
from app.cues import service as cues
from app.db import Database
from app.detectors import signals
from app.envelope import Envelope, Kind, message_row_id
from app.events.models import Source, SourceKind
from app.incidents import service as incidents
from app.incidents.detection import Detection
from app.moderation.engine import ChatInput
from app.moderation.live import EventRules, RuleCache
from app.pipeline import aggregates, persist
from app.pipeline.classify import is_question
from app.pipeline.deltas import Delta, chat_message_data, delta, question_data
from app.polls import native as native_polls
from app.polls import service as polls
from app.polls.chat_votes import parse_vote
from app.polls.live import OpenPollCache
from app.questions import service as questions
from app.questions.duplicates import DuplicateFinder
from app.questions.models import Question, QuestionState
from app.runtime import pause, stop_gracefully

log = logging.getLogger(__name__)

# Tags a question gets when an automatic rule acted on it (the reason is in the audit log).
AUTO_REJECTED = "auto-rejected"
AUTO_FLAGGED = "auto-flagged"


@dataclass
class WorkerStats:
    processed: int = 0
    inserted_chat: int = 0
    inserted_questions: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    reclaimed: int = 0
    batches: int = 0
    by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class PipelineWorker:
    def __init__(
        self,
        bus: Bus,
        db: Database,
        *,
        consumer: str | None = None,
        batch_size: int = 500,
        claim_idle_ms: int = 5_000,
        gauge_interval_s: float = 1.0,
        # How often changed poll results go out: live enough for a results bar, and
        # at most ten counts a second per poll however fast the votes come.
        results_interval_s: float = 0.1,
    ) -> None:
        self.bus = bus
        self.db = db
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{id(self):x}"
        self.batch_size = batch_size
        self.claim_idle_ms = claim_idle_ms
        self.gauge_interval_s = gauge_interval_s
        self.results_interval_s = results_interval_s
        self.stats = WorkerStats()
        self._stop = asyncio.Event()
        self._source_kinds: dict[str, dict[str, SourceKind]] = {}
        self._rules = RuleCache(db)
        self._duplicates = DuplicateFinder(db)
        self._open_polls = OpenPollCache(db)
        self.detection = Detection(db, bus)
        self._events: list[str] = []
        self._last_sample_minute: dict[str, int] = {}

    # -- loops --
    async def run(self) -> None:
        """Processes ingest and ticks gauges until cancelled.

        On cancel, each loop first gets a grace period to finish what it is doing
        (app/runtime.stop_gracefully says why).
        """
        loops = [
            asyncio.create_task(self._ingest_loop(), name="pipeline-ingest"),
            asyncio.create_task(self._gauge_loop(), name="pipeline-gauges"),
            asyncio.create_task(self._results_loop(), name="pipeline-results"),
        ]
        try:
            await asyncio.wait(loops, return_when=asyncio.FIRST_EXCEPTION)
            for loop in loops:
                if loop.done() and loop.exception() is not None:
                    raise loop.exception()  # type: ignore[misc]
        finally:
            await stop_gracefully(loops, self._stop)

    async def _pause(self, seconds: float) -> bool:
        return await pause(self._stop, seconds)

    async def _refresh_events(self) -> None:
        self._events = await self.bus.active_events()

    async def _ingest_loop(self) -> None:
        while not self._stop.is_set():
            try:
                await self._ingest_forever()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The bus or the database is away: keep the worker, retry shortly.
                log.exception("pipeline read failed; retrying")
                await asyncio.sleep(1.0)

    async def _ingest_forever(self) -> None:
        next_claim = 0.0
        next_refresh = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_refresh:
                await self._refresh_events()
                next_refresh = now + 1.0
            entries: list[IngestEntry] = []
            if now >= next_claim:
                entries = await self.bus.claim_stale_ingest(
                    self.consumer, self._events, self.claim_idle_ms, self.batch_size
                )
                self.stats.reclaimed += len(entries)
                # Keep draining while there is a backlog of stale entries.
                next_claim = now if entries else now + self.claim_idle_ms / 2000
            if not entries:
                entries = await self.bus.read_ingest(
                    self.consumer, self._events, self.batch_size, block_ms=200
                )
            if entries:
                try:
                    await self.process(entries)
                except Exception:
                    # Left pending: reclaimed and retried after claim_idle_ms.
                    log.exception("pipeline batch failed; it will be retried")
                    await asyncio.sleep(0.5)

    async def _gauge_loop(self) -> None:
        while True:
            if await self._pause(self.gauge_interval_s):
                return
            # One worker at a time closes timed-out polls and applies escalations: both
            # queries span every event, so one lease (one Redis round trip) covers them.
            try:
                leader = await self.bus.acquire_lease("global-ticks", self.consumer, 3_000)
            except Exception:
                log.exception("global-ticks lease failed")
                leader = False
            if leader:
                for tick in (self.tick_polls, self.tick_escalations):
                    try:
                        await tick()
                    except Exception:
                        log.exception("%s failed", tick.__name__)
            for event_id in list(self._events):
                try:
                    await self.tick_gauges(event_id)
                except Exception:
                    log.exception("gauge tick failed for %s", event_id)

    async def _results_loop(self) -> None:
        while True:
            if await self._pause(self.results_interval_s):
                return
            try:
                await self.tick_results()
            except Exception:
                log.exception("poll results tick failed")

    # -- one batch --
    async def process(self, entries: list[IngestEntry]) -> None:
        by_event: dict[str, list[IngestEntry]] = defaultdict(list)
        for entry in entries:
            by_event[entry.event_id].append(entry)
        # One event after another: each publishes as soon as its own rows are committed,
        # so the hub gets a steady flow rather than every event's deltas in one burst.
        for event_id, event_entries in by_event.items():
            await self._process_event(event_id, event_entries)
            await self.bus.ack_ingest(event_id, [e.entry_id for e in event_entries])
        self.stats.batches += 1

    async def _source_kind(self, event_id: str, source_id: str) -> SourceKind | None:
        kinds = self._source_kinds.get(event_id)
        if kinds is None or source_id not in kinds:
            async with self.db.sessions() as session:
                rows = await session.execute(
                    select(Source.id, Source.kind).where(Source.event_id == event_id)
                )
                kinds = {sid: SourceKind(kind) for sid, kind in rows.all()}
            self._source_kinds[event_id] = kinds
        return kinds.get(source_id)

    async def _dead_letter(
        self, event_id: str, payload: bytes, reason: str, source_id: str = ""
    ) -> None:
        self.stats.dead_letters += 1
        log.warning("dead-lettered input for event %s: %s", event_id, reason)
        await self.bus.add_dead_letter(event_id, payload, reason, source_id=source_id)

    async def _vote_target(self, event_id: str, env: Envelope, key: str) -> str | None:
        """The poll or question a vote is for; None (and dead-lettered) without it or a voter."""
        target = env.data.get(key)
        if isinstance(target, str) and target and env.author is not None:
            return target
        reason = f"vote without a {key} id or a voter"
        await self._dead_letter(event_id, env.to_json(), reason, env.source_id)
        return None

    async def _parse(self, event_id: str, entries: list[IngestEntry]) -> list[Envelope]:
        envelopes: list[Envelope] = []
        seen: set[tuple[str, str]] = set()
        for entry in entries:
            try:
                env = Envelope.from_json(entry.payload)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "envelope"
                await self._dead_letter(event_id, entry.payload, f"{where}: {first['msg']}")
                continue
            if env.event_id != event_id:
                await self._dead_letter(
                    event_id, entry.payload, "event_id does not match stream", env.source_id
                )
                continue
            if await self._source_kind(event_id, env.source_id) is None:
                await self._dead_letter(event_id, entry.payload, f"unknown source {env.source_id}")
                continue
            if env.kind in (Kind.chat, Kind.question) and not env.text:
                await self._dead_letter(
                    event_id, entry.payload, f"{env.kind} without text", env.source_id
                )
                continue
            if env.dedupe_key in seen:
                self.stats.duplicates += 1
                continue
            seen.add(env.dedupe_key)
            envelopes.append(env)
        return envelopes

    async def _process_event(self, event_id: str, entries: list[IngestEntry]) -> None:
        redelivered = any(e.redelivered for e in entries)
        envelopes = await self._parse(event_id, entries)
        self.stats.processed += len(entries)

        chat_rows: list[dict[str, Any]] = []
        question_rows: list[dict[str, Any]] = []
        viewers: dict[str, tuple[datetime, int]] = {}
        shares: dict[tuple[str, datetime], int] = {}  # (platform, minute) -> the most seen
        presence_rows: list[dict[str, Any]] = []
        other: list[Delta] = []
        results: list[Envelope] = []
        upvoted: dict[str, list[Envelope]] = defaultdict(list)  # question row id -> votes
        removals: list[Envelope] = []  # lines deleted or users cleared on the platform
        rules = await self._rules.get(event_id)
        open_poll = await self._open_polls.get(event_id)
        ballots: list[polls.Ballot] = []
        ballot_envs: list[Envelope] = []
        reports: list[native_polls.Report] = []  # platforms' own poll counts
        report_envs: list[Envelope] = []
        decided: list[tuple[dict[str, Any], list[str]]] = []  # rows a rule acted on, and which
        decided_questions: list[tuple[dict[str, Any], list[str], str | None]] = []
        for env in envelopes:
            self.stats.by_kind[env.kind.value] += 1
            if env.kind is Kind.chat:
                # _parse already checked the source, so its kind is cached.
                qa = self._source_kinds[event_id][env.source_id] is SourceKind.qa
                row = _chat_row(env, is_question=qa or is_question(env.text))
                if rules.engine is not None and (rule_ids := _moderate(row, env, rules)):
                    decided.append((row, rule_ids))
                chat_rows.append(row)
                # A vote line is counted and stays a chat line, shown like any other.
                if open_poll is not None and env.author is not None and env.text:
                    choices = parse_vote(env.text, open_poll.kind, open_poll.option_count)
                    if choices is not None:
                        ballots.append(_ballot(env, open_poll.id, choices))
                        ballot_envs.append(env)
                # A line held or hidden by a rule does not reach the host's queue.
                if row["is_question"] and not (row["held"] or row["hidden"]):
                    question_rows.append(_question_row(env))
            elif env.kind is Kind.question:
                # Questions sent as questions (the audience page, Q&A platforms) meet the
                # same automatic rules as chat: an open page is as easy to abuse.
                row = _question_row(env)
                if rules.engine is not None and (found := _moderate_question(row, env, rules)):
                    decided_questions.append((row, *found))
                question_rows.append(row)
            elif env.kind in (Kind.viewers, Kind.shares):
                count = env.data.get("count")
                if not isinstance(count, int) or count < 0:
                    why = f"{env.kind} without a count"
                    await self._dead_letter(event_id, env.to_json(), why, env.source_id)
                    continue
                if env.kind is Kind.shares:
                    key = (env.platform, env.platform_at.replace(second=0, microsecond=0))
                    shares[key] = max(count, shares.get(key, 0))
                    continue
                seen = viewers.get(env.platform)
                if seen is None or seen[0] <= env.platform_at:
                    viewers[env.platform] = (env.platform_at, count)
            elif env.kind is Kind.presence:
                if (presence_row := _presence_row(env)) is None:
                    await self._dead_letter(
                        event_id,
                        env.to_json(),
                        "presence without a viewer or a join/leave action",
                        env.source_id,
                    )
                    continue
                presence_rows.append(presence_row)
            elif env.kind is Kind.stream_state:
                other.append(delta("sources", "stream.state", _plain(env)))
                if env.data.get("event") in chat.PLATFORM_REMOVALS:
                    removals.append(env)
            elif env.kind is Kind.moderation_result:
                results.append(env)
            elif env.kind is Kind.vote and "poll" in env.data:
                # A native platform poll vote, or the audience page: {"poll", "choices"}.
                if (target := await self._vote_target(event_id, env, "poll")) is None:
                    continue
                ballots.append(_ballot(env, target, env.data.get("choices")))
                ballot_envs.append(env)
            elif env.kind is Kind.poll_tally:
                if (reason := native_polls.why_invalid(env.data)) is not None:
                    await self._dead_letter(event_id, env.to_json(), reason, env.source_id)
                    continue
                reports.append(_report(env))
                report_envs.append(env)
            elif env.kind is Kind.vote and "question" in env.data:
                # A platform's Q&A upvote.
                if (target := await self._vote_target(event_id, env, "question")) is None:
                    continue
                upvoted[message_row_id(env.source_id, target)].append(env)

        if question_rows:
            duplicates = await self._duplicates.for_event(event_id)
            for row in question_rows:
                suggestion = duplicates.suggest(row["id"], row["text"])
                if suggestion is not None:
                    row["duplicate_of_id"], row["duplicate_score"] = suggestion[0], suggestion[1]

        new_chat: set[str] = set()
        new_questions: set[str] = set()
        voted_data: list[dict[str, Any]] = []
        unknown: set[str] = set()
        held: set[str] = set()  # of those, lines a moderation rule held or hid
        removed: list[dict[str, Any]] = []
        voting = polls.VoteOutcome()
        tallied: list[str] = []
        tally_rejected: list[tuple[int, str]] = []
        if (
            chat_rows
            or question_rows
            or results
            or upvoted
            or removals
            or ballots
            or reports
            or presence_rows
            or shares
        ):
            async with self.db.sessions() as session:
                new_chat = await persist.insert_chat(session, chat_rows)
                await persist.insert_presence(session, presence_rows)
                await persist.upsert_metric_samples(
                    session, _share_samples(event_id, shares), keep_larger=True
                )
                for env in removals:  # after the insert: a deletion may ride with its line
                    lines = await chat.removed_on_platform(
                        session, event_id, env.source_id, env.data
                    )
                    removed += [chat.data(m) for m in lines]
                await audit.insert_rows(
                    session,
                    [_rule_audit(r, ids) for r, ids in decided if r["id"] in new_chat],
                )
                new_questions = await persist.insert_questions(session, question_rows)
                await audit.insert_rows(
                    session,
                    [
                        _question_rule_audit(r, ids, why)
                        for r, ids, why in decided_questions
                        if r["id"] in new_questions
                    ],
                )
                other += await _record_results(session, results)
                if upvoted:
                    votes = [
                        (qid, f"{env.platform}:{env.author.id}", env.ingest_at)
                        for qid, envs in upvoted.items()
                        for env in envs
                        if env.author is not None  # checked above; for the type checker
                    ]
                    voted, unknown = await questions.add_platform_votes(session, event_id, votes)
                    voted_data = [questions.data(q) for q in voted]
                    if unknown:  # the reason below tells a line a rule kept back apart
                        held = await _held_lines(session, unknown)
                voting = await polls.record_votes(session, event_id, ballots)
                tallied, tally_rejected = await native_polls.record(session, event_id, reports)
                await session.commit()
        for index, reason in voting.rejected:
            env = ballot_envs[index]
            await self._dead_letter(event_id, env.to_json(), f"poll vote: {reason}", env.source_id)
        for index, reason in tally_rejected:
            env = report_envs[index]
            await self._dead_letter(event_id, env.to_json(), reason, env.source_id)
        # An upvote can only follow its question: one for a question this event never
        # received, or whose line a rule kept out of the queue, is kept for ops, not
        # silently dropped; the reason tells the two apart.
        for question_id in sorted(unknown):
            reason = (
                f"upvote for a question a moderation rule held or hid ({question_id})"
                if question_id in held
                else f"upvote for a question this event does not have ({question_id})"
            )
            for env in upvoted[question_id]:
                await self._dead_letter(event_id, env.to_json(), reason, env.source_id)
        self.stats.inserted_chat += len(new_chat)
        self.stats.inserted_questions += len(new_questions)
        self.stats.duplicates += len(chat_rows) - len(new_chat)

        # A redelivered batch may have committed before its worker died, without
        # publishing: publish every row again (consoles are idempotent by id).
        deltas: list[Delta] = [
            delta("chat", "chat.message", chat_message_data(r))
            for r in chat_rows
            if redelivered or r["id"] in new_chat
        ]
        deltas += [
            delta("questions", "question.created", question_data(r))
            for r in question_rows
            if redelivered or r["id"] in new_questions
        ]
        deltas += [delta("questions", "question.updated", d) for d in voted_data]
        deltas += [delta("chat", "chat.updated", d) for d in removed]
        deltas += other

        # Consoles first: the counters below only feed the next gauge tick.
        if deltas:
            await self.bus.publish_live(event_id, deltas)
        await polls.mark_results(self.bus, event_id, sorted({*voting.touched, *tallied}))
        await self._record_activity(
            event_id,
            [r for r in chat_rows if r["id"] in new_chat],
            [r for r in question_rows if r["id"] in new_questions],
        )
        for platform, (_at, count) in viewers.items():
            await self.bus.set_viewers(event_id, platform, count)

    async def _record_activity(
        self, event_id: str, chat: list[dict[str, Any]], asked: list[dict[str, Any]]
    ) -> None:
        """Feeds the gauges' counters. Interactions are counted as the report counts them:
        a visible line that is not a question, and each question once (asked in chat or
        sent as one), so a hidden spam burst does not lift the engagement rate."""
        minute_of = aggregates.minute_of
        by_minute: dict[int, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
        interactions: Counter[int] = Counter()
        for row in chat:
            minute = minute_of(row["received_at"].timestamp())
            authors, texts = by_minute[minute]
            authors.append(row["author_id"])
            texts.append(signals.text_key(row["text"]))
            if not (row["hidden"] or row["is_question"]):
                interactions[minute] += 1
        for row in asked:
            interactions[minute_of(row["received_at"].timestamp())] += 1
        for minute in sorted(by_minute.keys() | interactions.keys()):
            authors, texts = by_minute.get(minute, ([], []))
            await self.bus.record_activity(
                event_id, minute, len(authors), authors, texts, interactions=interactions[minute]
            )

    # -- poll timers --
    async def tick_polls(self, now: datetime | None = None) -> None:
        """Closes polls whose timer ran out (any worker may; the version lets one win)."""
        async with self.db.sessions() as session:
            closed = await polls.close_due(session, now)
            if closed:
                await session.commit()
        for change in closed:
            self._open_polls.forget(change.event_id)
            await change.publish(self.bus)

    # -- incidents --
    async def tick_escalations(self, now: datetime | None = None) -> None:
        """Applies the escalation rules that came due on unacknowledged incidents."""
        async with self.db.sessions() as session:
            changes = await incidents.escalate_due(session, now or datetime.now(UTC))
            if changes:
                await session.commit()
        for change in changes:
            await change.publish(self.bus)

    async def tick_results(self) -> None:
        """Publishes the results of polls whose votes changed (one worker at a time)."""
        if await self.bus.acquire_lease("poll-results", self.consumer, 2_000):
            async with self.db.sessions() as session:
                await polls.publish_marked_results(session, self.bus)

    # -- gauges --
    async def tick_gauges(self, event_id: str, now: float | None = None) -> None:
        """Publishes the event's gauges (one worker per event holds the ticker lease)."""
        if not await self.bus.acquire_lease(f"gauges:{event_id}", self.consumer, 3_000):
            return
        now = time.time() if now is None else now
        async with self.db.sessions() as session:
            pending = await session.scalar(
                select(func.count())
                .select_from(Question)
                .where(Question.event_id == event_id, Question.state == QuestionState.pending)
            )
        gauges = await aggregates.compute_gauges(
            self.bus, event_id, questions_pending=int(pending or 0), now=now
        )
        await self.bus.publish_live(event_id, [delta("gauges", "gauges.update", gauges)])
        # The run-of-show's overruns ride the same lease: flagged once, by one worker.
        await cues.flag_overruns(self.db, self.bus, event_id, datetime.fromtimestamp(now, UTC))
        # So do the playbook's detectors: one history per event, on one worker.
        try:
            await self.detection.tick(event_id, now)
        except Exception:
            log.exception("detectors failed for %s", event_id)

        minute = aggregates.minute_of(now)
        last = self._last_sample_minute.get(event_id)
        if last != minute or int(now) % 5 == 0:
            backlog = int(pending or 0)
            rows = await aggregates.minute_samples(
                self.bus, event_id, minute, questions_pending=backlog
            )
            # Close the minute that just ended (on a first tick: the one before now).
            closing = minute - 1 if last is None else last
            if closing != minute:
                rows += await aggregates.minute_samples(
                    self.bus, event_id, closing, questions_pending=backlog
                )
            async with self.db.sessions() as session:
                await persist.upsert_metric_samples(session, rows)
                await session.commit()
            self._last_sample_minute[event_id] = minute


def _author(env: Envelope) -> tuple[str, str]:
    if env.author is None:
        return "anonymous", "Anonymous"
    return env.author.id, env.author.name or env.author.id


def _message_row(env: Envelope) -> dict[str, Any]:
    """The columns a chat line and a question share (PlatformMessageColumns)."""
    author_id, author_name = _author(env)
    return {
        "id": env.row_id,
        "event_id": env.event_id,
        "source_id": env.source_id,
        "platform": env.platform,
        "platform_message_id": env.platform_message_id,
        "author_id": author_id,
        "author_name": author_name,
        "text": env.text or "",
        "platform_at": env.platform_at,
        "received_at": env.ingest_at,
        "created_at": datetime.now(UTC),
    }


def _presence_row(env: Envelope) -> dict[str, Any] | None:
    """A join or leave as stored for watch time; None when it names no viewer or action.

    Stored in the platform's time order whatever order it arrives in (Zoom marks an
    out-of-order one `stale` for its headcount; pairing by time makes it right here).
    """
    action = env.data.get("action")
    if env.author is None or action not in ("join", "leave"):
        return None
    return {
        "id": env.row_id,
        "event_id": env.event_id,
        "source_id": env.source_id,
        "platform": env.platform,
        "viewer_id": env.author.id,
        "action": action,
        "at": env.platform_at,
        "received_at": env.ingest_at,
    }


def _chat_row(env: Envelope, *, is_question: bool) -> dict[str, Any]:
    return {
        **_message_row(env),
        "truncated": env.truncated,
        "is_question": is_question,
        "hidden": False,
        "held": False,
        "flagged": False,
        "moderation_reason": None,
    }


def _moderate(row: dict[str, Any], env: Envelope, rules: EventRules) -> list[str]:
    """Applies the event's automatic rules to a chat row; returns the rules that acted."""
    assert rules.engine is not None
    roles = env.author.roles if env.author else ()
    decision = rules.engine.decide(
        ChatInput(row["author_id"], roles, row["text"], rules.first_time(row["author_id"])),
        now=env.ingest_at.timestamp(),
    )
    if decision.action != "allow":
        row["hidden"], row["held"], row["flagged"] = (
            decision.hidden,
            decision.held,
            decision.flagged,
        )
        row["moderation_reason"] = decision.reason
        return decision.rule_ids
    return []


def _moderate_question(
    row: dict[str, Any], env: Envelope, rules: EventRules
) -> tuple[list[str], str | None] | None:
    """The chat rules on a question: what they would hide is filed rejected, what they
    would hold or flag waits in the queue tagged for a closer look. (rules, reason)."""
    probe = _chat_row(env, is_question=True)
    rule_ids = _moderate(probe, env, rules)
    if not rule_ids:
        return None
    if probe["hidden"]:
        row["state"] = QuestionState.rejected.value
    row["tags"] = [AUTO_REJECTED if probe["hidden"] else AUTO_FLAGGED]
    return rule_ids, probe["moderation_reason"]


def _question_rule_audit(
    row: dict[str, Any], rule_ids: list[str], reason: str | None
) -> dict[str, Any]:
    entry = audit.row(
        event_id=row["event_id"],
        actor="rule:" + ",".join(rule_ids),
        action="auto_reject" if row["state"] == QuestionState.rejected.value else "auto_flag",
        target_type="question",
        target_id=row["id"],
        after={"reason": reason},
    )
    return {**entry, "created_at": row["created_at"]}


def _rule_audit(row: dict[str, Any], rule_ids: list[str]) -> dict[str, Any]:
    """The audit row of an automatic decision: the rule is the actor."""
    entry = audit.row(
        event_id=row["event_id"],
        actor="rule:" + ",".join(rule_ids),
        action="auto_hide" if row["hidden"] else "auto_hold" if row["held"] else "auto_flag",
        target_type="chat_message",
        target_id=row["id"],
        after={"reason": row["moderation_reason"]},
    )
    return {**entry, "created_at": row["created_at"]}


def _ballot(env: Envelope, poll: str, choices: Any) -> polls.Ballot:
    author_id, _ = _author(env)
    return polls.Ballot(
        poll=poll,
        voter=f"{env.platform}:{author_id}",
        platform=env.platform,
        source_id=env.source_id,
        choices=choices,
        received_at=env.ingest_at,
    )


async def _held_lines(session: Any, ids: set[str]) -> set[str]:
    """Which of these chat line ids a moderation rule held or hid."""
    found = await session.scalars(
        select(ChatMessage.id).where(
            ChatMessage.id.in_(ids), ChatMessage.held.is_(True) | ChatMessage.hidden.is_(True)
        )
    )
    return set(found)


def _share_samples(event_id: str, shares: dict[tuple[str, datetime], int]) -> list[dict[str, Any]]:
    """A platform's running share count as the report reads it: the most seen per minute."""
    return [
        {
            "event_id": event_id,
            "metric": "shares",
            "dimension": platform,
            "bucket_at": minute,
            "value": float(count),
        }
        for (platform, minute), count in shares.items()
    ]


def _question_row(env: Envelope) -> dict[str, Any]:
    row = _message_row(env)
    return {
        **row,
        "state": QuestionState.pending.value,
        "votes": int(env.data.get("votes", 0) or 0),
        "tags": [],
        # The audience page's "ask anonymously": the row itself never shows the name.
        "anonymous": env.data.get("anonymous") is True,
        "version": 1,
        "duplicate_of_id": None,
        "duplicate_score": None,
        "updated_at": row["created_at"],
    }


async def _record_results(session: Any, results: list[Envelope]) -> list[Delta]:
    """Stores each platform answer on its action; the deltas say what became of it."""
    if not results:
        return []
    ids = {str(env.data.get("action_id")) for env in results}
    found = await session.scalars(select(ModerationAction).where(ModerationAction.id.in_(ids)))
    actions = {a.id: a for a in found}
    out: list[Delta] = []
    for env in results:
        action = actions.get(str(env.data.get("action_id")))
        if action is None:  # an action this store never issued: show it as it came
            out.append(delta("chat", "moderation.result", _plain(env)))
            continue
        action.status = str(env.data.get("status") or "failed")
        action.reason = env.data.get("reason")
        action.completed_at = env.ingest_at
        out.append(delta("chat", "moderation.result", chat.action_data(action)))
    return out


def _report(env: Envelope) -> native_polls.Report:
    data = env.data  # checked by native_polls.why_invalid
    return native_polls.Report(
        poll=data["poll"],
        source_id=env.source_id,
        platform=env.platform,
        platform_poll=data["platform_poll"],
        counts=list(data["counts"]),
        final=data["final"],
        reported_at=env.platform_at,
    )


def _plain(env: Envelope) -> dict[str, Any]:
    return {
        "id": env.row_id,
        "source_id": env.source_id,
        "platform": env.platform,
        "platform_at": env.platform_at,
        **env.data,
    }
