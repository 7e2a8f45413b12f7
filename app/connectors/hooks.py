"""POST /hooks/{source_id}: where platforms deliver webhooks (Zoom, Owncast, generic)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from app.connectors.credentials import Credentials
from app.connectors.inbox import Delivery, WebhookConnectorBase
from app.connectors.registry import connector_class
from app.connectors.signatures import SignatureError
from app.deps import BusDep, SessionDep
from app.errors import NotFound, error_body
from app.events.models import Source

router = APIRouter(tags=["webhooks"])


class UnknownHook(NotFound):
    code = "unknown_hook"


@router.post("/hooks/{source_id}", status_code=204)
async def receive_webhook(
    source_id: str, request: Request, session: SessionDep, bus: BusDep
) -> Response:
    """Verifies a delivery on its raw bytes, queues it for the source's connector, answers fast."""
    source = await session.get(Source, source_id)
    cls = connector_class(source.platform) if source is not None else None
    if source is None or cls is None or not issubclass(cls, WebhookConnectorBase):
        raise UnknownHook(f"no webhook source {source_id}; copy the URL from the sources panel")
    body = await request.body()
    now = datetime.now(UTC)
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        reply = cls.verify(source.config or {}, Credentials(source.credentials), headers, body, now)
    except SignatureError as exc:
        # 401: senders do not retry a delivery whose signature we refuse.
        return JSONResponse(error_body("bad_signature", str(exc)), status_code=401)
    if reply.store:
        kept = {h: headers[h] for h in cls.kept_headers if h in headers}
        # Kept while the source is paused, too: resuming processes what came meanwhile.
        await bus.add_inbox(source.event_id, source.id, Delivery(kept, body, now).to_bytes())
    if reply.body is not None:
        return JSONResponse(dict(reply.body), status_code=reply.status)
    return Response(status_code=reply.status)
