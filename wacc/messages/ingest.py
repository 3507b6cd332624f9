"""The inbound pipeline: engine events become stored rows, exactly once, then events on
the bus.

Idempotent on (session, WhatsApp message id): a replayed, duplicated or
reconnect-storm event finds its row and changes nothing. Acks only move a status
forward. Edits, revokes and reactions keep their history in the message's metadata.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wacc.bus import Bus, org_topic
from wacc.contacts import services as contacts
from wacc.conversations import services as conversations
from wacc.db.engine import transaction
from wacc.engines.contract import (
    Ack,
    BlockChanged,
    Edited,
    EngineEvent,
    IdentityMapped,
    InboundMessage,
    Media,
    Reaction,
    Revoked,
)
from wacc.lib.clock import iso, utcnow
from wacc.lib.ids import new_id
from wacc.logs import get_logger
from wacc.messages.tables import Message, MessageDirection, MessageStatus
from wacc.storage import MediaStore

log = get_logger(__name__)

ACK_STATUS = {-1: MessageStatus.FAILED, 0: MessageStatus.PENDING, 1: MessageStatus.SENT,
              2: MessageStatus.DELIVERED, 3: MessageStatus.READ, 4: MessageStatus.READ}

FetchMedia = Callable[[Media], Awaitable[bytes]]


@dataclass(frozen=True)
class SessionRef:
    id: str
    organization_id: str


@dataclass
class Pipeline:
    bus: Bus
    media: MediaStore
    reopen: str = "reopen"

    async def handle(self, session: SessionRef, event: EngineEvent,
                     fetch_media: FetchMedia | None = None) -> None:
        if isinstance(event, InboundMessage):
            await self.ingest(session, event, fetch_media)
        elif isinstance(event, Ack):
            await self.ack(session, event)
        elif isinstance(event, Revoked | Edited):
            await self.change(session, event)
        elif isinstance(event, Reaction):
            await self.react(session, event)
        elif isinstance(event, IdentityMapped):
            await contacts.map_identity(session.organization_id, event.lid, event.phone)
        elif isinstance(event, BlockChanged):
            await contacts.set_blocked(session.organization_id, event.peer.wa_id, event.blocked)

    async def ingest(self, session: SessionRef, ev: InboundMessage,
                     fetch_media: FetchMedia | None = None) -> str | None:
        """Store one message; returns its row id, or None when it was already stored."""
        if await Message.exists().where(
            (Message.session == session.id) & (Message.whatsapp_message_id == ev.id)
        ):
            return None
        at = datetime.fromtimestamp(ev.timestamp, UTC)
        media_key, media_error = None, None
        if ev.media is not None:
            media_key, media_error = await self._store_media(session, ev.media, fetch_media)
        metadata = _metadata(ev, media_error)
        org = session.organization_id
        message_id = new_id()
        async with transaction():
            contact = await contacts.resolve(org, ev.chat.wa_id, ev.chat.phone,
                                             None if ev.from_me else ev.sender.name)
            conversation = await conversations.thread_for(
                org, session.id, contact["id"], at, inbound=not ev.from_me, reopen=self.reopen)
            inserted = await Message.insert(
                Message(
                    id=message_id, organization=org, conversation=conversation["id"],
                    session=session.id, whatsapp_message_id=ev.id,
                    direction=(MessageDirection.OUTBOUND if ev.from_me else MessageDirection.INBOUND).value,
                    type=ev.type, body=ev.body, media_url=media_key,
                    media_mime_type=ev.media.mime_type if ev.media else None, metadata=metadata,
                    status=(MessageStatus.SENT if ev.from_me else MessageStatus.DELIVERED).value,
                    timestamp=at,
                )
            ).on_conflict(action="DO NOTHING").returning(Message.id)
            if not inserted:  # a concurrent copy of the same event won
                return None
            await contacts.touch(contact["id"], at)
        await self.bus.publish(org_topic(org), {
            "type": "message:new", "messageId": message_id, "conversationId": conversation["id"],
            "sessionId": session.id, "contactId": contact["id"],
            "direction": "OUTBOUND" if ev.from_me else "INBOUND", "messageType": ev.type,
            "body": ev.body, "timestamp": iso(at),
        })
        return message_id

    async def _store_media(self, session: SessionRef, media: Media,
                           fetch: FetchMedia | None) -> tuple[str | None, str | None]:
        try:
            if media.size is not None:
                self.media.check(media.mime_type, media.size)
            data = media.data if media.data is not None else (await fetch(media) if fetch else None)
            if data is None:
                return None, "media not downloadable"
            key = await self.media.put(session.organization_id, data, media.mime_type, media.filename)
        except Exception as exc:  # the message is kept; its media is marked missing
            reason = getattr(exc, "details", None) or [{"message": type(exc).__name__}]
            log.warning("media not stored", session=session.id, reason=reason[0]["message"])
            return None, reason[0]["message"]
        return key, None

    async def ack(self, session: SessionRef, ev: Ack) -> bool:
        """Move a sent message's status forward; never backward. True if it changed."""
        status = ACK_STATUS.get(ev.ack)
        if status is None:
            return False
        updated = await Message.update(
            {Message.ack_status: ev.ack, Message.status: status.value}
        ).where(
            (Message.session == session.id) & (Message.whatsapp_message_id == ev.id)
            & (Message.ack_status.is_null() | (Message.ack_status < ev.ack))
        ).returning(Message.id, Message.conversation)
        if not updated:
            return False
        await self.bus.publish(org_topic(session.organization_id), {
            "type": "message:ack", "messageId": updated[0]["id"],
            "conversationId": updated[0]["conversation"], "ack": ev.ack, "status": status.value,
        })
        return True

    async def change(self, session: SessionRef, ev: Revoked | Edited) -> bool:
        async with transaction():
            row = await Message.select(Message.id, Message.body, Message.metadata,
                                       Message.conversation).where(
                (Message.session == session.id) & (Message.whatsapp_message_id == ev.id)
            ).first()
            if row is None:
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
        await self.bus.publish(org_topic(session.organization_id), {
            "type": kind, "messageId": row["id"], "conversationId": row["conversation"],
            "body": ev.body if isinstance(ev, Edited) else None,
        })
        return True

    async def react(self, session: SessionRef, ev: Reaction) -> bool:
        async with transaction():
            row = await Message.select(Message.id, Message.metadata, Message.conversation).where(
                (Message.session == session.id) & (Message.whatsapp_message_id == ev.message_id)
            ).first()
            if row is None:
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
        await self.bus.publish(org_topic(session.organization_id), {
            "type": "message:reaction", "messageId": row["id"],
            "conversationId": row["conversation"], "emoji": ev.emoji, "by": ev.sender.wa_id,
        })
        return True


def _loads(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return json.loads(value) if isinstance(value, str) else dict(value)


def _metadata(ev: InboundMessage, media_error: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"sender": ev.sender.wa_id}
    if ev.quoted_id:
        meta["quotedId"] = ev.quoted_id
    if ev.location:
        meta["location"] = {"latitude": ev.location.latitude, "longitude": ev.location.longitude,
                            "name": ev.location.name, "address": ev.location.address}
    if ev.vcard:
        meta["vcard"] = ev.vcard
    if ev.poll:
        meta["poll"] = {"question": ev.poll.question, "options": ev.poll.options,
                        "selectableCount": ev.poll.selectable_count}
    if ev.reaction_to:
        meta["reactionTo"] = ev.reaction_to
    if ev.media:
        meta["media"] = {"filename": ev.media.filename, "size": ev.media.size,
                         "sha256": ev.media.sha256}
        if media_error:
            meta["media"]["error"] = media_error
    return meta
