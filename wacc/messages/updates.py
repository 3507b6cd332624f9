"""Updates to stored messages from a session's engine: acks, edits, revokes, reactions.

Each applies to the message with that WhatsApp id in the session. One that comes before
its message is kept (wacc.messages.early) and applied by ``apply_kept`` once the message
is stored or its send recorded; an update applied twice changes nothing the second time
(acks only move forward, edits and reactions are recorded once).
"""

from __future__ import annotations

import json
from typing import Any

from wacc.bus import Bus, org_topic
from wacc.db.engine import transaction
from wacc.engines.contract import Ack, Edited, Reaction, Revoked
from wacc.lib.clock import iso, utcnow
from wacc.messages import early
from wacc.messages.tables import Message, MessageStatus
from wacc.sessions.inbound import SessionRef

ACK_STATUS = {-1: MessageStatus.FAILED, 0: MessageStatus.PENDING, 1: MessageStatus.SENT,
              2: MessageStatus.DELIVERED, 3: MessageStatus.READ, 4: MessageStatus.READ}


async def apply_kept(bus: Bus, session: SessionRef, whatsapp_ids: list[str]) -> int:
    """Apply the updates kept for these messages, in the order they arrived."""
    applied = 0
    for update in await early.take(session.id, whatsapp_ids):
        if isinstance(update, Ack):
            done = await ack(bus, session, update, keep=False)
        elif isinstance(update, Reaction):
            done = await react(bus, session, update, keep=False)
        else:
            done = await change(bus, session, update, keep=False)
        applied += int(done)
    return applied


async def _exists(session: SessionRef, whatsapp_id: str) -> bool:
    return bool(await Message.exists().where(
        (Message.session == session.id) & (Message.whatsapp_message_id == whatsapp_id)))


async def ack(bus: Bus, session: SessionRef, ev: Ack, *, keep: bool = True) -> bool:
    """Move a sent message's status forward; never backward. True if it changed."""
    status = ACK_STATUS.get(ev.ack)
    if status is None:
        return False
    values: dict[Any, Any] = {Message.ack_status: ev.ack, Message.status: status.value}
    if ev.ack == -1:
        values[Message.error] = (ev.error or "WhatsApp did not deliver the message")[:500]
    # Forward only; a failure (-1) still lands on a message only sent so far
    # (WhatsApp reports undeliverable after it accepted the message).
    progress = (Message.ack_status < ev.ack) if ev.ack >= 0 else Message.ack_status.is_in([0, 1])
    updated = await Message.update(values).where(
        (Message.session == session.id) & (Message.whatsapp_message_id == ev.id)
        & (Message.ack_status.is_null() | progress)
    ).returning(Message.id, Message.conversation)
    if not updated:
        if keep and not await _exists(session, ev.id):
            await early.hold(session.id, ev)
        return False
    await bus.publish(org_topic(session.organization_id), {
        "type": "message:ack", "messageId": updated[0]["id"],
        "conversationId": updated[0]["conversation"], "ack": ev.ack, "status": status.value,
        **({"error": ev.error} if ev.error else {}),
    })
    return True


async def change(bus: Bus, session: SessionRef, ev: Revoked | Edited, *,
                 keep: bool = True) -> bool:
    async with transaction():
        row = await Message.select(Message.id, Message.body, Message.metadata,
                                   Message.conversation).where(
            (Message.session == session.id) & (Message.whatsapp_message_id == ev.id)
        ).first()
        if row is None:
            if keep:
                await early.hold(session.id, ev)
            return False
        meta = _loads(row["metadata"])
        if isinstance(ev, Revoked):
            if meta.get("revoked"):
                return False
            meta["revoked"] = {"at": iso(utcnow()), "by": ev.by.wa_id if ev.by else None,
                               "body": row["body"]}
            values: dict[Any, Any] = {Message.metadata: meta}
            kind = "message:deleted"
        else:
            edits = meta.setdefault("edits", [])
            if any(e.get("timestamp") == ev.timestamp for e in edits) or row["body"] == ev.body:
                return False
            edits.append({"body": row["body"], "timestamp": ev.timestamp})
            values = {Message.metadata: meta, Message.body: ev.body}
            kind = "message:edited"
        await Message.update(values).where(Message.id == row["id"])
    await bus.publish(org_topic(session.organization_id), {
        "type": kind, "messageId": row["id"], "conversationId": row["conversation"],
        "body": ev.body if isinstance(ev, Edited) else None,
    })
    return True


async def react(bus: Bus, session: SessionRef, ev: Reaction, *, keep: bool = True) -> bool:
    async with transaction():
        row = await Message.select(Message.id, Message.metadata, Message.conversation).where(
            (Message.session == session.id) & (Message.whatsapp_message_id == ev.message_id)
        ).first()
        if row is None:
            if keep:
                await early.hold(session.id, ev)
            return False
        meta = _loads(row["metadata"])
        history = meta.setdefault("reactionHistory", [])
        entry = {"by": ev.sender.wa_id, "emoji": ev.emoji, "timestamp": ev.timestamp}
        if entry in history:
            return False
        history.append(entry)
        current = meta.setdefault("reactions", {})
        if ev.emoji:
            current[ev.sender.wa_id] = ev.emoji
        else:
            current.pop(ev.sender.wa_id, None)
        await Message.update({Message.metadata: meta}).where(Message.id == row["id"])
    await bus.publish(org_topic(session.organization_id), {
        "type": "message:reaction", "messageId": row["id"],
        "conversationId": row["conversation"], "emoji": ev.emoji, "by": ev.sender.wa_id,
    })
    return True


def _loads(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return json.loads(value) if isinstance(value, str) else dict(value)
