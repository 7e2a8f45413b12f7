"""The incident lifecycle as data: which moves are allowed and which milestones they stamp.

triage → acknowledged → mitigating → monitoring → resolved → closed, and cancelled from
any open state. A move may skip ahead (an alert acknowledged and resolved in one go);
monitoring may fall back to mitigating (it came back), and a resolved incident may be
reopened into mitigating. Every milestone is stamped the first time it is reached, and
reaching a later one stamps the earlier ones that were skipped, at the same instant, so
the metrics never see a resolved incident that was never acknowledged.
"""

from __future__ import annotations

from app.incidents.models import IncidentState as S
from app.playbooks.schemas import severity_rank

ALLOWED: dict[S, frozenset[S]] = {
    S.triage: frozenset({S.acknowledged, S.mitigating, S.monitoring, S.resolved, S.cancelled}),
    S.acknowledged: frozenset({S.mitigating, S.monitoring, S.resolved, S.cancelled}),
    S.mitigating: frozenset({S.monitoring, S.resolved, S.cancelled}),
    S.monitoring: frozenset({S.mitigating, S.resolved, S.cancelled}),
    S.resolved: frozenset({S.closed, S.mitigating}),
    S.closed: frozenset(),
    S.cancelled: frozenset(),
}

# Milestones in the order an incident reaches them, with the states that reach each.
MILESTONES: tuple[tuple[str, frozenset[S]], ...] = (
    ("acknowledged_at", frozenset({S.acknowledged, S.mitigating, S.monitoring, S.resolved})),
    ("mitigated_at", frozenset({S.monitoring, S.resolved})),
    ("resolved_at", frozenset({S.resolved})),
    ("closed_at", frozenset({S.closed})),
)


def stamps(to: S) -> list[str]:
    """The milestone columns reaching `to` stamps (those not yet set keep the first time)."""
    reached = [name for name, states in MILESTONES if to in states]
    if not reached:
        return []
    last = [name for name, _ in MILESTONES].index(reached[-1])
    # Closing stamps closed only: a cancelled-then-… path never gets here, and a
    # resolved incident has its earlier milestones already.
    return [name for name, _ in MILESTONES[: last + 1]] if to != S.closed else ["closed_at"]


def worse(a: str, b: str) -> bool:
    """True if severity a is worse than b."""
    return severity_rank(a) < severity_rank(b)
