"""The gauges over REST: their recent per-minute history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import ClockDep, EventMemberDep, SessionDep
from app.metrics import service
from app.metrics.schemas import GaugeHistory

router = APIRouter(prefix="/api/events/{event_id}/gauges", tags=["gauges"])


@router.get("/history")
async def gauge_history(
    access: EventMemberDep,
    session: SessionDep,
    clock: ClockDep,
    minutes: Annotated[int, Query(ge=1, le=service.MAX_MINUTES)] = 30,
) -> GaugeHistory:
    """The last `minutes` complete minutes of every gauge, per metric and dimension."""
    return await service.gauge_history(session, access.event.id, clock.now(), minutes)
