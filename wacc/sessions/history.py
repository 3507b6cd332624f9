"""Past messages from the phone: the import of the last N days when a session first
links, and the back-fill of what arrived while a session was down.

Both are a :class:`HistoryImport` row run by a job (``sessions.history``) in a worker:
it asks the session's engine (over the session RPC, engines implementing
``wacc.engines.contract.HistoryEngine``) for the one-to-one chats with messages since
then, and for each chat its messages, and feeds them to the inbound pipeline. The
pipeline is idempotent on (session, WhatsApp message id), so a re-run, a resumed run
or a back-fill that overlaps live messages stores nothing twice. Progress is written
after each chat; a run cut short (worker killed, session gone) resumes at the next
chat when the session is ready again.

Settings (the session's ``settings``; docs/engines.md): ``history_days`` (0-365,
default 0 = no import) and ``backfill`` (default true; back-fill reads at most
:data:`BACKFILL_MAX_DAYS`).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import msgspec

from wacc import outbox
from wacc.bus import Bus, org_topic
from wacc.db.engine import transaction
from wacc.engines.contract import (
    DownloadMedia,
    EngineError,
    History,
    HistoryChats,
    InboundMessage,
    Media,
    NotConnectedError,
    Peer,
    PermanentEngineError,
    is_broadcast_id,
)
from wacc.lib.clock import iso, utcnow
from wacc.lib.errors import ConflictError, NotFoundError
from wacc.lib.ids import new_id
from wacc.logs import get_logger
from wacc.runtime import Runtime
from wacc.security.principal import Principal
from wacc.sessions.inbound import InboundPipeline, SessionRef, inbound_of
from wacc.sessions.rpc import SessionRpc
from wacc.sessions.schemas import HistoryOut
from wacc.sessions.tables import HistoryImport, WhatsAppSession

log = get_logger(__name__)

HISTORY_JOB = "sessions.history"
BACKFILL_MAX_DAYS = 30
# A back-fill starts a little before the last stored message: clocks differ, and what
# it reads again is recognised and skipped.
OVERLAP = timedelta(minutes=2)
# A RUNNING row whose worker stopped reporting for this long is taken over.
STALE = timedelta(minutes=10)
UNFINISHED = ("PENDING", "RUNNING")
# How a read that found the engine unable to read history ends its error text.
UNSUPPORTED = "unsupported: "


def _out(row: dict[str, Any]) -> HistoryOut:
    chats = _json(row["chats"])
    return HistoryOut(
        id=row["id"], session_id=row["session"], kind=row["kind"], status=row["status"],
        since=row["since"], chats_total=None if chats is None else len(chats),
        chats_done=row["chats_done"], messages_seen=row["messages_seen"],
        messages_stored=row["messages_stored"], error=row["error"], created_at=row["created_at"],
        started_at=row["started_at"], finished_at=row["finished_at"])


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def _create(organization_id: str, session_id: str, kind: str, since: datetime) -> str:
    """Record a history read and its job together (wacc.outbox)."""
    import_id = new_id()
    async with transaction():
        await HistoryImport.insert(HistoryImport(
            id=import_id, organization=organization_id, session=session_id, kind=kind,
            since=since))
        await outbox.add(HISTORY_JOB, import_id, subject=import_id)
    return import_id


async def after_ready(rt: Runtime, session_id: str) -> str | None:
    """A session became ready: resume its unfinished read, else import the last
    ``history_days`` on its first link, else back-fill from its last stored message.
    Returns the id of the read enqueued, if any."""
    unfinished = await HistoryImport.select(HistoryImport.id).where(
        (HistoryImport.session == session_id) & HistoryImport.status.is_in(list(UNFINISHED))
    ).order_by(HistoryImport.created_at).first()
    if unfinished is not None:
        await outbox.add(HISTORY_JOB, unfinished["id"], subject=unfinished["id"])
        return str(unfinished["id"])
    if await HistoryImport.exists().where(
            (HistoryImport.session == session_id) & (HistoryImport.status == "FAILED")
            & HistoryImport.error.like(UNSUPPORTED + "%")):
        return None  # the session's engine cannot read history (an engine never changes)
    session = await WhatsAppSession.select(
        WhatsAppSession.organization, WhatsAppSession.settings).where(
        WhatsAppSession.id == session_id).output(load_json=True).first()
    if session is None:
        return None
    settings = session["settings"] or {}
    now = utcnow()
    days = settings.get("history_days", 0)  # checked when the settings were saved
    first = not await HistoryImport.exists().where(HistoryImport.session == session_id)
    last = await inbound_of(rt).last_message_at(session_id)
    if first and isinstance(days, int) and days > 0:
        kind, since = "import", now - timedelta(days=days)
    elif last is not None and settings.get("backfill", True) is not False:
        kind = "backfill"
        since = max(last - OVERLAP, now - timedelta(days=BACKFILL_MAX_DAYS))
    else:
        return None
    import_id = await _create(session["organization"], session_id, kind, since)
    return import_id


async def start(principal: Principal, session_id: str, days: int) -> HistoryOut:
    """Import the last ``days`` again on request (the API): what is stored is kept,
    only what is missing is added."""
    if not await WhatsAppSession.exists().where(
            (WhatsAppSession.id == session_id)
            & (WhatsAppSession.organization == principal.organization_id)):
        raise NotFoundError("Session not found")
    if await HistoryImport.exists().where(
            (HistoryImport.session == session_id) & HistoryImport.status.is_in(list(UNFINISHED))):
        raise ConflictError("A history import of this session is already running")
    import_id = await _create(principal.organization_id, session_id, "import",
                              utcnow() - timedelta(days=days))
    return await get(principal, session_id, import_id)


async def list_for(principal: Principal, session_id: str) -> list[HistoryOut]:
    rows = await HistoryImport.select().where(
        (HistoryImport.session == session_id)
        & (HistoryImport.organization == principal.organization_id)
    ).order_by(HistoryImport.created_at, ascending=False).limit(50)
    return [_out(r) for r in rows]


async def get(principal: Principal, session_id: str, import_id: str) -> HistoryOut:
    row = await HistoryImport.select().where(
        (HistoryImport.id == import_id) & (HistoryImport.session == session_id)
        & (HistoryImport.organization == principal.organization_id)).first()
    if row is None:
        raise NotFoundError("History import not found")
    return _out(row)


async def _claim(import_id: str) -> dict[str, Any] | None:
    """Mark the read RUNNING unless another worker is on it right now."""
    now = utcnow()
    claimed = await HistoryImport.update({
        HistoryImport.status: "RUNNING", HistoryImport.started_at: now, HistoryImport.error: None,
    }).where(
        (HistoryImport.id == import_id)
        & ((HistoryImport.status == "PENDING")
           | ((HistoryImport.status == "RUNNING") & (HistoryImport.started_at < now - STALE)))
    ).returning(HistoryImport.id)
    if not claimed:
        return None
    return await HistoryImport.select().where(HistoryImport.id == import_id).first()


async def run(import_id: str, rpc: SessionRpc, bus: Bus, pipeline: InboundPipeline) -> str:
    """Run (or resume) one read; returns its status afterwards."""
    row = await _claim(import_id)
    if row is None:
        return "skipped"
    ref = SessionRef(id=row["session"], organization_id=row["organization"])
    since = row["since"].timestamp()
    chats = _json(row["chats"])
    seen, stored = row["messages_seen"], row["messages_stored"]

    async def fetch(media: Media) -> bytes:
        data = await rpc.call(ref.id, DownloadMedia(media=media))
        return base64.b64decode(data)

    try:
        if chats is None:
            found = await rpc.call(ref.id, HistoryChats(since=since))
            peers = msgspec.convert(found, list[Peer])
            # Engines leave groups and feeds out; kept out here too, whatever they send.
            chats = [msgspec.to_builtins(p) for p in peers
                     if not p.is_group and not is_broadcast_id(p.wa_id)]
            await HistoryImport.update({HistoryImport.chats: chats}).where(
                HistoryImport.id == import_id)
            await _progress(bus, ref, import_id, len(chats), row["chats_done"], seen, stored)
        for index in range(row["chats_done"], len(chats)):
            messages = msgspec.convert(
                await rpc.call(ref.id, History(chat=msgspec.convert(chats[index], Peer),
                                               since=since)),
                list[InboundMessage])
            for message in messages:
                seen += 1
                if await pipeline.ingest(ref, message, fetch, quiet=True):
                    stored += 1
            await HistoryImport.update({
                HistoryImport.chats_done: index + 1, HistoryImport.messages_seen: seen,
                HistoryImport.messages_stored: stored,
            }).where(HistoryImport.id == import_id)
            await _progress(bus, ref, import_id, len(chats), index + 1, seen, stored)
    except PermanentEngineError as exc:
        # Such as an engine without history (cloud): nothing to resume, and after_ready
        # starts no more reads for the session.
        prefix = UNSUPPORTED if exc.code == "unsupported" else ""
        await _finish(bus, ref, import_id, "FAILED", (prefix + str(exc))[:500])
        return "FAILED"
    except (NotConnectedError, EngineError) as exc:
        # Resumed where it stopped when the session is ready again (after_ready).
        await HistoryImport.update({HistoryImport.status: "PENDING",
                                    HistoryImport.error: str(exc)[:500]}).where(
            HistoryImport.id == import_id)
        log.info("history read paused", session=ref.id, reason=type(exc).__name__)
        return "PENDING"
    await _finish(bus, ref, import_id, "DONE", None)
    return "DONE"


async def _finish(bus: Bus, ref: SessionRef, import_id: str, status: str, error: str | None) -> None:
    await HistoryImport.update({HistoryImport.status: status, HistoryImport.error: error,
                                HistoryImport.finished_at: utcnow()}).where(
        HistoryImport.id == import_id)
    await bus.publish(org_topic(ref.organization_id), {
        "type": "session:history", "sessionId": ref.id, "importId": import_id,
        "status": status, "at": iso(utcnow()), **({"error": error} if error else {})})


async def _progress(bus: Bus, ref: SessionRef, import_id: str, total: int, done: int,
                    seen: int, stored: int) -> None:
    await bus.publish(org_topic(ref.organization_id), {
        "type": "session:history", "sessionId": ref.id, "importId": import_id,
        "status": "RUNNING", "chatsTotal": total, "chatsDone": done, "messagesSeen": seen,
        "messagesStored": stored, "at": iso(utcnow())})
