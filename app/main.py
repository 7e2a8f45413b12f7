"""create_app and its lifespan: the database, the bus, the hub, and (in one-process
modes) the pipeline worker and connectors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from app.audience.router import router as audience_router
from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.bus import Bus, make_bus
from app.chat.router import router as chat_router
from app.config import Settings, get_settings
from app.connectors.hooks import router as hooks_router
from app.cues.router import router as cues_router
from app.db import Database
from app.drills.router import router as drills_router
from app.errors import install_error_handlers
from app.events.router import router as events_router
from app.incidents.router import router as incidents_router
from app.metrics.router import router as metrics_router
from app.moderation.router import router as moderation_router
from app.overlays.router import router as overlays_router
from app.playbooks.router import router as playbooks_router
from app.polls.router import router as polls_router
from app.questions.router import router as questions_router
from app.questions.router import undo_router
from app.reports.router import router as reports_router
from app.sources.router import router as sources_router
from app.ws.hub import Hub
from app.ws.router import ConsoleSocketMiddleware
from app.ws.snapshot import snapshot_loader

log = logging.getLogger(__name__)

_NOT_BUILT = """<!doctype html><meta charset=utf-8><title>Control Room</title>
<body style="font-family:sans-serif;background:#111;color:#eee;padding:3rem">
<h1>Control Room</h1><p>The console is not built. Run <code>make setup</code>
(or <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>) and reload.</p>"""


# Pages that change with each build: always revalidate, never serve a stale shell.
_PAGE_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def create_app(
    settings: Settings | None = None,
    *,
    embedded_worker: bool = False,
    db: Database | None = None,
    bus: Bus | None = None,
) -> FastAPI:
    """The API and WebSocket hub; with embedded_worker, the pipeline and connectors too.

    A database or bus passed in is shared with the caller (tests, the benchmark) and
    left open at shutdown.
    """
    settings = settings or get_settings()
    given_db, given_bus = db, bus

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = given_db or Database(settings.database_url)
        bus = given_bus or make_bus(settings)
        hub = Hub(
            bus,
            snapshot_loader(db),
            batch_interval_ms=settings.batch_interval_ms,
            console_queue_frames=settings.console_queue_frames,
        )
        app.state.db, app.state.bus, app.state.hub = db, bus, hub
        background: list[asyncio.Task[Any]] = []
        if embedded_worker:
            from app.worker import run_worker

            background.append(asyncio.create_task(run_worker(settings, db, bus), name="worker"))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await hub.close()
            if given_bus is None:
                await bus.close()
            if given_db is None:
                await db.dispose()

    app = FastAPI(
        title="Control Room",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(auth_router)
    app.include_router(events_router)
    app.include_router(questions_router)
    app.include_router(undo_router)
    app.include_router(audit_router)
    app.include_router(chat_router)
    app.include_router(moderation_router)
    app.include_router(hooks_router)
    app.include_router(sources_router)
    app.include_router(cues_router)
    app.include_router(polls_router)
    app.include_router(audience_router)
    app.include_router(overlays_router)
    app.include_router(playbooks_router)
    app.include_router(incidents_router)
    app.include_router(drills_router)
    app.include_router(reports_router)
    app.include_router(metrics_router)
    app.add_middleware(ConsoleSocketMiddleware, fastapi_app=app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = {
            "database": await app.state.db.ping(),
            "bus": await app.state.bus.ping(),
        }
        ok = all(checks.values())
        body = {"status": "ok" if ok else "unavailable", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    dist = settings.frontend_dist

    # The audience page and the overlays are pages of their own (no console login); the
    # code or kind in the path is read by the page itself.
    @app.get("/a/{code}", include_in_schema=False)
    async def audience_page(code: str) -> FileResponse:
        return FileResponse(dist / "audience.html", headers=_PAGE_HEADERS)

    @app.get("/overlay/{kind}", include_in_schema=False)
    async def overlay_page(kind: str) -> FileResponse:
        return FileResponse(dist / "overlay.html", headers=_PAGE_HEADERS)

    if (dist / "index.html").exists():
        app.mount("/", StaticFiles(directory=dist, html=True), name="console")
    else:

        @app.get("/", include_in_schema=False)
        async def console_not_built() -> HTMLResponse:
            return HTMLResponse(_NOT_BUILT)

    return app
