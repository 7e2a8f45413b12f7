"""The playbook's detection rules run on each event's signals, and what they decide.

Runs on the worker holding the event's gauges lease, once a gauge tick. A rule in
`open_incident` mode opens an incident for its entry (the entry is a suggestion the
operator confirms or corrects); one open incident per signal and scope, so a second
firing while it is open is recorded as deduplicated. `suggest` and `monitor` decisions
are recorded (DetectorSignal) and suggestions sent to consoles as `signal.detected`.
While a drill runs on the event, everything it opens or records is marked a drill.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from app.bus import Bus
from app.db import Database, new_id
from app.detectors import signals
from app.detectors.engine import Decision, DetectorEngine, Rule
from app.drills import service as drills
from app.incidents import playbook_link, service
from app.incidents.models import DetectorSignal
from app.pipeline.deltas import Delta, delta

log = logging.getLogger(__name__)

RULES_REFRESH_S = 5.0  # how soon an imported playbook's rules reach the detectors


def rules_of(entries: list[dict[str, Any]]) -> list[Rule]:
    """Every detection spec of every entry as a rule (one the engine cannot judge is
    logged and left out, not allowed to stop the others)."""
    rules = []
    for entry in entries:
        for spec in entry.get("detection") or []:
            try:
                rules.append(
                    Rule(
                        entry_slug=entry["slug"],
                        signal=spec["signal"],
                        condition=spec.get("condition") or {},
                        window_s=float(spec.get("window_s") or 0),
                        cooldown_s=float(spec.get("cooldown_s") or 0),
                        mode=spec.get("mode") or "open_incident",
                        scope=spec.get("scope"),
                        severity=entry.get("default_severity") or "sev3",
                    )
                )
            except (ValueError, KeyError) as exc:
                log.warning("detection rule of %s left out: %s", entry.get("slug"), exc)
    return rules


class Detection:
    def __init__(self, db: Database, bus: Bus) -> None:
        self.db, self.bus = db, bus
        self.engine = DetectorEngine()
        self._loaded_at = -RULES_REFRESH_S
        self._version = 0
        self._entries: dict[str, dict[str, Any]] = {}
        self._rules: list[Rule] = []

    async def _refresh(self) -> None:
        if time.monotonic() - self._loaded_at < RULES_REFRESH_S:
            return
        async with self.db.sessions() as session:
            version, entries = await playbook_link.active(session)
        if version != self._version:
            self._version = version
            self._entries = {e["slug"]: e for e in entries}
            self._rules = [r for r in rules_of(entries) if r.signal != "manual"]
        self._loaded_at = time.monotonic()

    async def tick(self, event_id: str, now: float) -> list[Decision]:
        """Observes the event once and acts on what fires; returns the decisions."""
        await self._refresh()
        if not self._rules:
            return []
        self.engine.observe(await signals.collect(self.db, self.bus, event_id, now))
        decisions = self.engine.evaluate(self._rules, now, event_id=event_id)
        if decisions:
            await self.act(event_id, decisions)
        return decisions

    async def act(self, event_id: str, decisions: list[Decision]) -> None:
        at = datetime.fromtimestamp(decisions[0].at, UTC)
        drill = await drills.current(self.bus, event_id, at) is not None
        changes: list[service.Change] = []
        recorded: list[DetectorSignal] = []
        async with self.db.sessions() as session:
            for decision in decisions:
                outcome, incident_id = decision.mode, None
                if decision.mode == "open_incident":
                    try:
                        change = await service.open_incident(
                            session,
                            event_id,
                            actor=f"detector:{decision.signal}",
                            now=at,
                            entry=self._entries.get(decision.entry_slug),
                            playbook_version=self._version,
                            severity=decision.severity,
                            signal=decision.signal,
                            scope=decision.scope,
                            explanation=decision.explanation,
                            detection=decision.data,
                            drill=drill,
                            impact_started_at=_impact_start(decision),
                            confirmed=False,
                        )
                    except service.AlreadyOpen as exc:
                        outcome = "deduplicated"
                        incident_id = exc.extra["current"]["id"]
                    else:
                        changes.append(change)
                        continue
                row = DetectorSignal(
                    id=new_id(),
                    event_id=event_id,
                    at=at,
                    signal=decision.signal,
                    scope=decision.scope,
                    entry_slug=decision.entry_slug,
                    mode=decision.mode,
                    outcome={"suggest": "suggested", "monitor": "monitored"}.get(outcome, outcome),
                    explanation=decision.explanation,
                    data=decision.data,
                    incident_id=incident_id,
                    drill=drill,
                )
                session.add(row)
                recorded.append(row)
            await session.commit()
        for change in changes:
            await change.publish(self.bus)
        suggested: list[Delta] = [
            delta("incidents", "signal.detected", service.signal_data(r))
            for r in recorded
            if r.mode == "suggest"
        ]
        if suggested:
            await self.bus.publish_live(event_id, suggested, urgent=True)


def _impact_start(decision: Decision) -> datetime | None:
    """When the trouble began, where the detector can tell (a drop's peak, a source's
    last event); otherwise unknown, and time to detect is not measured for it."""
    data = decision.data
    if isinstance(peak_at := data.get("peak_at"), int | float):  # a drop began after it
        return datetime.fromtimestamp(peak_at, UTC)
    if isinstance(quiet := data.get("since_last_event_s"), int | float):
        return datetime.fromtimestamp(decision.at - quiet, UTC)
    return None
