"""Zoom Meetings and Webinars: signed webhooks in, headcount from join/left, reports after.

Zoom pushes chat, joins/leaves and start/end as webhooks (verified at the door by
`verify`, processed from the inbox). It has no live Q&A or poll webhooks: those are
imported from the report API once a webinar has ended. Moderation is limited to
deleting a chat message; Zoom has no REST call to remove or ban a participant.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
import orjson

from app.connectors.base import Action, ActionResult, Capability
from app.connectors.credentials import Credentials
from app.connectors.errors import (
    AuthFailed,
    ConnectorError,
    NotConfigured,
    PlatformError,
    RateLimited,
)
from app.connectors.http import PlatformHTTP, error_reason
from app.connectors.inbox import Delivery, Malformed, Reply, WebhookConnectorBase
from app.connectors.signatures import TOLERANCE_S, SignatureError
from app.envelope import Author, Envelope, Kind

log = logging.getLogger(__name__)

API_BASE = "https://api.zoom.us/v2"
OAUTH_BASE = "https://zoom.us"
URL_VALIDATION = "endpoint.url_validation"
_NAME_MAX = 128


def zoom_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v0=<hex HMAC-SHA256(secret, "v0:<timestamp>:<raw body>")>`, Zoom's x-zm-signature."""
    signed = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _ms_to_datetime(ms: Any) -> datetime | None:
    if isinstance(ms, int | float) and not isinstance(ms, bool) and ms > 0:
        return datetime.fromtimestamp(ms / 1000, UTC)
    return None


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _short_hash(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:24]


class Headcount:
    """Who is in each meeting, from join/left events that may come late or out of order.

    Each participant keeps the time of the newest event seen for them: an older event
    changes nothing, so a `left` that overtakes its `joined` leaves no ghost. `floor` is
    the meeting's last start/end: participant events from before it are history.
    """

    def __init__(self, state: Mapping[str, Any] | None = None) -> None:
        state = state or {}
        self.meetings: dict[str, dict[str, Any]] = dict(state.get("meetings") or {})
        self.latest_ts: int = int(state.get("latest_ts") or 0)

    def to_json(self) -> dict[str, Any]:
        return {"meetings": self.meetings, "latest_ts": self.latest_ts}

    def _meeting(self, meeting_id: str) -> dict[str, Any]:
        return self.meetings.setdefault(meeting_id, {"floor": 0, "p": {}})

    def seen(self, ts: int) -> None:
        self.latest_ts = max(self.latest_ts, ts)

    def participant(self, meeting_id: str, key: str, ts: int, present: bool) -> bool:
        """Applies a join (present) or left; False when it is older than what we know."""
        self.seen(ts)
        meeting = self._meeting(meeting_id)
        known = meeting["p"].get(key)
        if ts < meeting["floor"] or (known is not None and known[0] >= ts):
            return False
        meeting["p"][key] = [ts, present]
        return True

    def started(self, meeting_id: str, ts: int) -> None:
        self.seen(ts)
        meeting = self._meeting(meeting_id)
        if ts > meeting["floor"]:
            meeting["floor"] = ts
            meeting["p"] = {k: v for k, v in meeting["p"].items() if v[0] >= ts}

    def ended(self, meeting_id: str, ts: int) -> None:
        self.seen(ts)
        meeting = self._meeting(meeting_id)
        meeting["floor"] = max(meeting["floor"], ts)
        meeting["p"] = {}

    def count(self, meeting_id: str) -> int:
        meeting = self.meetings.get(meeting_id)
        return sum(1 for _ts, present in meeting["p"].values() if present) if meeting else 0

    def total(self) -> int:
        return sum(self.count(m) for m in self.meetings)


class ZoomConnector(WebhookConnectorBase):
    """A Zoom webinar or meeting: chat, live headcount, start/end, Q&A and polls after."""

    platform = "zoom"
    capabilities = frozenset({Capability.delete, Capability.viewer_counts})
    kept_headers: ClassVar[tuple[str, ...]] = ("x-zm-request-timestamp",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_base = str(self.config.get("api_base") or API_BASE)
        self.oauth_base = str(self.config.get("oauth_base") or OAUTH_BASE)
        self.meeting_type = "meeting" if self.config.get("meeting_type") == "meeting" else "webinar"
        # Report import pacing: Zoom prepares reports some minutes after the end.
        self.report_first_delay_s = float(self.config.get("report_first_delay_s", 60))
        self.report_retry_s = float(self.config.get("report_retry_s", 120))
        self.report_retry_cap_s = float(self.config.get("report_retry_cap_s", 1800))
        self.report_attempts = int(self.config.get("report_attempts", 10))
        self.headcount = Headcount()
        self.imports: dict[str, dict[str, bool]] = {}  # webinar id -> report parts done
        self._dirty = False
        self._chat_meetings: dict[str, tuple[str, str]] = {}  # message id -> (type, meeting)
        self._import_tasks: dict[str, asyncio.Task[None]] = {}
        self._api: PlatformHTTP | None = None
        self._token: str | None = None
        self._token_expires_at = 0.0

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
        secret = credentials.get("webhook_secret")
        if not secret:
            raise SignatureError("this Zoom source has no webhook_secret credential")
        stamp = headers.get("x-zm-request-timestamp", "")
        offered = headers.get("x-zm-signature", "")
        if not stamp or not offered:
            raise SignatureError("missing x-zm-signature or x-zm-request-timestamp header")
        try:
            seconds = int(stamp)
        except ValueError:
            raise SignatureError(
                f"x-zm-request-timestamp is not a number: {stamp[:40]!r}"
            ) from None
        if seconds > 10**11:  # milliseconds
            seconds //= 1000
        if abs(now.timestamp() - seconds) > TOLERANCE_S:
            raise SignatureError(
                f"x-zm-request-timestamp is {now.timestamp() - seconds:+.0f} s from our clock "
                f"(tolerance ±{TOLERANCE_S} s)"
            )
        expected = zoom_signature(secret, stamp, body)
        if not hmac.compare_digest(expected.encode(), offered.encode()):
            raise SignatureError("x-zm-signature does not match: wrong secret, or a changed body")
        if URL_VALIDATION.encode() in body:
            try:
                message = orjson.loads(body)
            except orjson.JSONDecodeError:
                return Reply()  # the inbox dead-letters it with the reason
            if not isinstance(message, dict) or message.get("event") != URL_VALIDATION:
                return Reply()
            payload = message.get("payload")
            plain = payload.get("plainToken") if isinstance(payload, dict) else None
            if isinstance(plain, str):
                encrypted = hmac.new(secret.encode(), plain.encode(), hashlib.sha256).hexdigest()
                return Reply(200, {"plainToken": plain, "encryptedToken": encrypted}, store=False)
        return Reply()

    # -- from the inbox --
    def _message(self, delivery: Delivery) -> dict[str, Any]:
        if "json" not in delivery.extra:
            delivery.extra["json"] = delivery.json()
        message = delivery.extra["json"]
        if not isinstance(message, dict) or not isinstance(message.get("event"), str):
            raise Malformed('expected a Zoom event {"event", "event_ts", "payload": {"object"}}')
        return message

    def delivery_id(self, delivery: Delivery) -> str | None:
        # Zoom's retries resend the same event (with a new timestamp and signature).
        try:
            message = self._message(delivery)
            obj = (message.get("payload") or {}).get("object") or {}
            who = obj.get("participant") or obj.get("chat_message") or {}
            return _short_hash(
                message["event"],
                message.get("event_ts"),
                obj.get("uuid") or obj.get("id"),
                who.get("participant_uuid") or who.get("user_id") or who.get("id"),
                who.get("message_id"),
            )
        except (Malformed, AttributeError, TypeError):
            return hashlib.sha256(delivery.body).hexdigest()[:32]

    def parse(self, delivery: Delivery) -> Sequence[Envelope]:
        message = self._message(delivery)
        event: str = message["event"]
        ts = message.get("event_ts")
        at = _ms_to_datetime(ts)
        payload = message.get("payload")
        obj = payload.get("object") if isinstance(payload, dict) else None
        if at is None or not isinstance(obj, dict):
            raise Malformed(f'{event}: expected "event_ts" (ms) and "payload.object"')
        meeting_id = str(obj.get("id") or "")
        if not meeting_id:
            raise Malformed(f"{event}: payload.object has no id")
        assert isinstance(ts, int | float)
        kind, _, what = event.partition(".")
        if what in ("participant_joined", "participant_left"):
            return self._presence(event, int(ts), at, meeting_id, obj)
        if what == "chat_message_sent":
            return [self._chat(kind, at, meeting_id, obj)]
        if what in ("started", "ended") and kind in ("meeting", "webinar"):
            return self._stream_state(event, int(ts), at, meeting_id, obj)
        return []  # an event this connector does not use (waiting room, recordings, ...)

    def _presence(
        self, event: str, ts: int, at: datetime, meeting_id: str, obj: dict[str, Any]
    ) -> list[Envelope]:
        who = obj.get("participant")
        if not isinstance(who, dict):
            raise Malformed(f"{event}: payload.object.participant is missing")
        key = who.get("participant_uuid") or who.get("user_id") or who.get("id")
        if not key:
            raise Malformed(f"{event}: participant has no participant_uuid, user_id or id")
        key = str(key)
        joined = event.endswith("joined")
        applied = self.headcount.participant(meeting_id, key, ts, joined)
        self._dirty = True
        name = str(who.get("user_name") or "")[:_NAME_MAX]
        presence = self.envelope(
            Kind.presence,
            f"{event}:{meeting_id}:{key}:{ts}"[:128],
            platform_at=at,
            author=Author(id=key[:128], name=name),
            data={
                "action": "join" if joined else "leave",
                "meeting_id": meeting_id,
                "participant_uuid": key,
                # An event older than what we know of this participant changes no count.
                "stale": not applied,
            },
        )
        return [presence, self._viewers(f"{event}:{meeting_id}:{key}:{ts}", meeting_id)]

    def _viewers(self, cause: str, meeting_id: str) -> Envelope:
        # Stamped with the newest event time seen, so the pipeline's "latest wins" keeps
        # the count computed last even when an older event was processed last.
        return self.envelope(
            Kind.viewers,
            f"viewers:{_short_hash(cause)}",
            platform_at=_ms_to_datetime(self.headcount.latest_ts),
            data={
                "count": self.headcount.total(),
                "meeting_id": meeting_id,
                "meeting_count": self.headcount.count(meeting_id),
            },
        )

    def _chat(self, kind: str, at: datetime, meeting_id: str, obj: dict[str, Any]) -> Envelope:
        chat = obj.get("chat_message")
        if not isinstance(chat, dict):
            raise Malformed(f"{kind}.chat_message_sent: payload.object.chat_message is missing")
        message_id, text = chat.get("message_id"), chat.get("message_content")
        if not isinstance(message_id, str) or not message_id:
            raise Malformed(f"{kind}.chat_message_sent: chat_message has no message_id")
        if not isinstance(text, str) or not text.strip():
            raise Malformed(f"{kind}.chat_message_sent: chat_message has no message_content")
        sender = str(chat.get("sender_name") or "")[:_NAME_MAX]
        sender_id = chat.get("sender_session_id") or chat.get("sender_email") or sender
        if not sender_id:
            raise Malformed(f"{kind}.chat_message_sent: chat_message has no sender")
        if len(self._chat_meetings) >= 10_000:  # bounded: deletes target recent lines
            self._chat_meetings.pop(next(iter(self._chat_meetings)))
        self._chat_meetings[message_id] = (kind, meeting_id)
        return self.envelope(
            Kind.chat,
            message_id[:128],
            platform_at=_iso(chat.get("date_time")) or at,
            author=Author(id=str(sender_id)[:128], name=sender, roles=_roles(chat)),
            text=text,
            data={
                "meeting_id": meeting_id,
                "recipient_type": chat.get("recipient_type"),
            },
        )

    def _stream_state(
        self, event: str, ts: int, at: datetime, meeting_id: str, obj: dict[str, Any]
    ) -> list[Envelope]:
        started = event.endswith("started")
        if started:
            self.headcount.started(meeting_id, ts)
        else:
            self.headcount.ended(meeting_id, ts)
        self._dirty = True
        state = self.envelope(
            Kind.stream_state,
            f"{event}:{meeting_id}:{ts}",
            platform_at=at,
            data={
                "state": "up" if started else "down",
                "event": event,
                "meeting_id": meeting_id,
                "topic": obj.get("topic"),
            },
        )
        return [state, self._viewers(f"{event}:{meeting_id}:{ts}", meeting_id)]

    async def after_parse(self, delivery: Delivery, envelopes: Sequence[Envelope]) -> None:
        if delivery.extra.get("json", {}).get("event") != "webinar.ended":
            return
        for env in envelopes:
            if env.kind is Kind.stream_state:
                webinar_id = str(env.data["meeting_id"])
                if webinar_id not in self.imports:
                    self.imports[webinar_id] = {"qa": False, "polls": False}
                    self._dirty = True
                    self._schedule_import(webinar_id, self.report_first_delay_s)

    async def after_batch(self) -> None:
        if self._dirty:
            await self._save()

    # -- state that outlives a takeover --
    @property
    def _cursor_name(self) -> str:
        return f"zoom:{self.source_id}:state"

    async def _save(self) -> None:
        self._dirty = False
        state = {**self.headcount.to_json(), "imports": self.imports}
        await self.bus.save_cursor(self._cursor_name, orjson.dumps(state).decode())

    async def _load(self) -> None:
        raw = await self.bus.load_cursor(self._cursor_name)
        try:
            state = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            log.warning("zoom source %s: unreadable saved state, starting afresh", self.source_id)
            state = {}
        self.headcount = Headcount(state)
        self.imports = dict(state.get("imports") or {})

    async def produce(self) -> None:
        await self._load()
        for webinar_id, done in self.imports.items():
            if not all(done.values()):  # a predecessor was still waiting for these reports
                self._schedule_import(webinar_id, 0.0)
        await super().produce()

    # -- Zoom REST (Server-to-Server OAuth) --
    async def _access_token(self) -> str:
        if self._token and self.clock.monotonic() < self._token_expires_at:
            return self._token
        account_id = self.credentials.get("account_id") or self.config.get("account_id")
        if not account_id:
            account_id = self.credentials.require("account_id")
        client_id = self.credentials.require("client_id")
        client_secret = self.credentials.require("client_secret")
        async with httpx.AsyncClient(base_url=self.oauth_base.rstrip("/"), timeout=10) as client:
            response = await client.post(
                "/oauth/token",
                params={"grant_type": "account_credentials", "account_id": str(account_id)},
                auth=(client_id, client_secret),
            )
        if response.status_code == 429:
            raise RateLimited("oauth token: 429", 1.0)
        if response.status_code >= 400:
            raise AuthFailed(
                f"Zoom refused the Server-to-Server OAuth token ({response.status_code} "
                f"{error_reason(response)}): check the source's account_id, client_id and "
                "client_secret"
            )
        body = response.json()
        self._token = str(body["access_token"])
        # Renewed a minute early, so a call never carries a token about to expire.
        self._token_expires_at = self.clock.monotonic() + float(body.get("expires_in", 3600)) - 60
        return self._token

    def _bearer(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    async def _call(self, method: str, path: str) -> httpx.Response:
        """One REST call; an expired or revoked token is renewed once."""
        if self._api is None:
            self._api = PlatformHTTP(self.api_base, headers=self._bearer, clock=self.clock)
        await self._access_token()
        try:
            return await self._api.request(method, path)
        except AuthFailed:
            self._token = None
            await self._access_token()
            return await self._api.request(method, path)

    # -- reports, after a webinar ends --
    def _schedule_import(self, webinar_id: str, delay_s: float) -> None:
        if webinar_id not in self._import_tasks or self._import_tasks[webinar_id].done():
            self._import_tasks[webinar_id] = asyncio.create_task(
                self._import_reports(webinar_id, delay_s), name=f"zoom-report-{webinar_id}"
            )

    async def _import_reports(self, webinar_id: str, delay_s: float) -> None:
        """Imports Q&A and polls; retries while Zoom says the report is not ready."""
        await self.clock.sleep(delay_s)
        wait = self.report_retry_s
        done = self.imports.setdefault(webinar_id, {"qa": False, "polls": False})
        for attempt in range(1, self.report_attempts + 1):
            body: Any = None
            try:
                if not done.get("qa"):
                    body = await self._heavy_get(f"/report/webinars/{quote(webinar_id)}/qa")
                    await self.emit(self._questions(webinar_id, body))
                    done["qa"] = True
                if not done.get("polls"):
                    body = await self._heavy_get(f"/report/webinars/{quote(webinar_id)}/polls")
                    await self.emit([self._poll_report(webinar_id, body)])
                    done["polls"] = True
                await self._save()
                return
            except Malformed as exc:
                await self.dead_letter(body, f"report for webinar {webinar_id}: {exc}")
                return
            except PlatformError as exc:
                # 404 (Zoom code 3001) while the report is being prepared: try again later.
                if exc.status != 404 or attempt == self.report_attempts:
                    self._note(f"report for webinar {webinar_id} not imported: {exc}")
                    return
            except (NotConfigured, AuthFailed) as exc:
                # Credentials do not mend by waiting: say so now, not after every retry.
                self._note(f"report for webinar {webinar_id} not imported: {exc}")
                return
            except (ConnectorError, httpx.HTTPError) as exc:
                if attempt == self.report_attempts:
                    self._note(f"report for webinar {webinar_id} not imported: {exc}")
                    return
            await self.clock.sleep(self.rng.uniform(wait / 2, wait))
            wait = min(self.report_retry_cap_s, wait * 2)

    async def _heavy_get(self, path: str, attempts: int = 5) -> Any:
        """GET a Heavy-category endpoint (reports), waiting out 429s."""
        for attempt in range(attempts):
            try:
                response = await self._call("GET", path)
            except RateLimited as exc:
                if attempt == attempts - 1:
                    raise
                await self.clock.sleep(exc.retry_after_s)
                continue
            try:
                return response.json()
            except ValueError:
                raise Malformed(f"{path} did not answer JSON") from None
        raise AssertionError("unreachable")

    def _questions(self, webinar_id: str, body: Any) -> list[Envelope]:
        if not isinstance(body, dict) or not isinstance(body.get("questions"), list):
            raise Malformed('Q&A report: expected {"questions": [...]}')
        out: list[Envelope] = []
        for asker in body["questions"]:
            if not isinstance(asker, dict):
                continue
            name = str(asker.get("name") or "")[:_NAME_MAX]
            who = asker.get("user_id") or asker.get("participant_id") or asker.get("email") or name
            if not who:
                continue
            if asker.get("email") and who == asker.get("email"):
                who = "email:" + _short_hash(who)  # an id, without the address itself
            for item in asker.get("question_details") or []:
                text = item.get("question") if isinstance(item, dict) else None
                if not isinstance(text, str) or not text.strip():
                    continue
                created = item.get("create_time") or asker.get("create_time")
                qid = item.get("question_id") or asker.get("question_id")
                answer = item.get("answer")
                out.append(
                    self.envelope(
                        Kind.question,
                        str(qid)[:128] if qid else f"qa:{_short_hash(webinar_id, who, text)}",
                        platform_at=_iso(created),
                        author=Author(id=str(who)[:128], name=name),
                        text=text,
                        data={
                            "webinar_id": webinar_id,
                            "imported": True,
                            "answered": bool(answer or item.get("answer_details")),
                            "answer": answer if isinstance(answer, str) else None,
                            "status": item.get("question_status"),
                        },
                    )
                )
        return out

    def _poll_report(self, webinar_id: str, body: Any) -> Envelope:
        if not isinstance(body, dict) or not isinstance(body.get("questions"), list):
            raise Malformed('poll report: expected {"questions": [...]}')
        tallies: dict[tuple[str, str], Counter[str]] = {}
        respondents = 0
        for person in body["questions"]:
            details = person.get("question_details") if isinstance(person, dict) else None
            if not isinstance(details, list):
                continue
            respondents += 1
            for item in details:
                if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                    continue
                key = (str(item.get("polling_id") or ""), item["question"])
                # Multiple-choice answers come joined with ";".
                for answer in str(item.get("answer") or "").split(";"):
                    if answer:
                        tallies.setdefault(key, Counter())[answer] += 1
        return self.envelope(
            Kind.stream_state,
            f"poll_report:{webinar_id}",
            data={
                "event": "poll_report",
                "webinar_id": webinar_id,
                "respondents": respondents,
                "polls": [
                    {"polling_id": pid, "question": question, "answers": dict(counts)}
                    for (pid, question), counts in tallies.items()
                ],
            },
        )

    def _note(self, error: str) -> None:
        error = self.credentials.scrub(error)[:500]
        log.warning("zoom source %s: %s", self.source_id, error)
        self.health.last_error = error
        self.health.errors.append((self.clock.now(), error))

    # -- moderation --
    async def perform(self, action: Action) -> ActionResult:
        if action.type == "delete":
            return await self._delete(action)
        if action.type in ("ban", "timeout"):
            return ActionResult(
                "not_supported",
                f"Zoom has no REST call to {action.type} or remove a participant; "
                "use the host controls in Zoom",
            )
        return await super().perform(action)

    async def _delete(self, action: Action) -> ActionResult:
        message_id = str(action.params.get("message_id") or "")
        if not message_id:
            return ActionResult("failed", "delete needs params.message_id")
        kind, meeting_id = self._chat_meetings.get(message_id, ("", ""))
        meeting_id = str(self.config.get("meeting_id") or meeting_id)
        if not meeting_id:
            return ActionResult("failed", "set meeting_id in the source config to delete messages")
        kind = kind or self.meeting_type
        live = "live_meetings" if kind == "meeting" else "live_webinars"
        await self._call(
            "DELETE",
            f"/{live}/{quote(meeting_id, safe='')}/chat/messages/{quote(message_id, safe='')}",
        )
        return ActionResult("done")

    async def close(self) -> None:
        for task in self._import_tasks.values():
            task.cancel()
        await asyncio.gather(*self._import_tasks.values(), return_exceptions=True)
        self._import_tasks.clear()
        if self._api is not None:
            with contextlib.suppress(Exception):
                await self._api.close()
            self._api = None


def _roles(chat: Mapping[str, Any]) -> tuple[str, ...]:
    sender_type = chat.get("sender_type")
    return (str(sender_type),) if sender_type in ("host", "panelist", "cohost") else ()
