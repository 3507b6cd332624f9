"""Messages: queue outbound ones and read a conversation's history, scoped to the
caller's organization."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from wacc.bus import Bus, org_topic
from wacc.contacts import services as contacts
from wacc.conversations import services as conversations
from wacc.db.engine import transaction
from wacc.http.principal import Principal
from wacc.lib import cursor
from wacc.lib.clock import iso, utcnow
from wacc.lib.errors import NotFoundError, ValidationError
from wacc.lib.ids import new_id
from wacc.messages.meta import content_meta
from wacc.messages.schemas import MessageOut, MessagePage, MessageSend
from wacc.messages.tables import Message, MessageDirection, MessageStatus
from wacc.queue.jobs import Jobs
from wacc.sessions.tables import WhatsAppSession
from wacc.storage import MediaStore

SEND_JOB = "messages.send"
_MEDIA_TYPES = {"IMAGE", "VIDEO", "AUDIO", "DOCUMENT", "STICKER"}


def message_out(row: dict[str, Any]) -> MessageOut:
    meta = row["metadata"]
    if isinstance(meta, str):
        meta = json.loads(meta)
    wa_id = row["whatsapp_message_id"]
    return MessageOut(
        id=row["id"], conversation_id=row["conversation"], session_id=row["session"],
        whatsapp_message_id=None if wa_id.startswith("pending:") else wa_id,
        direction=row["direction"], type=row["type"], body=row["body"],
        media_url=row["media_url"], media_mime_type=row["media_mime_type"],
        metadata=meta or {}, status=row["status"], ack_status=row["ack_status"],
        error=row["error"], timestamp=row["timestamp"], created_at=row["created_at"],
    )


def _validate(data: MessageSend) -> None:
    required = {"TEXT": "body", "LOCATION": "location", "CONTACT": "vcard", "POLL": "poll",
                "REACTION": "reaction_to"}
    need = "media" if data.type in _MEDIA_TYPES else required[data.type]
    if getattr(data, need) in (None, ""):
        camel = {"reaction_to": "reactionTo"}.get(need, need)
        raise ValidationError.field(camel, f"required for a {data.type} message")
    if data.type == "TEXT" and not (data.body or "").strip():
        raise ValidationError.field("body", "must not be empty")


async def _quoted_wa_id(org_id: str, conversation_id: str, message_id: str | None,
                        field: str) -> str | None:
    if message_id is None:
        return None
    row = await Message.select(Message.whatsapp_message_id).where(
        (Message.id == message_id) & (Message.organization == org_id)
        & (Message.conversation == conversation_id)).first()
    if row is None or row["whatsapp_message_id"].startswith("pending:"):
        raise ValidationError.field(field, "no sent message with this id in this conversation")
    return row["whatsapp_message_id"]


async def queue(principal: Principal, conversation_id: str, data: MessageSend, *, jobs: Jobs,
                bus: Bus, media: MediaStore) -> tuple[MessageOut, bool]:
    """Write the message PENDING and enqueue its send. Returns (message, created);
    with an idempotency key already used, the first message and False."""
    org = principal.organization_id
    conversation = await conversations.get_scoped(org, conversation_id)
    if conversation is None:
        raise NotFoundError("Conversation not found")
    if data.idempotency_key:
        existing = await Message.select().where(
            (Message.organization == org) & (Message.idempotency_key == data.idempotency_key)
        ).first()
        if existing is not None:
            return message_out(existing), False
    _validate(data)
    metadata: dict[str, Any] = {}
    media_key = None
    if data.media is not None:
        try:
            raw = base64.b64decode(data.media.data, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError.field("media.data", "not base64") from None
        media.check(data.media.mime_type, len(raw))
        media_key = await media.put(org, raw, data.media.mime_type, data.media.filename)
        metadata["media"] = {"filename": data.media.filename, "size": len(raw)}
    metadata.update(content_meta(data.location, data.vcard, data.poll))
    if data.template:
        metadata["template"] = data.template
    metadata["quotedId"] = await _quoted_wa_id(org, conversation_id, data.reply_to, "replyTo")
    metadata["reactionTo"] = await _quoted_wa_id(org, conversation_id, data.reaction_to,
                                                 "reactionTo")
    if principal.user_id:
        metadata["sentBy"] = principal.user_id
    message_id = new_id()
    now = utcnow()
    inserted = await Message.insert(Message(
        id=message_id, organization=org, conversation=conversation_id,
        session=conversation["session"], whatsapp_message_id=f"pending:{message_id}",
        direction=MessageDirection.OUTBOUND.value, type=data.type, body=data.body,
        media_url=media_key, media_mime_type=data.media.mime_type if data.media else None,
        metadata={k: v for k, v in metadata.items() if v is not None},
        status=MessageStatus.PENDING.value, timestamp=now, idempotency_key=data.idempotency_key,
    )).on_conflict(action="DO NOTHING").returning(Message.id)
    if not inserted:  # the same idempotency key raced us
        existing = await Message.select().where(
            (Message.organization == org) & (Message.idempotency_key == data.idempotency_key)).first()
        assert existing is not None
        return message_out(existing), False
    jobs.enqueue(SEND_JOB, message_id)
    row = await Message.select().where(Message.id == message_id).first()
    assert row is not None
    await bus.publish(org_topic(org), {
        "type": "message:new", "messageId": message_id, "conversationId": conversation_id,
        "sessionId": conversation["session"], "direction": "OUTBOUND", "messageType": data.type,
        "body": data.body, "timestamp": iso(now)})
    return message_out(row), True


async def queue_to_phone(principal: Principal, session_id: str, phone: str, data: MessageSend, *,
                         jobs: Jobs, bus: Bus, media: MediaStore) -> tuple[MessageOut, bool]:
    """Send to a phone number through a session, creating the contact and thread."""
    org = principal.organization_id
    session = await WhatsAppSession.select(WhatsAppSession.id).where(
        (WhatsAppSession.id == session_id) & (WhatsAppSession.organization == org)).first()
    if session is None:
        raise NotFoundError("Session not found")
    try:
        e164 = contacts.normalize_phone(phone)
    except ValidationError:
        raise ValidationError.field("to", f"not a valid phone number: {phone!r}") from None
    async with transaction():
        contact = await contacts.resolve(org, contacts.wa_id_for(e164), e164, None)
        conversation = await conversations.thread_for(org, session_id, contact["id"], utcnow(),
                                                      inbound=False)
    return await queue(principal, conversation["id"], data, jobs=jobs, bus=bus, media=media)


async def list_for_conversation(principal: Principal, conversation_id: str,
                                before: str | None, limit: int) -> MessagePage:
    """Newest first; ``before`` is the cursor of the previous page."""
    org = principal.organization_id
    if await conversations.get_scoped(org, conversation_id) is None:
        raise NotFoundError("Conversation not found")
    where = (Message.conversation == conversation_id) & (Message.organization == org)
    if before:
        stamp, last_id = cursor.decode(before)
        at = datetime.fromisoformat(stamp)
        where &= (Message.timestamp < at) | ((Message.timestamp == at) & (Message.id < last_id))
    rows = await Message.select().where(where).order_by(
        Message.timestamp, ascending=False).order_by(Message.id, ascending=False).limit(limit + 1)
    items = [message_out(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = cursor.encode(last["timestamp"].isoformat(), last["id"])
    return MessagePage(items=items, next_cursor=next_cursor)


async def get(principal: Principal, message_id: str) -> MessageOut:
    row = await Message.select().where(
        (Message.id == message_id) & (Message.organization == principal.organization_id)).first()
    if row is None:
        raise NotFoundError("Message not found")
    return message_out(row)
