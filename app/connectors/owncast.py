"""Owncast (self-hosted): webhooks in, viewer counts from /api/status, moderation by REST.

Owncast posts one webhook per event, once: no delivery id, no retries, and a body
signed only from 0.3.0 on (`owncast-signature`). Hiding a message uses the
integrations API (an access token with HAS_ADMIN_ACCESS); banning uses the moderator
API, authorised by a moderator chat user's token in the `accessToken` query parameter
(Owncast's own chat client does the same). Owncast has no timeout: it is emulated by
disabling the user and enabling them again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from app.connectors.base import Action, ActionResult, Capability
from app.connectors.credentials import Credentials
from app.connectors.errors import AuthFailed, ConnectorError, NotConfigured, PlatformError
from app.connectors.http import PlatformHTTP
from app.connectors.inbox import Delivery, Malformed, Reply, WebhookConnectorBase
from app.connectors.signatures import TOLERANCE_S, SignatureError
from app.envelope import Author, Envelope, Kind

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "owncast-signature"
STATUS_POLL_S = 15.0
_NAME_MAX = 128
# Known webhook types this connector has no use for: not malformed, just ignored.
_IGNORED = frozenset(
    {"FEDIVERSE_ENGAGEMENT_FOLLOW", "FEDIVERSE_ENGAGEMENT_LIKE", "FEDIVERSE_ENGAGEMENT_REPOST"}
)
_STREAM_EVENTS = {
    "STREAM_STARTED": "stream_started",
    "STREAM_STOPPED": "stream_stopped",
    "STREAM_TITLE_UPDATED": "title_updated",
}
_ADMIN_SCOPE_HINT = (
    "needs an Owncast access token with the {scope} scope "
    "(credential access_token; create it at /admin/access-tokens)"
)
_MODERATOR_HINT = (
    "needs the access token of an Owncast chat user who is a moderator (credential moderator_token)"
)


class HideAccessToken(logging.Filter):
    """httpx logs every request URL at INFO; the moderator API carries a token in its query."""

    _pattern = re.compile(r"(accessToken=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any("accessToken=" in str(a) for a in record.args):
            record.args = tuple(
                self._pattern.sub(r"\1***", str(a)) if "accessToken=" in str(a) else a
                for a in record.args
            )
        return True


if not any(isinstance(f, HideAccessToken) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(HideAccessToken())


def owncast_signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """The `owncast-signature` value: `t=<unix>.s=<hex HMAC-SHA256(secret, "<t>." + body)>`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp}.s={digest.hexdigest()}"


def _parse_signature(header: str) -> tuple[int, str]:
    # `t=<unix>.s=<hex>`; a comma separator is accepted too, in case a version uses it.
    if not header.startswith("t="):
        raise SignatureError(f"{SIGNATURE_HEADER} does not start with t=<unix seconds>")
    stamp, sep, signature = header[2:].partition(".s=")
    if not sep:
        stamp, sep, signature = header[2:].partition(",s=")
    if not sep or not signature:
        raise SignatureError(f"{SIGNATURE_HEADER} is not t=<unix>.s=<hex>")
    try:
        return int(stamp), signature.strip()
    except ValueError:
        raise SignatureError(f"{SIGNATURE_HEADER} t= is not Unix seconds: {stamp[:20]!r}") from None


def _at(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    # Owncast stamps nanoseconds; Python keeps microseconds.
    value = re.sub(r"(\.\d{6})\d+", r"\1", value.replace("Z", "+00:00"))
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _hash(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:24]


def _truthy(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def _author(user: Any, where: str) -> Author:
    if not isinstance(user, dict) or not user.get("id"):
        raise Malformed(f"{where}: eventData.user.id is missing")
    roles = ["moderator"] if "MODERATOR" in (user.get("scopes") or []) else []
    if user.get("isBot"):
        roles.append("bot")
    name = str(user.get("displayName") or user["id"])[:_NAME_MAX]
    return Author(id=str(user["id"])[:128], name=name, roles=tuple(roles))


class OwncastConnector(WebhookConnectorBase):
    """An Owncast server: chat, joins/parts, stream state, viewers; hide, ban, emulated timeout."""

    platform = "owncast"
    capabilities = frozenset(
        {
            Capability.delete,
            Capability.timeout,
            Capability.ban,
            Capability.viewer_counts,
            Capability.send_message,
        }
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.server_url = str(self.config.get("server_url") or "").rstrip("/")
        self.status_poll_s = float(self.config.get("status_poll_s", STATUS_POLL_S))
        # Servers before the rename (owncast#1966) only know `updatemessagevisibility`.
        self.legacy_endpoints = _truthy(self.config.get("legacy_endpoints"), False)
        # Old servers sent USER_JOINED as NAME_CHANGE (owncast#1302).
        self.legacy_joins = _truthy(self.config.get("legacy"), False)
        self._api: PlatformHTTP | None = None
        self._reenable: dict[str, asyncio.Task[None]] = {}

    # -- at the door --
    @classmethod
    def verify(
        cls,
        config: Mapping[str, Any],
        credentials: Credentials,
        headers: Mapping[str, str],
        body: bytes,
        now: datetime,
    ) -> Reply:
        offered = headers.get(SIGNATURE_HEADER, "")
        secret = credentials.get("webhook_secret")
        if not _truthy(config.get("signed"), True):
            # Before 0.3.0 Owncast does not sign; a signature that is there must still match.
            if offered and secret:
                cls._check_signature(secret, offered, body, now)
            return Reply()
        if not secret:
            raise SignatureError(
                "this Owncast source has no webhook_secret credential "
                "(or set signed: false for servers before 0.3.0)"
            )
        if not offered:
            raise SignatureError(
                f"missing {SIGNATURE_HEADER} header: Owncast signs from 0.3.0; "
                "for an older server set signed: false"
            )
        cls._check_signature(secret, offered, body, now)
        return Reply()

    @staticmethod
    def _check_signature(secret: str, offered: str, body: bytes, now: datetime) -> None:
        timestamp, signature = _parse_signature(offered)
        skew = now.timestamp() - timestamp
        if abs(skew) > TOLERANCE_S:
            raise SignatureError(
                f"{SIGNATURE_HEADER} t= is {skew:+.0f} s from our clock "
                f"(tolerance ±{TOLERANCE_S} s): a replay, or a server clock that is off"
            )
        expected = owncast_signature(secret, timestamp, body).encode()
        if not hmac.compare_digest(expected, f"t={timestamp}.s={signature}".encode()):
            raise SignatureError(
                f"{SIGNATURE_HEADER} does not match: wrong secret, or the body was changed"
            )

    # -- from the inbox --
    def _message(self, delivery: Delivery) -> dict[str, Any]:
        if "json" not in delivery.extra:
            delivery.extra["json"] = delivery.json()
        message = delivery.extra["json"]
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("type"), str)
            or not isinstance(message.get("eventData"), dict)
        ):
            raise Malformed('expected an Owncast webhook {"type": ..., "eventData": {...}}')
        return message

    def delivery_id(self, delivery: Delivery) -> str | None:
        # No delivery id and no retries: a chat line's own id, or the body's hash, only
        # keeps out a copy something between Owncast and us may have repeated.
        try:
            message = self._message(delivery)
        except Malformed:
            return None
        data = message["eventData"]
        if message["type"] == "CHAT" and data.get("id"):
            return f"chat:{data['id']}"
        return hashlib.sha256(delivery.body).hexdigest()[:32]

    def parse(self, delivery: Delivery) -> Sequence[Envelope]:
        message = self._message(delivery)
        kind: str = message["type"]
        data: dict[str, Any] = message["eventData"]
        at = _at(data.get("timestamp")) or delivery.received_at
        if kind == "CHAT":
            envelopes = [self._chat(data, at)]
        elif kind in ("USER_JOINED", "USER_PARTED"):
            envelopes = [
                self._presence(kind, data, at, "join" if kind == "USER_JOINED" else "leave")
            ]
        elif kind == "NAME_CHANGE":
            envelopes = [self._name_change(data, at)]
        elif kind == "VISIBILITY-UPDATE":
            envelopes = [self._visibility(delivery, data, at)]
        elif kind in _STREAM_EVENTS:
            envelopes = [self._stream(kind, delivery, data, at)]
        elif kind in _IGNORED:
            envelopes = []
        else:
            raise Malformed(f"unknown Owncast event type {kind[:60]!r}")
        viewers = self._viewers_from(data, at, delivery)
        return [*envelopes, *viewers]

    def _chat(self, data: dict[str, Any], at: datetime) -> Envelope:
        message_id = data.get("id")
        if not message_id:
            raise Malformed("CHAT: eventData.id is missing")
        text = data.get("rawBody")
        # `body` is server-rendered HTML (emoji <img>, links): never shown as text.
        if not isinstance(text, str) or not text:
            raise Malformed("CHAT: eventData.rawBody is missing (body is HTML and not used)")
        return self.envelope(
            Kind.chat,
            str(message_id)[:128],
            platform_at=at,
            author=_author(data.get("user"), "CHAT"),
            text=text,
            data={"visible": data.get("visible", True), "client_id": data.get("clientId")},
        )

    def _presence(self, kind: str, data: dict[str, Any], at: datetime, action: str) -> Envelope:
        author = _author(data.get("user"), kind)
        return self.envelope(
            Kind.presence,
            f"{kind}:{_hash(author.id, data.get('timestamp') or at.isoformat(), data.get('id'))}",
            platform_at=at,
            author=author,
            data={"action": action, "client_id": data.get("clientId")},
        )

    def _name_change(self, data: dict[str, Any], at: datetime) -> Envelope:
        new_name = data.get("newName")
        # owncast#1302: old servers sent joins as NAME_CHANGE, without a newName.
        if self.legacy_joins or not isinstance(new_name, str) or not new_name:
            return self._presence("NAME_CHANGE", data, at, "join")
        author = _author(data.get("user"), "NAME_CHANGE")
        return self.envelope(
            Kind.stream_state,
            f"NAME_CHANGE:{_hash(author.id, new_name, data.get('timestamp'))}",
            platform_at=at,
            author=author,
            data={
                "event": "name_change",
                "user_id": author.id,
                "old_name": author.name,
                "new_name": new_name[:_NAME_MAX],
            },
        )

    def _visibility(self, delivery: Delivery, data: dict[str, Any], at: datetime) -> Envelope:
        ids = data.get("ids")
        visible = data.get("visible")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise Malformed("VISIBILITY-UPDATE: eventData.ids is not a list of message ids")
        if not isinstance(visible, bool):
            raise Malformed("VISIBILITY-UPDATE: eventData.visible is not true/false")
        return self.envelope(
            Kind.stream_state,
            f"visibility:{hashlib.sha256(delivery.body).hexdigest()[:24]}",
            platform_at=at,
            data={"event": "visibility", "ids": ids, "visible": visible},
        )

    def _stream(
        self, kind: str, delivery: Delivery, data: dict[str, Any], at: datetime
    ) -> Envelope:
        state: dict[str, Any] = {"event": _STREAM_EVENTS[kind]}
        for field, name in (("streamTitle", "title"), ("summary", "summary"), ("name", "name")):
            if isinstance(data.get(field), str):
                state[name] = data[field]
        return self.envelope(
            Kind.stream_state,
            f"{kind}:{data.get('id') or hashlib.sha256(delivery.body).hexdigest()[:24]}",
            platform_at=at,
            data=state,
        )

    def _viewers_from(
        self, data: dict[str, Any], at: datetime, delivery: Delivery
    ) -> list[Envelope]:
        status = data.get("status")
        if not isinstance(status, dict):
            return []
        count = status.get("viewerCount")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return []
        online = status.get("online")
        return [
            self.envelope(
                Kind.viewers,
                f"viewers:hook:{hashlib.sha256(delivery.body).hexdigest()[:24]}",
                platform_at=at,
                data={"count": count if online is not False else 0, "online": online},
            )
        ]

    # -- polling /api/status --
    async def produce(self) -> None:
        await self._resume_timeouts()
        poller = None
        if self.server_url and self.status_poll_s > 0:
            poller = asyncio.create_task(self._poll_status(), name="owncast-status")
        try:
            # The inbox loop runs in this task (not a TaskGroup child), so every cancel of
            # produce reaches its blocking read directly.
            await super().produce()
        finally:
            if poller is not None:
                poller.cancel()
                await asyncio.gather(poller, return_exceptions=True)

    async def _poll_status(self) -> None:
        """Viewer count from the public /api/status, every status_poll_s; errors never stop it."""
        while True:
            try:
                await self.emit([await self._status_viewers()])
            except asyncio.CancelledError:
                raise
            except (ConnectorError, httpx.HTTPError, OSError, ValueError) as exc:
                message = self.credentials.scrub(f"/api/status: {type(exc).__name__}: {exc}")
                log.warning("owncast source %s: %s", self.source_id, message)
                self.set_state(self.health.state, message)
            except Exception:
                log.exception("owncast source %s: status poll failed", self.source_id)
            await self.clock.sleep(self.status_poll_s)

    async def _status_viewers(self) -> Envelope:
        response = await self._client().request("GET", "/api/status")
        status = response.json()
        if not isinstance(status, dict):
            raise ValueError("/api/status did not answer a JSON object")
        count = status.get("viewerCount")
        online = status.get("online")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            count = 0
        if online is False:
            count = 0  # Owncast keeps the last count after the stream stops
        now = self.clock.now()
        return self.envelope(
            Kind.viewers,
            f"viewers:status:{int(now.timestamp() * 1000)}",
            platform_at=now,
            data={
                "count": count,
                "online": online,
                "session_max": status.get("sessionMaxViewerCount"),
                "version": status.get("versionNumber"),
            },
        )

    def _client(self) -> PlatformHTTP:
        if not self.server_url:
            raise NotConfigured("set server_url in the Owncast source config")
        if self._api is None:
            self._api = PlatformHTTP(self.server_url, clock=self.clock)
        return self._api

    # -- moderation --
    async def perform(self, action: Action) -> ActionResult:
        params = action.params
        try:
            if action.type in ("delete", "hide"):
                return await self._hide(str(params.get("message_id") or ""))
            if action.type == "ban":
                return await self._ban(self._user_id(params))
            if action.type == "timeout":
                return await self._timeout(self._user_id(params), params.get("duration_s"))
            if action.type == "send_message":
                text = params.get("text") or params.get("body") or params.get("message")
                return await self._send(str(text or ""))
        except NotConfigured as exc:
            return ActionResult("failed", str(exc))
        return await super().perform(action)

    @staticmethod
    def _user_id(params: Mapping[str, Any]) -> str:
        return str(params.get("author_id") or params.get("user_id") or "")

    def _admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.require('access_token')}"}

    async def _call(self, path: str, body: Any, refused: str, **kwargs: Any) -> ActionResult:
        """POSTs; a refused token becomes a failed action saying which token is needed."""
        try:
            await self._client().request("POST", path, json=body, **kwargs)
        except AuthFailed:
            return ActionResult("failed", f"Owncast refused the token (401): {refused}")
        except PlatformError as exc:
            if exc.status == 403:
                return ActionResult("failed", f"Owncast refused the token (403): {refused}")
            if exc.status == 404:
                return ActionResult(
                    "failed",
                    f"Owncast has no {path} (404): an older or newer server? "
                    "toggle legacy_endpoints in the source config",
                )
            return ActionResult("failed", f"Owncast answered {exc.status}: {exc.reason}")
        return ActionResult("done")

    async def _hide(self, message_id: str) -> ActionResult:
        if not message_id:
            return ActionResult("failed", "hiding needs params.message_id")
        name = "updatemessagevisibility" if self.legacy_endpoints else "messagevisibility"
        return await self._call(
            f"/api/integrations/chat/{name}",
            {"idArray": [message_id], "visible": False},
            "hiding messages " + _ADMIN_SCOPE_HINT.format(scope="HAS_ADMIN_ACCESS"),
            headers=self._admin_headers(),
        )

    async def _set_enabled(self, user_id: str, enabled: bool) -> ActionResult:
        # The moderator API takes a chat user's token as a query parameter, not a header.
        token = self.credentials.require("moderator_token")
        return await self._call(
            "/api/chat/users/setenabled",
            {"userId": user_id, "enabled": enabled},
            ("banning " if not enabled else "re-enabling ") + _MODERATOR_HINT,
            params={"accessToken": token},
        )

    async def _ban(self, user_id: str) -> ActionResult:
        if not user_id:
            return ActionResult("failed", "banning needs params.author_id")
        self._cancel_reenable(user_id)  # a ban outlasts any running timeout
        await self._forget_timeout(user_id)
        return await self._set_enabled(user_id, False)

    async def _timeout(self, user_id: str, duration: Any) -> ActionResult:
        if not user_id:
            return ActionResult("failed", "a timeout needs params.author_id")
        try:
            duration_s = float(duration) if duration is not None else 300.0
        except (TypeError, ValueError):
            return ActionResult("failed", f"duration_s is not a number: {duration!r}")
        if duration_s <= 0:
            return ActionResult("failed", "duration_s must be above 0")
        result = await self._set_enabled(user_id, False)
        if result.status != "done":
            return result
        until = self.clock.now().timestamp() + duration_s
        await self._remember_timeout(user_id, until)
        self._schedule_reenable(user_id, until)
        return ActionResult(
            "done",
            f"emulated: Owncast has no timeout, so the user is disabled and will be "
            f"re-enabled after {duration_s:g} s",
        )

    async def _send(self, text: str) -> ActionResult:
        if not text.strip():
            return ActionResult("failed", "send_message needs params.text")
        return await self._call(
            "/api/integrations/chat/send",
            {"body": text},
            "sending chat " + _ADMIN_SCOPE_HINT.format(scope="CAN_SEND_MESSAGES"),
            headers=self._admin_headers(),
        )

    # -- emulated timeouts: kept in the bus, so a restarted connector still lifts them --
    @property
    def _timeouts_key(self) -> str:
        return f"owncast:timeouts:{self.source_id}"

    async def _load_timeouts(self) -> dict[str, float]:
        stored = await self.bus.load_cursor(self._timeouts_key)
        try:
            loaded = orjson.loads(stored) if stored else {}
        except orjson.JSONDecodeError:
            return {}
        return {str(k): float(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}

    async def _remember_timeout(self, user_id: str, until: float) -> None:
        timeouts = await self._load_timeouts()
        timeouts[user_id] = until
        await self.bus.save_cursor(self._timeouts_key, orjson.dumps(timeouts).decode())

    async def _forget_timeout(self, user_id: str) -> None:
        timeouts = await self._load_timeouts()
        if timeouts.pop(user_id, None) is not None:
            await self.bus.save_cursor(self._timeouts_key, orjson.dumps(timeouts).decode())

    async def _resume_timeouts(self) -> None:
        for user_id, until in (await self._load_timeouts()).items():
            self._schedule_reenable(user_id, until)

    def _cancel_reenable(self, user_id: str) -> None:
        task = self._reenable.pop(user_id, None)
        if task is not None:
            task.cancel()

    def _schedule_reenable(self, user_id: str, until: float) -> None:
        self._cancel_reenable(user_id)
        self._reenable[user_id] = asyncio.create_task(
            self._reenable_later(user_id, until), name=f"owncast-reenable-{user_id}"
        )

    async def _reenable_later(self, user_id: str, until: float) -> None:
        await self.clock.sleep(until - self.clock.now().timestamp())
        for attempt in range(5):
            try:
                result = await self._set_enabled(user_id, True)
            except (ConnectorError, OSError) as exc:
                result = ActionResult("failed", self.credentials.scrub(str(exc)))
            if result.status == "done":
                await self._forget_timeout(user_id)
                self._reenable.pop(user_id, None)
                return
            message = f"emulated timeout: re-enabling user {user_id} failed: {result.reason}"
            log.warning("owncast source %s: %s", self.source_id, message)
            self.set_state(self.health.state, message)
            await self.clock.sleep(min(60.0, 2.0**attempt))
        self.set_state(self.health.state, f"emulated timeout: user {user_id} is still disabled")

    async def close(self) -> None:
        for task in self._reenable.values():
            task.cancel()  # the deadlines stay in the bus for the next run
        await asyncio.gather(*self._reenable.values(), return_exceptions=True)
        self._reenable.clear()
        if self._api is not None:
            with contextlib.suppress(Exception):
                await self._api.close()
            self._api = None
