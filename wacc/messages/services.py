"""Messages: queue outbound ones and read a conversation's history, scoped to the
caller's organization."""

from __future__ import annotations

import base64
import binascii
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from wacc import events, outbox
from wacc.bus import Bus, org_topic
from wacc.contacts import services as contacts
from wacc.contacts.tables import Contact
from wacc.conversations import inbox as conversations
from wacc.conversations import threading as threads
from wacc.conversations.tables import Conversation
from wacc.db.engine import transaction
from wacc.engines.cloud.outbound import check_media, window_open
from wacc.engines.contract import Peer, Revoke
from wacc.lib import cursor
from wacc.lib.clock import iso, utcnow
from wacc.lib.errors import ConflictError, NotFoundError, ValidationError
from wacc.lib.ids import new_id
from wacc.messages import outbound
from wacc.messages.meta import content_meta
from wacc.messages.schemas import (
    ConversationStart,
    ConversationStarted,
    MessageOut,
    MessagePage,
    MessageSend,
)
from wacc.messages.tables import Message, MessageDirection, MessageStatus
from wacc.queue.jobs import Jobs
from wacc.security.principal import Principal
from wacc.sessions import services as sessions
from wacc.sessions.rpc import SessionRpc
from wacc.sessions.tables import WhatsAppSession
from wacc.storage import MediaStore

SEND_JOB = outbound.SEND_JOB
# WhatsApp lets a sender delete a message for everyone for about two and a half days.
REVOKE_WINDOW = timedelta(hours=60)
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


@dataclass(frozen=True)
class Upload:
    """A media file as received: decoded base64 (bytes), or a multipart upload the web
    server spooled to disk (a seekable file, never read into memory whole)."""

    data: bytes | BinaryIO
    mime_type: str
    filename: str | None = None

    @property
    def size(self) -> int:
        if isinstance(self.data, bytes):
            return len(self.data)
        end = self.data.seek(0, io.SEEK_END)
        self.data.seek(0)
        return end

    def head(self, n: int = 64) -> bytes:
        """The first *n* bytes (enough to tell a file's kind)."""
        if isinstance(self.data, bytes):
            return self.data[:n]
        self.data.seek(0)
        first = self.data.read(n)
        self.data.seek(0)
        return first


def media_type_for(mime_type: str) -> str:
    """The WhatsApp message type a file is sent as, by its MIME type."""
    kind = mime_type.split("/", 1)[0].lower()
    if mime_type.lower() == "image/webp":
        return "STICKER"
    return {"image": "IMAGE", "video": "VIDEO", "audio": "AUDIO"}.get(kind, "DOCUMENT")


def _validate(data: MessageSend, upload: Upload | None) -> None:
    required = {"TEXT": "body", "LOCATION": "location", "CONTACT": "vcard", "POLL": "poll",
                "REACTION": "reaction_to"}
    if data.type in _MEDIA_TYPES:
        if upload is None:
            raise ValidationError.field("media", f"required for a {data.type} message")
        return
    need = required[data.type]
    if getattr(data, need) in (None, ""):
        camel = {"reaction_to": "reactionTo"}.get(need, need)
        raise ValidationError.field(camel, f"required for a {data.type} message")
    if data.type == "TEXT" and not (data.body or "").strip():
        raise ValidationError.field("body", "must not be empty")


def _checked_upload(data: MessageSend, upload: Upload | None) -> Upload | None:
    """The message's file (the multipart *upload*, or ``data.media`` decoded), after
    checking that the message has what its type needs (400 otherwise)."""
    if upload is None and data.media is not None:
        try:
            raw = base64.b64decode(data.media.data, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError.field("media.data", "not base64") from None
        upload = Upload(raw, data.media.mime_type, data.media.filename)
    _validate(data, upload)
    return upload


async def _check_for_engine(session_id: str, message_type: str, upload: Upload) -> None:
    """Refuse (400) a file the session's WhatsApp would refuse, before anything is stored:
    the Cloud API takes only some types per kind, up to a size per kind."""
    row = await WhatsAppSession.select(WhatsAppSession.engine).where(
        WhatsAppSession.id == session_id).first()
    if row is None or row["engine"] != "cloud":
        return
    # The cloud engine's own rule (a pure function), so the API and the engine agree.
    problem = check_media(message_type, upload.mime_type, upload.head(), upload.size)
    if problem:
        raise ValidationError.field("media", problem)


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
                bus: Bus, media: MediaStore, upload: Upload | None = None,
                ai_generated: bool = False) -> tuple[MessageOut, bool]:
    """Write the message PENDING and record its send (wacc.outbox). Returns (message, created);
    with an idempotency key already used, the first message and False. The media comes
    as *upload* (multipart) or base64 in ``data.media``."""
    org = principal.organization_id
    conversation = await conversations.visible(principal, conversation_id)
    if data.idempotency_key:
        existing = await Message.select().where(
            (Message.organization == org) & (Message.idempotency_key == data.idempotency_key)
        ).first()
        if existing is not None:
            await _resume_send(existing)
            return message_out(existing), False
    upload = _checked_upload(data, upload)
    metadata: dict[str, Any] = {}
    media_key = None
    if upload is not None:
        media.check(upload.mime_type, upload.size)
        await _check_for_engine(conversation["session"], data.type, upload)
        media_key = await media.put(org, upload.data, upload.mime_type, upload.filename)
        metadata["media"] = {"filename": upload.filename, "size": upload.size}
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
    # The row, its send job and its event commit together (the transactional outbox):
    # a queue outage delays the send, it never leaves a PENDING row nobody sends.
    async with transaction():
        inserted = await Message.insert(Message(
            id=message_id, organization=org, conversation=conversation_id,
            session=conversation["session"], whatsapp_message_id=f"pending:{message_id}",
            direction=MessageDirection.OUTBOUND.value, type=data.type, body=data.body,
            media_url=media_key, media_mime_type=upload.mime_type if upload else None,
            metadata={k: v for k, v in metadata.items() if v is not None},
            status=MessageStatus.PENDING.value, timestamp=now,
            idempotency_key=data.idempotency_key, is_ai_generated=ai_generated,
        )).on_conflict(action="DO NOTHING").returning(Message.id)
        if inserted:
            await outbox.add(SEND_JOB, message_id, subject=message_id)
            await events.emit(events.MessageQueued(
                organization_id=org, message_id=message_id, conversation_id=conversation_id,
                sent_by=principal.user_id, ai_generated=ai_generated))
    if not inserted:  # the same idempotency key raced us
        existing = await Message.select().where(
            (Message.organization == org) & (Message.idempotency_key == data.idempotency_key)).first()
        assert existing is not None
        return message_out(existing), False
    row = await Message.select().where(Message.id == message_id).first()
    assert row is not None
    await bus.publish(org_topic(org), {
        "type": "message:new", "messageId": message_id, "conversationId": conversation_id,
        "sessionId": conversation["session"], "direction": "OUTBOUND", "messageType": data.type,
        "body": data.body, "timestamp": iso(now)})
    return message_out(row), True


async def _resume_send(row: dict[str, Any]) -> None:
    """A request retried with its idempotency key: if its message still waits to be
    sent with no send waiting in the outbox and none claimed (written before the
    outbox, or its job lost with a queue that forgot it), record one. The send job
    claims the row before it sends and skips a sent one, so an extra job never sends
    twice."""
    if (row["status"] != MessageStatus.PENDING.value or row["direction"] != "OUTBOUND"
            or row["claimed_at"] is not None):
        return  # sent, failed, or being sent
    if not await outbox.waiting(SEND_JOB, row["id"]):
        await outbox.add(SEND_JOB, row["id"], subject=row["id"])


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
        conversation = await threads.thread_for(org, session_id, contact["id"], utcnow(),
                                                      inbound=False)
    await conversations.claim_if_unassigned(principal, conversation["id"])
    return await queue(principal, conversation["id"], data, jobs=jobs, bus=bus, media=media)


async def start_conversation(principal: Principal, data: ConversationStart, *, jobs: Jobs,
                             bus: Bus, media: MediaStore) -> tuple[ConversationStarted, bool]:
    """The business writes first: to a contact (by id) or a phone number (the contact is
    created), through a session. The message goes into the open conversation of that
    contact and session, or a new one, and is then queued exactly as a reply is (the same
    idempotency key rule and send job). Returns (what was started, whether the message is
    new); a repeated idempotency key returns the first message and creates nothing.

    Everything that can be refused is checked before anything is written: the session and
    the contact (404 when not the caller's organization's), the phone number, the message,
    and on a Cloud API session the 24-hour window (closed: only a template goes out)."""
    org = principal.organization_id
    if (data.contact_id is None) == (data.phone is None):
        raise ValidationError.field("contactId", "give either contactId or phone")
    session = await WhatsAppSession.select(WhatsAppSession.id, WhatsAppSession.engine).where(
        (WhatsAppSession.id == data.session_id) & (WhatsAppSession.organization == org)).first()
    if session is None:
        raise NotFoundError("Session not found")
    message = data.message
    if message.idempotency_key:
        existing = await Message.select().where(
            (Message.organization == org) & (Message.idempotency_key == message.idempotency_key)
        ).first()
        if existing is not None:
            conversation = await conversations.get(principal, existing["conversation"])
            return ConversationStarted(conversation=conversation, message=message_out(existing),
                                       new_conversation=False), False
    contact: dict[str, Any] | None = None
    e164 = None
    if data.contact_id is not None:
        contact = await contacts.scoped_row(org, data.contact_id)
    else:
        try:
            e164 = contacts.normalize_phone(data.phone or "")
        except ValidationError:
            raise ValidationError.field("phone", f"not a valid phone number: {data.phone!r}") from None
        contact = await contacts.by_phone(org, e164)
    _checked_upload(message, None)
    if session["engine"] == "cloud" and message.template is None:
        last = await last_inbound_for_contacts(session["id"], [contact["id"]] if contact else [])
        if not window_open(last, utcnow().timestamp()):
            raise ValidationError.field(
                "message.template", "this customer has not written in the last 24 hours, so "
                "WhatsApp delivers only an approved template: send one to start")
    async with transaction():
        if contact is None:
            assert e164 is not None
            contact = await contacts.resolve(org, contacts.wa_id_for(e164), e164, None)
        thread, created = await threads.open_thread(org, session["id"], contact["id"],
                                                          utcnow())
    await conversations.claim_if_unassigned(principal, thread["id"])
    out, queued = await queue(principal, thread["id"], message, jobs=jobs, bus=bus, media=media)
    started = ConversationStarted(conversation=await conversations.get(principal, thread["id"]),
                                  message=out, new_conversation=created)
    return started, queued


async def list_for_conversation(principal: Principal, conversation_id: str,
                                before: str | None, limit: int) -> MessagePage:
    """Newest first; ``before`` is the cursor of the previous page."""
    org = principal.organization_id
    await conversations.visible(principal, conversation_id)
    where = (Message.conversation == conversation_id) & (Message.organization == org)
    if before:
        at, last_id = cursor.decode_time(before)
        where &= (Message.timestamp < at) | ((Message.timestamp == at) & (Message.id < last_id))
    rows = await Message.select().where(where).order_by(
        Message.timestamp, ascending=False).order_by(Message.id, ascending=False).limit(limit + 1)
    items = [message_out(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = cursor.encode(last["timestamp"].isoformat(), last["id"])
    return MessagePage(items=items, next_cursor=next_cursor)


async def latest_for_conversations(principal: Principal,
                                   conversation_ids: list[str]) -> dict[str, MessageOut]:
    """The newest message of each conversation, in two queries whatever their number (an
    inbox page shows a preview per row). The caller got the ids from a listing that
    already applied the visibility rule; the organization is checked here again."""
    if not conversation_ids:
        return {}
    table = Message._meta.tablename
    marks = ", ".join("{}" for _ in conversation_ids)
    # The correlated MAX walks the (conversation, timestamp) index once per conversation.
    found = await Message.raw(
        f"SELECT m.id, m.conversation FROM {table} m WHERE m.organization = {{}} "
        f"AND m.conversation IN ({marks}) AND m.timestamp = (SELECT MAX(x.timestamp) "
        f"FROM {table} x WHERE x.conversation = m.conversation)",
        principal.organization_id, *conversation_ids,
    )
    newest: dict[str, str] = {}
    for row in found:  # equal timestamps: the larger id, as list_for_conversation orders
        conversation = str(row["conversation"])
        if str(row["id"]) > newest.get(conversation, ""):
            newest[conversation] = str(row["id"])
    if not newest:
        return {}
    rows = await Message.select().where(Message.id.is_in(list(newest.values())))
    return {r["conversation"]: message_out(r) for r in rows}


async def _visible_row(principal: Principal, message_id: str) -> dict[str, Any]:
    row = await Message.select().where(
        (Message.id == message_id) & (Message.organization == principal.organization_id)).first()
    if row is None:
        raise NotFoundError("Message not found")
    try:
        await conversations.visible(principal, row["conversation"])
    except NotFoundError:
        raise NotFoundError("Message not found") from None
    return row


async def get(principal: Principal, message_id: str) -> MessageOut:
    return message_out(await _visible_row(principal, message_id))


async def revoke(principal: Principal, message_id: str, *, rpc: SessionRpc,
                 bus: Bus) -> MessageOut:
    """Delete one of our messages for everyone. Not yet sent: the send is cancelled.
    Sent: WhatsApp deletes it on the customer's phone, then we mark it revoked (the
    text is kept in the metadata, as for revokes by customers)."""
    row = await _visible_row(principal, message_id)
    if row["direction"] != MessageDirection.OUTBOUND.value:
        raise ValidationError.field("messageId", "only messages sent from here can be revoked")
    meta = _meta(row)
    if meta.get("revoked"):
        return message_out(row)
    meta["revoked"] = {"at": iso(utcnow()), "by": None, "byUser": principal.user_id,
                       "body": row["body"]}
    if row["status"] == MessageStatus.PENDING.value:
        # Only while no sender has claimed it: a claimed send may already be on WhatsApp.
        cancelled = await Message.update({
            Message.metadata: meta, Message.status: MessageStatus.FAILED.value,
            Message.error: "revoked before it was sent",
        }).where((Message.id == message_id) & (Message.status == MessageStatus.PENDING.value)
                 & Message.claimed_at.is_null()).returning(Message.id)
        if not cancelled:
            raise ConflictError("The message is being sent right now; try again in a moment")
    else:
        if row["status"] != MessageStatus.FAILED.value:
            if utcnow() - row["timestamp"] > REVOKE_WINDOW:
                raise ValidationError.field(
                    "messageId", "WhatsApp allows deleting for everyone only within 60 hours")
            chat = await _chat_of(row["conversation"])
            await sessions.command(principal, row["session"], rpc,
                                   Revoke(chat=chat, message_id=row["whatsapp_message_id"]))
        await Message.update({Message.metadata: meta}).where(Message.id == message_id)
    await bus.publish(org_topic(principal.organization_id), {
        "type": "message:deleted", "messageId": message_id,
        "conversationId": row["conversation"], "body": None})
    updated = await Message.select().where(Message.id == message_id).first()
    assert updated is not None
    return message_out(updated)


def _meta(row: dict[str, Any]) -> dict[str, Any]:
    meta = row["metadata"]
    if isinstance(meta, str):
        meta = json.loads(meta)
    return dict(meta or {})


async def _chat_of(conversation_id: str) -> Peer:
    row = await conversations.contact_peer(conversation_id)
    return Peer(wa_id=row["whatsapp_id"], phone=row["phone_number"] or None)


async def last_message_at(session_id: str) -> datetime | None:
    """When the newest stored message of this session was sent or received (where a
    back-fill of its history starts)."""
    last = await Message.select(Message.timestamp).where(Message.session == session_id).order_by(
        Message.timestamp, ascending=False).first()
    return None if last is None else last["timestamp"]


async def last_inbound_at(session_id: str, wa_id: str, phone: str | None) -> float | None:
    """When this customer last wrote through this session (seconds since the epoch), from
    the stored messages: what the Cloud API's 24-hour reply window runs from. The
    customer is matched by WhatsApp id, hidden id or phone, as contacts are merged."""
    org = await WhatsAppSession.select(WhatsAppSession.organization).where(
        WhatsAppSession.id == session_id).first()
    if org is None:
        return None
    match = (Contact.whatsapp_id == wa_id) | (Contact.lid == wa_id)
    if phone:
        match = match | (Contact.phone_number == phone)
    people = [r["id"] for r in await Contact.select(Contact.id).where(
        (Contact.organization == org["organization"]) & match)]
    return await last_inbound_for_contacts(session_id, people)


async def last_inbound_for_contacts(session_id: str, people: list[str]) -> float | None:
    """When any of these contacts last wrote through this session (epoch seconds)."""
    if not people:
        return None
    threads = [r["id"] for r in await Conversation.select(Conversation.id).where(
        (Conversation.session == session_id) & Conversation.contact.is_in(people))]
    if not threads:
        return None
    row = await Message.select(Message.timestamp).where(
        Message.conversation.is_in(threads) & (Message.session == session_id)
        & (Message.direction == MessageDirection.INBOUND.value)
    ).order_by(Message.timestamp, ascending=False).first()
    if row is None:
        return None
    when = row["timestamp"]
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


async def mark_ai_generated(organization_id: str, message_id: str, metadata: dict[str, Any], *,
                            provider: str | None = None, model: str | None = None,
                            prompt_tokens: int | None = None,
                            completion_tokens: int | None = None) -> None:
    """Mark a queued message as the AI's answer: its *metadata* (reason, citations) and,
    for a model's answer, the provider, model and tokens (the AI's replies, wacc.ai)."""
    values: dict[Any, Any] = {Message.is_ai_generated: True, Message.metadata: metadata}
    if provider is not None:
        values.update({Message.ai_provider: provider, Message.ai_model: model,
                       Message.ai_prompt_tokens: prompt_tokens,
                       Message.ai_completion_tokens: completion_tokens})
    await Message.update(values).where(
        (Message.id == message_id) & (Message.organization == organization_id))
