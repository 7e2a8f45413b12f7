"""Chat moderation: hide in the console, act on the platform, review held messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.models import User
from app.bus import Bus
from app.chat.models import ChatMessage, ModerationAction
from app.connectors.base import Action
from app.connectors.registry import capabilities_for
from app.db import get_in_event, reread_after_conflict, update_if_version
from app.errors import AppError, VersionConflict
from app.events.models import Source
from app.pipeline.deltas import chat_message_data, delta, row_dict


class NotHeld(AppError):
    status_code = 409
    code = "not_held"


def data(message: ChatMessage) -> dict[str, Any]:
    return chat_message_data(row_dict(message))


def action_data(action: ModerationAction) -> dict[str, Any]:
    return {
        "id": action.id,
        "action_id": action.id,
        "chat_message_id": action.chat_message_id,
        "source_id": action.source_id,
        "action": action.type,
        "params": action.params,
        "status": action.status,
        "reason": action.reason,
        "requested_by": action.requested_by,
        "created_at": action.created_at,
        "completed_at": action.completed_at,
    }


async def get(session: AsyncSession, event_id: str, message_id: str) -> ChatMessage:
    message: ChatMessage = await get_in_event(
        session, ChatMessage, message_id, event_id, "chat message"
    )
    return message


async def set_visibility(
    session: AsyncSession,
    message: ChatMessage,
    version: int,
    *,
    hidden: bool,
    held: bool,
    actor: User | str,
    action: str,
) -> ChatMessage:
    before = {"hidden": message.hidden, "held": message.held, "version": message.version}
    if message.version != version or not await update_if_version(
        session, message, version, {"hidden": hidden, "held": held}
    ):
        current = await reread_after_conflict(session, ChatMessage, message.id)
        raise VersionConflict(
            f"someone else moderated this message first (now version {current.version}): review it",
            current=data(current),
        )
    audit.record(
        session,
        event_id=message.event_id,
        actor=actor,
        action=action,
        target_type="chat_message",
        target_id=message.id,
        before=before,
        after={"hidden": hidden, "held": held, "version": message.version},
    )
    return message


async def hide(
    session: AsyncSession, message: ChatMessage, version: int, actor: User
) -> ChatMessage:
    return await set_visibility(
        session, message, version, hidden=True, held=message.held, actor=actor, action="hide"
    )


async def unhide(
    session: AsyncSession, message: ChatMessage, version: int, actor: User
) -> ChatMessage:
    return await set_visibility(
        session, message, version, hidden=False, held=message.held, actor=actor, action="unhide"
    )


async def release(
    session: AsyncSession, message: ChatMessage, version: int, actor: User
) -> ChatMessage:
    if not message.held:
        raise NotHeld("this message is not held for review", current=data(message))
    return await set_visibility(
        session, message, version, hidden=False, held=False, actor=actor, action="release"
    )


async def reject(
    session: AsyncSession, message: ChatMessage, version: int, actor: User
) -> ChatMessage:
    if not message.held:
        raise NotHeld("this message is not held for review", current=data(message))
    return await set_visibility(
        session, message, version, hidden=True, held=False, actor=actor, action="reject"
    )


PLATFORM_REMOVALS = frozenset({"message_deleted", "user_cleared", "user_banned"})


async def removed_on_platform(
    session: AsyncSession, event_id: str, source_id: str, data: dict[str, Any]
) -> list[ChatMessage]:
    """Hides lines the platform itself removed (a deletion, a user's messages cleared).

    The platform's moderators act too; consoles should not keep showing what the
    audience no longer sees. Returns the lines that changed.
    """
    where = [ChatMessage.event_id == event_id, ChatMessage.source_id == source_id]
    if data.get("event") == "message_deleted" and data.get("message_id"):
        where.append(ChatMessage.platform_message_id == str(data["message_id"]))
    elif data.get("user_id"):
        where.append(ChatMessage.author_id == str(data["user_id"]))
    else:
        return []  # a whole-chat clear leaves our record as it is
    lines = list((await session.scalars(select(ChatMessage).where(*where))).all())
    changed = [m for m in lines if not m.hidden]
    for message in changed:
        message.hidden = True
        message.version += 1
        message.moderation_reason = f"removed on the platform ({data['event']})"
    return changed


async def held(session: AsyncSession, event_id: str, limit: int) -> tuple[list[ChatMessage], int]:
    """The oldest `limit` lines held for review, and how many are held in all."""
    # `held = true` (not IS TRUE): the form both databases match to the partial index.
    where = (ChatMessage.event_id == event_id, ChatMessage.held == True)  # noqa: E712
    query = select(ChatMessage).where(*where).order_by(ChatMessage.received_at).limit(limit)
    total = await session.scalar(select(func.count()).select_from(ChatMessage).where(*where))
    return list((await session.scalars(query)).all()), int(total or 0)


async def request_action(
    session: AsyncSession,
    message: ChatMessage,
    kind: str,
    params: dict[str, Any],
    actor: User,
) -> ModerationAction:
    """Records a platform action; it is sent to the connector after the commit."""
    source = await session.get(Source, message.source_id)
    assert source is not None
    supported = kind in capabilities_for(source.platform)
    action = ModerationAction(
        event_id=message.event_id,
        source_id=message.source_id,
        chat_message_id=message.id,
        type=kind,
        params={
            "message_id": message.platform_message_id,
            "author_id": message.author_id,
            **params,
        },
        status="pending" if supported else "not_supported",
        reason=None if supported else f"{source.name} ({source.platform}) cannot {kind}",
        requested_by=f"user:{actor.username}",
    )
    session.add(action)
    await session.flush()
    audit.record(
        session,
        event_id=message.event_id,
        actor=actor,
        action=f"platform_{kind}",
        target_type="chat_message",
        target_id=message.id,
        after={"action_id": action.id, "status": action.status, **action.params},
    )
    return action


async def dispatch(bus: Bus, action: ModerationAction) -> None:
    """Hands a pending action to its connector (after the commit) and tells the consoles."""
    if action.status == "pending":
        await bus.add_command(
            action.event_id,
            action.source_id,
            Action(action.id, action.type, action.source_id, action.params).to_json(),
        )
    await bus.publish_live(
        action.event_id, [delta("chat", "moderation.result", action_data(action))], urgent=True
    )


async def publish_messages(bus: Bus, event_id: str, messages: list[ChatMessage]) -> None:
    if messages:
        deltas = [delta("chat", "chat.updated", data(m)) for m in messages]
        await bus.publish_live(event_id, deltas, urgent=True)
