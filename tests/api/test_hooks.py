"""POST /hooks/{source_id}: only webhook sources take deliveries, and refusals say why."""

from __future__ import annotations

import httpx

from tests.conftest import Seeded, Stack


async def test_hooks_refuse_unknown_and_non_webhook_sources(
    stack: Stack, seeded: Seeded, mod: httpx.AsyncClient
) -> None:
    unknown = await mod.post("/hooks/nope", content=b"{}")
    assert unknown.status_code == 404
    assert "sources panel" in unknown.json()["error"]["message"]
    simulator = seeded.sources[0].id
    refused = await mod.post(f"/hooks/{simulator}", content=b"{}")
    assert refused.status_code == 404
    assert simulator in refused.json()["error"]["message"]
    assert await stack.bus.read_inbox(seeded.event.id, simulator, count=10, block_ms=10) == []
