"""The inbound pipeline: engine events become stored rows, exactly once, then events on
the bus.

Idempotent on (session, WhatsApp message id): a replayed, duplicated or
reconnect-storm event finds its row and changes nothing. Acks only move a status
forward. Edits, revokes and reactions keep their history in the message's metadata.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wacc import events, outbox
from wacc.bus import Bus, org_topic
from wacc.contacts import services as contacts
from wacc.conversations import threading as conversations
from wacc.db.engine import transaction
from wacc.engines.contract import (
    Ack,
    BlockChanged,
    Edited,
    EngineEvent,
    IdentityChanged,
    IdentityMapped,
    InboundMessage,
    Media,
    Reaction,
    Revoked,
    SessionAlert,
    is_broadcast_id,
)
from wacc.lib.clock import iso
from wacc.lib.ids import new_id
from wacc.lib.text import clean_value
from wacc.logs import get_logger
from wacc.messages import media_jobs, services, updates
from wacc.messages.meta import content_meta
from wacc.messages.tables import Message, MessageDirection, MessageStatus
from wacc.orgs import services as orgs
from wacc.queue.jobs import Jobs
from wacc.sessions import services as sessions
from wacc.sessions.inbound import FetchMedia, SessionRef
from wacc.storage import MediaStore

log = get_logger(__name__)

# A media file left for the fetch job: stored with the message's metadata, not an error.
PENDING = "pending"


async def _fetch_later(media: Media) -> bytes:
    """Marks media the fetch job downloads after the message is stored; never called."""
    raise RuntimeError("deferred media is fetched by the messages.fetch_media job")


# Most messages written in one transaction; bigger batches gain little and hold the
# SQLite write lock longer.
MAX_BATCH = 256
_EPOCH = datetime.fromtimestamp(0, UTC)


@dataclass(eq=False)
class _Pending:
    session: SessionRef
    event: InboundMessage
    media_key: str | None
    media_error: str | None
    future: asyncio.Future[str | None]
    quiet: bool = False  # history: stored, but no automation or auto-responder events
    message_id: str = field(default_factory=new_id)
    contact_id: str = ""
    conversation_id: str = ""
    new_contact: bool = False
    new_conversation: bool = False
    reopened: bool = False  # the message put a finished conversation back to OPEN

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.event.timestamp, UTC)


@dataclass
class Pipeline:
    bus: Bus
    media: MediaStore
    reopen: str = "reopen"
    # Where media of engines that defer it (defer_media) is fetched: without jobs, the
    # pipeline downloads inline as before.
    jobs: Jobs | None = None
    _queue: asyncio.Queue[_Pending | None] | None = field(default=None, init=False, repr=False)
    _writer: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    async def handle(self, session: SessionRef, event: EngineEvent,
                     fetch_media: FetchMedia | None = None, *, defer_media: bool = False) -> None:
        """Apply one engine event. ``defer_media``: the engine's files are fetched by a
        job after the message is stored (messages.fetch_media), so the engine's caller
        (the Cloud API's webhook) is answered without waiting for a download."""
        # Text the database cannot keep (NUL, lone surrogates) is cleaned here, where
        # every engine's events enter: a customer's NUL must not make the message
        # unstorable, or the provider re-sends it for days (issue 14).
        event = clean_value(event)
        if isinstance(event, InboundMessage):
            deferred = defer_media and self.jobs is not None
            await self.ingest(session, event, _fetch_later if deferred else fetch_media)
        elif isinstance(event, Ack):
            await self.ack(session, event)
        elif isinstance(event, Revoked | Edited):
            await self.change(session, event)
        elif isinstance(event, Reaction):
            await self.react(session, event)
        elif isinstance(event, IdentityMapped):
            await contacts.map_identity(session.organization_id, event.lid, event.phone)
        elif isinstance(event, IdentityChanged):
            await contacts.change_identity(session.organization_id, event.old.wa_id, event.old.phone,
                                           event.new.wa_id, event.new.phone)
        elif isinstance(event, SessionAlert):
            await sessions.record_alert(self.bus, session.id, session.organization_id,
                                        event.code, event.detail)
        elif isinstance(event, BlockChanged):
            await contacts.set_blocked(session.organization_id, event.peer.wa_id, event.blocked)

    async def ingest(self, session: SessionRef, ev: InboundMessage,
                     fetch_media: FetchMedia | None = None, *, quiet: bool = False) -> str | None:
        """Store one message; returns its row id, or None when it was already stored
        (or is not for the inbox: a status update, a channel, an ignored group).

        ``quiet`` (history imports): the message is stored and shown, but triggers no
        automation, as it was answered long ago.

        Messages are written in batches: whatever has queued up while the previous
        batch was being written goes into the next transaction together (group
        commit), so a burst costs a few queries per batch instead of per message,
        and a lone message is written at once."""
        ev = clean_value(ev)  # history imports come here without handle()
        if not await self.wanted(session, ev):
            return None
        media_key, media_error = None, None
        if ev.media is not None:
            # Only download media for a message not stored yet (replays skip it).
            if await Message.exists().where(
                (Message.session == session.id) & (Message.whatsapp_message_id == ev.id)
            ):
                return None
            if fetch_media is _fetch_later and ev.media.data is None and ev.media.fetch:
                media_key, media_error = None, PENDING
            else:
                media_key, media_error = await self._store_media(session, ev.media, fetch_media)
        if self._queue is None or self._writer is None or self._writer.done():
            self._queue = asyncio.Queue()
            self._writer = asyncio.create_task(self._write_batches(self._queue),
                                               name="wacc-ingest-writer")
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(session, ev, media_key, media_error, future, quiet))
        return await future

    async def wanted(self, session: SessionRef, ev: InboundMessage) -> bool:
        """Whether a message becomes part of a conversation. Status updates, broadcast
        lists and channels never do (engines filter them too; this is the backstop),
        group chats only when the organization does not ignore groups (the default)."""
        if is_broadcast_id(ev.chat.wa_id) or is_broadcast_id(ev.sender.wa_id):
            return False
        if ev.chat.is_group:
            settings = await orgs.settings_of(session.organization_id)
            return not settings.get("ignoreGroups", True)
        return True

    async def _write_batches(self, queue: asyncio.Queue[_Pending | None]) -> None:
        while True:
            first = await queue.get()
            if first is None:  # close(): everything queued before it is written
                return
            batch = [first]
            while len(batch) < MAX_BATCH and not queue.empty():
                item = queue.get_nowait()
                if item is None:
                    queue.put_nowait(None)
                    break
                batch.append(item)
            try:
                stored = await self._store_batch(batch)
            except Exception:
                # One bad event must not fail its neighbours: write them one by one.
                stored = {}
                for item in batch:
                    try:
                        stored.update(await self._store_batch([item]))
                    except Exception as exc:
                        log.exception("message not stored", message=item.event.id)
                        if not item.future.done():
                            item.future.set_exception(exc)
            for item in batch:
                if not item.future.done():
                    item.future.set_result(stored.get(id(item)))
            await self.bus.publish_many([
                announcement for item in batch if stored.get(id(item))
                for announcement in self._announcements(item, stored[id(item)])
            ])
            await self._apply_kept(batch, stored)

    async def _apply_kept(self, batch: list[_Pending], stored: dict[int, str]) -> None:
        """Acks, edits, revokes and reactions that came before these messages."""
        by_session: dict[SessionRef, list[str]] = {}
        for item in batch:
            if stored.get(id(item)):
                by_session.setdefault(item.session, []).append(item.event.id)
        for session, ids in by_session.items():
            try:
                await updates.apply_kept(self.bus, session, ids)
            except Exception:  # the messages are stored; their early updates stay kept
                log.exception("early updates not applied", session=session.id)

    async def close(self) -> None:
        """Write what is queued, then stop the writer."""
        if self._writer is None or self._queue is None:
            return
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._writer), 30)
        except TimeoutError:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def _store_batch(self, batch: list[_Pending]) -> dict[int, str]:
        """Write a batch in one transaction; returns {id(item): message id} of new rows."""
        by_session: dict[SessionRef, list[_Pending]] = {}
        for item in batch:
            by_session.setdefault(item.session, []).append(item)
        stored: dict[int, str] = {}
        async with transaction():
            for session, items in by_session.items():
                stored.update(await self._store_session_batch(session, items))
            # What must follow the new rows commits with them (the transactional outbox):
            # a queue outage delays automations and media downloads, it loses none.
            for item in batch:
                if item.media_error == PENDING and stored.get(id(item)) and self.jobs is not None:
                    await outbox.add(media_jobs.FETCH_MEDIA_JOB, stored[id(item)],
                                     subject=stored[id(item)])
            await events.emit_many([ev for item in batch if stored.get(id(item)) and not item.quiet
                                    for ev in self._events(item, stored[id(item)])])
        return stored

    async def _store_session_batch(self, session: SessionRef, items: list[_Pending]) -> dict[int, str]:
        org = session.organization_id
        known = {r["whatsapp_message_id"] for r in await Message.select(
            Message.whatsapp_message_id).where(
            (Message.session == session.id)
            & Message.whatsapp_message_id.is_in([i.event.id for i in items]))}
        fresh: list[_Pending] = []
        for item in items:
            if item.event.id not in known:
                known.add(item.event.id)  # a duplicate within the batch is a replay too
                fresh.append(item)
        if not fresh:
            return {}
        people = await contacts.resolve_many(org, [
            (i.event.chat.wa_id, i.event.chat.phone, _chat_name(i.event)) for i in fresh])
        wanted: dict[str, tuple[datetime, bool]] = {}
        for item in fresh:
            contact_id = people[item.event.chat.wa_id]["id"]
            at, inbound = wanted.get(contact_id, (_EPOCH, False))
            wanted[contact_id] = (max(at, item.at), inbound or not item.event.from_me)
        threads = await conversations.thread_many(org, session.id, wanted, reopen=self.reopen)
        rows = []
        seen: set[str] = set()
        for item in fresh:
            ev = item.event
            contact = people[ev.chat.wa_id]
            item.contact_id = contact["id"]
            item.conversation_id = threads[contact["id"]]["id"]
            # Only the batch's first message of a new contact or thread says "new".
            item.new_contact = bool(contact.get("is_new")) and contact["id"] not in seen
            item.new_conversation = (bool(threads[contact["id"]].get("is_new"))
                                     and contact["id"] not in seen)
            item.reopened = bool(threads[contact["id"]].get("reopened")) and contact["id"] not in seen
            seen.add(contact["id"])
            rows.append(Message(
                id=item.message_id, organization=org, conversation=item.conversation_id,
                session=session.id, whatsapp_message_id=ev.id,
                direction=(MessageDirection.OUTBOUND if ev.from_me else MessageDirection.INBOUND).value,
                type=ev.type, body=ev.body, media_url=item.media_key,
                media_mime_type=ev.media.mime_type if ev.media else None,
                metadata=_metadata(ev, item.media_error),
                status=(MessageStatus.SENT if ev.from_me else MessageStatus.DELIVERED).value,
                timestamp=item.at,
            ))
        inserted = {r["id"] for r in await Message.insert(*rows).on_conflict(
            action="DO NOTHING").returning(Message.id)}
        latest: dict[str, datetime] = {}
        for item in fresh:
            if item.message_id in inserted:
                latest[item.contact_id] = max(latest.get(item.contact_id, _EPOCH), item.at)
        await contacts.touch_many(latest)
        return {id(i): i.message_id for i in fresh if i.message_id in inserted}

    def _events(self, item: _Pending, message_id: str) -> list[events.DomainEvent]:
        """Durable events for automations and the auto-responder (wacc.events)."""
        org, ev = item.session.organization_id, item.event
        out: list[events.DomainEvent] = []
        if item.new_contact:
            out.append(events.ContactCreated(organization_id=org, contact_id=item.contact_id))
        if item.new_conversation:
            out.append(events.ConversationCreated(
                organization_id=org, conversation_id=item.conversation_id,
                contact_id=item.contact_id, session_id=item.session.id))
        out.append(events.MessageReceived(
            organization_id=org, message_id=message_id, conversation_id=item.conversation_id,
            contact_id=item.contact_id, session_id=item.session.id, type=ev.type, body=ev.body,
            from_me=ev.from_me, new_contact=item.new_contact,
            new_conversation=item.new_conversation))
        return out

    def _announcements(self, item: _Pending, message_id: str) -> list[tuple[str, dict[str, Any]]]:
        """What open pages hear: the new message and, when it reopened a finished
        conversation, that its status changed (the open thread's header says Resolved
        until it hears so)."""
        ev, topic = item.event, org_topic(item.session.organization_id)
        out: list[tuple[str, dict[str, Any]]] = [(topic, {
            "type": "message:new", "messageId": message_id,
            "conversationId": item.conversation_id, "sessionId": item.session.id,
            "contactId": item.contact_id, "direction": "OUTBOUND" if ev.from_me else "INBOUND",
            "messageType": ev.type, "body": ev.body, "timestamp": iso(item.at),
        })]
        if item.reopened:
            out.append((topic, {"type": "conversation:updated",
                                "conversationId": item.conversation_id, "status": "OPEN"}))
        return out

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

    async def last_inbound_at(self, session_id: str, wa_id: str, phone: str | None) -> float | None:
        """What an engine asks of the stored messages (the Cloud API's 24-hour window)."""
        return await services.last_inbound_at(session_id, wa_id, phone)

    async def ack(self, session: SessionRef, ev: Ack) -> bool:
        return await updates.ack(self.bus, session, ev)

    async def change(self, session: SessionRef, ev: Revoked | Edited) -> bool:
        return await updates.change(self.bus, session, ev)

    async def react(self, session: SessionRef, ev: Reaction) -> bool:
        return await updates.react(self.bus, session, ev)


def _loads(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return json.loads(value) if isinstance(value, str) else dict(value)


def _chat_name(ev: InboundMessage) -> str | None:
    """The name the chat's contact gets: a group's subject, a person's own name."""
    if ev.chat.is_group:
        return ev.chat.name
    return None if ev.from_me else ev.sender.name


def _metadata(ev: InboundMessage, media_error: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"sender": ev.sender.wa_id}
    if ev.chat.is_group:
        # The conversation's contact is the group; each bubble names its writer.
        meta["group"] = True
        if ev.sender.name:
            meta["senderName"] = ev.sender.name
        if ev.sender.phone:
            meta["senderPhone"] = ev.sender.phone
    if ev.quoted_id:
        meta["quotedId"] = ev.quoted_id
    meta.update(content_meta(ev.location, ev.vcard, ev.poll))
    if ev.reaction_to:
        meta["reactionTo"] = ev.reaction_to
    if ev.details:
        meta["details"] = ev.details
    if ev.media:
        meta["media"] = {"filename": ev.media.filename, "size": ev.media.size,
                         "sha256": ev.media.sha256}
        if media_error == PENDING:
            meta["media"]["pending"] = media_jobs.pending_media(ev.media)
        elif media_error:
            meta["media"]["error"] = media_error
    return meta
