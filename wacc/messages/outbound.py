"""Outbound: a message is written PENDING, then a durable job sends it, once.

The job claims the row with a conditional write (``claimed_at``), asks the session's
`wa` process to send it (which paces sends per session), and records WhatsApp's id.
Transient failures (the session is offline, a 5xx, a rate limit) release the claim and
record the next attempt with backoff in the outbox (wacc.outbox), for up to
WACC_WA_SEND_RETRY_HOURS; permanent ones mark the message FAILED with the reason. A
send interrupted by a crash keeps its claim and is not repeated: it is marked FAILED
("interrupted") by the sweeper instead, because sending twice is worse than asking an
agent to resend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from wacc import outbox
from wacc.bus import Bus, org_topic
from wacc.conversations import inbox as conversations
from wacc.db.engine import transaction
from wacc.engines.contract import (
    EngineError,
    Location,
    Media,
    NotConnectedError,
    OutboundMessage,
    Peer,
    Poll,
    Send,
)
from wacc.lib.clock import utcnow
from wacc.logs import get_logger
from wacc.messages import updates
from wacc.messages.tables import Message, MessageStatus
from wacc.sessions.inbound import SessionRef
from wacc.sessions.rpc import SessionRpc
from wacc.storage import MediaStore
from wacc.system import services as system

log = get_logger(__name__)

SEND_JOB = "messages.send"
INTERRUPTED_AFTER = timedelta(minutes=10)
# A claim younger than this is never judged: its worker's heartbeat may just be late.
CLAIM_GRACE = timedelta(seconds=30)
# How soon a message held behind an earlier one to the same chat looks again.
ORDER_WAIT = 2.0

# Sends this process claimed whose job failed because the database went away (and is
# retried by the worker, wacc.outbox.retry_when_away): None, claimed but not sent (the
# retry may claim it again); a WhatsApp id, sent but not yet written down (the retry
# writes it down and sends nothing). A claim whose process died is the sweep's.
_held: dict[str, str | None] = {}
_NOT_HELD = object()


@dataclass
class Outcome:
    state: str  # sent | retry | failed | skipped
    delay: float = 0.0
    detail: str = ""


def _backoff(attempt: int) -> float:
    return float(min(300, 5 * 2 ** min(attempt, 6)))


async def deliver(rpc: SessionRpc, bus: Bus, media: MediaStore, message_id: str,
                  attempt: int = 0, retry_hours: int = 24) -> Outcome:
    row = await Message.select().where(Message.id == message_id).output(load_json=True).first()
    if row is None or row["status"] != MessageStatus.PENDING.value or row["direction"] != "OUTBOUND":
        return Outcome("skipped", detail="not a pending outbound message")
    if await _waits_behind_earlier(row):
        # An earlier message to this customer is waiting to be retried (a rate limit,
        # the session offline): sending this one now would overtake it.
        await outbox.add(SEND_JOB, message_id, attempt + 1, subject=message_id, delay=ORDER_WAIT)
        return Outcome("retry", delay=ORDER_WAIT, detail="an earlier message to this chat waits")
    me = system.process_id()
    held = _held.get(message_id, _NOT_HELD) if row["claimed_by"] == me else _NOT_HELD
    if isinstance(held, str):
        # This process sent it and the database went away before the send was written
        # down: write it down now, without sending again.
        await _record_sent(bus, row, held)
        _held.pop(message_id, None)
        return Outcome("sent", detail=held)
    free: Any = Message.claimed_at.is_null()
    if held is None:  # claimed here, never sent: this job's retry after an outage
        free = free | (Message.claimed_by == me)
    claimed = await Message.update({Message.claimed_at: utcnow(), Message.claimed_by: me}).where(
        (Message.id == message_id) & free & (Message.status == MessageStatus.PENDING.value)
    ).returning(Message.id)
    if not claimed:
        return Outcome("skipped", detail="another sender has it")
    _held[message_id] = None
    try:
        outbound = await _build(row, media)
        _held.pop(message_id, None)  # from here on the send may have happened
        result = await rpc.call(row["session"], Send(message=outbound))
    except NotConnectedError as exc:
        return await _retry_or_fail(bus, row, attempt, retry_hours, f"session offline: {exc}")
    except EngineError as exc:
        if exc.permanent:
            return await _fail(bus, row, str(exc))
        # At least the wait WhatsApp asked for.
        return await _retry_or_fail(bus, row, attempt, retry_hours, str(exc),
                                    at_least=float(exc.retry_after or 0))
    _held[message_id] = result["id"]
    await _record_sent(bus, row, result["id"])
    _held.pop(message_id, None)
    return Outcome("sent", detail=result["id"])


async def _waits_behind_earlier(row: dict[str, Any]) -> bool:
    """Whether an earlier outbound message of this conversation is still pending after a
    failed attempt (it has an error and no claim): per-customer order is kept."""
    earlier = await Message.select(Message.id).where(
        (Message.conversation == row["conversation"]) & (Message.id != row["id"])
        & (Message.direction == "OUTBOUND") & (Message.status == MessageStatus.PENDING.value)
        & Message.error.is_not_null() & Message.claimed_at.is_null()
        & (Message.created_at < row["created_at"])).first()
    return earlier is not None


async def _build(row: dict[str, Any], media_store: MediaStore) -> OutboundMessage:
    contact = await conversations.contact_peer(row["conversation"])
    meta = row["metadata"] or {}
    media = None
    if row["media_url"]:
        data = await media_store.get(row["media_url"])
        media = Media(mime_type=row["media_mime_type"] or "application/octet-stream",
                      filename=(meta.get("media") or {}).get("filename"), data=data,
                      size=len(data))
    loc = meta.get("location")
    poll = meta.get("poll")
    return OutboundMessage(
        idempotency_key=row["id"],
        to=Peer(wa_id=contact["whatsapp_id"], phone=contact["phone_number"] or None),
        type=row["type"], body=row["body"], media=media,
        location=Location(**loc) if loc else None, vcard=meta.get("vcard"),
        poll=Poll(question=poll["question"], options=poll["options"],
                  selectable_count=poll.get("selectableCount", 1)) if poll else None,
        quoted_id=meta.get("quotedId"), reaction_to=meta.get("reactionTo"),
        template=meta.get("template"), interactive=meta.get("interactive"),
    )


async def _retry_or_fail(bus: Bus, row: dict[str, Any], attempt: int, retry_hours: int,
                         reason: str, at_least: float = 0.0) -> Outcome:
    if utcnow() - row["created_at"] > timedelta(hours=retry_hours):
        return await _fail(bus, row, f"not sent within {retry_hours} h: {reason}")
    delay = max(_backoff(attempt), at_least)
    # The released claim and the next attempt commit together (the outbox): a queue
    # outage cannot leave the message pending with no send to come.
    async with transaction():
        await Message.update({Message.claimed_at: None, Message.error: reason[:500]}).where(
            Message.id == row["id"])
        await outbox.add(SEND_JOB, row["id"], attempt + 1, subject=row["id"], delay=delay)
    return Outcome("retry", delay=delay, detail=reason)


async def _fail(bus: Bus, row: dict[str, Any], reason: str) -> Outcome:
    await Message.update({Message.status: MessageStatus.FAILED.value, Message.ack_status: -1,
                          Message.error: reason[:500]}).where(Message.id == row["id"])
    await bus.publish(org_topic(row["organization"]), {
        "type": "message:ack", "messageId": row["id"], "conversationId": row["conversation"],
        "ack": -1, "status": "FAILED", "error": reason[:500]})
    return Outcome("failed", detail=reason)


async def fail(bus: Bus, message_id: str, reason: str) -> None:
    row = await Message.select().where(Message.id == message_id).first()
    if row is not None and row["status"] == MessageStatus.PENDING.value:
        await _fail(bus, row, reason)


async def _record_sent(bus: Bus, row: dict[str, Any], wa_id: str) -> None:
    # The engine may have reported our own message back (as from_me) before we got
    # here; that copy is the same message, so it gives way to this row.
    await Message.delete().where(
        (Message.session == row["session"]) & (Message.whatsapp_message_id == wa_id)
        & (Message.id != row["id"]))
    await Message.update({
        Message.whatsapp_message_id: wa_id, Message.status: MessageStatus.SENT.value,
        Message.error: None,
    }).where((Message.id == row["id"]) & (Message.status == MessageStatus.PENDING.value))
    await Message.update({Message.ack_status: 1}).where(
        (Message.id == row["id"]) & Message.ack_status.is_null())
    await bus.publish(org_topic(row["organization"]), {
        "type": "message:ack", "messageId": row["id"], "conversationId": row["conversation"],
        "ack": 1, "status": "SENT"})
    # A receipt can come back before the send call has answered with the id.
    await updates.apply_kept(bus, SessionRef(row["session"], row["organization"]), [wa_id])


async def enqueue_pending(session_id: str) -> int:
    """Record a send (through the outbox, so a queue outage loses none) for every message
    written while the session was down (called when it becomes ready); a message
    already being sent is skipped by its claim."""
    pending = await pending_for_session(session_id)
    for message_id in pending:
        await outbox.add(SEND_JOB, message_id, subject=message_id)
    return len(pending)


async def pending_for_session(session_id: str) -> list[str]:
    rows = await Message.select(Message.id).where(
        (Message.session == session_id) & (Message.status == MessageStatus.PENDING.value)
        & (Message.direction == "OUTBOUND") & Message.claimed_at.is_null()
    ).order_by(Message.created_at)
    return [r["id"] for r in rows]


async def sweep_interrupted(bus: Bus, engines: dict[str, Any],
                            heartbeat_seconds: float = 10.0) -> int:
    """Resolve sends a crash interrupted: claimed by a worker that no longer beats (or
    claimed so long ago that no send takes that long). Where the engine can tell a
    repeated send from a new one (``resend_safe``: WhatsApp Web finds a message by the
    id wacc derives from its key), the send is queued again and goes out at most once;
    elsewhere (the Cloud API) it fails, with words saying to check the phone: at most
    once beats twice. Scheduled every minute, so it happens within a minute or two."""
    now = utcnow()
    live = await system.live_processes("worker", heartbeat_seconds)
    rows = await Message.select(
        Message.id, Message.claimed_at, Message.claimed_by, Message.session.engine.as_alias("engine"),
    ).where(
        (Message.status == MessageStatus.PENDING.value) & Message.claimed_at.is_not_null()
        & (Message.claimed_at < now - CLAIM_GRACE))
    resolved = 0
    for row in rows:
        crashed = row["claimed_by"] is not None and row["claimed_by"] not in live
        if not crashed and row["claimed_at"] >= now - INTERRUPTED_AFTER:
            continue  # its sender is alive and may still be waiting on the engine
        if getattr(engines.get(row["engine"]), "resend_safe", False):
            async with transaction():
                released = await Message.update({
                    Message.claimed_at: None, Message.claimed_by: None}).where(
                    (Message.id == row["id"]) & (Message.claimed_at == row["claimed_at"])
                    & (Message.status == MessageStatus.PENDING.value)).returning(Message.id)
                if released:
                    await outbox.add(SEND_JOB, row["id"], subject=row["id"])
            log.warning("interrupted send queued again", message=row["id"],
                        claimed_by=row["claimed_by"])
        else:
            await fail(bus, row["id"], "interrupted during sending; not retried to avoid a "
                       "duplicate — check the phone and resend if needed")
        resolved += 1
    return resolved
