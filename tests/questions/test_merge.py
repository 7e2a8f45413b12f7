"""Merging duplicates: every asker stays, each voter counts once, and it can be undone."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from app.questions import repository, service
from tests.conftest import Seeded, Stack
from tests.questions.helpers import make_questions, url


async def vote(stack: Stack, seeded: Seeded, qid: str, *voters: str) -> None:
    async with stack.db.sessions() as session:
        await service.add_platform_votes(
            session, seeded.event.id, [(qid, v, datetime.now(UTC)) for v in voters]
        )
        await session.commit()


async def test_merge_counts_each_voter_once_keeps_askers_and_undoes(
    stack: Stack,
    seeded: Seeded,
    clients: tuple[httpx.AsyncClient, ...],
) -> None:
    mod, _ = clients
    a, b, c = await make_questions(stack, seeded, 3)
    await vote(stack, seeded, a, "twitch:1", "twitch:2", "youtube:9")
    await vote(stack, seeded, b, "twitch:2", "zoom:5")  # twitch:2 voted on both
    await vote(stack, seeded, b, "zoom:5")  # the same voter again: no change

    merged = await mod.post(url(seeded, b, "/merge"), json={"into": a, "version": 1})
    assert merged.status_code == 200, merged.text
    into = merged.json()["into"]
    assert into["votes"] == 4  # twitch:1, twitch:2, youtube:9, zoom:5
    assert into["merged_count"] == 1
    assert merged.json()["merged"]["merged_into"] == a

    queue = (await mod.get(f"/api/events/{seeded.event.id}/questions")).json()
    assert b not in {q["id"] for q in queue}, "a merged question leaves the queue"
    async with stack.db.sessions() as session:  # and the snapshot a console starts from
        snapshot = await repository.open_questions(session, seeded.event.id, 100)
    assert a in {q.id for q in snapshot} and b not in {q.id for q in snapshot}
    askers = (await mod.get(url(seeded, a, "/merged"))).json()
    assert [q["author_name"] for q in askers] == ["Asker 1"]

    await vote(stack, seeded, b, "audience:7")  # a late vote on the merged one counts for a
    assert (await mod.get(f"/api/events/{seeded.event.id}/questions")).json()[0]["votes"] == 5

    self_merge = await mod.post(url(seeded, c, "/merge"), json={"into": c, "version": 1})
    assert self_merge.status_code == 422 and self_merge.json()["error"]["code"] == "cannot_merge"
    chain = await mod.post(url(seeded, c, "/merge"), json={"into": b, "version": 1})
    assert chain.status_code == 422 and "merge into that one" in chain.json()["error"]["message"]

    undone = await mod.post(f"/api/events/{seeded.event.id}/undo")
    assert undone.status_code == 200 and undone.json()["merged_into"] is None
    queue = {q["id"]: q for q in (await mod.get(f"/api/events/{seeded.event.id}/questions")).json()}
    assert b in queue and queue[a]["votes"] == 3 and queue[a]["merged_count"] == 0
    assert queue[b]["votes"] == 3  # twitch:2, zoom:5 and the late audience:7
