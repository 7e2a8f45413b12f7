"""A console write's database round trips are its latency on a database busy storing the
audience's chat (each one waits its turn there): the triage path keeps to a budget."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import event as sa_event

from tests.conftest import Seeded, Stack
from tests.questions.helpers import make_questions, url

# Who is calling and their role (1), the question (1), the conditional UPDATE (1),
# the audit row (1), the idempotency key (1); the commit comes on top.
TRANSITION_BUDGET = 5


async def test_a_triage_transition_keeps_to_its_round_trip_budget(
    stack: Stack, seeded: Seeded, clients: tuple[httpx.AsyncClient, ...]
) -> None:
    mod, _ = clients
    (qid,) = await make_questions(stack, seeded, 1)
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]).split(None, 3)[0])

    sa_event.listen(stack.db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        resp = await mod.post(
            url(seeded, qid, "/transition"),
            json={"to": "approved", "version": 1},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
    finally:
        sa_event.remove(stack.db.engine.sync_engine, "before_cursor_execute", seen)
    assert resp.status_code == 200, resp.text
    assert len(statements) <= TRANSITION_BUDGET, statements
    assert "UPDATE" in statements
