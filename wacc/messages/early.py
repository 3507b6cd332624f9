"""Updates that arrive before their message: kept, then applied when it is stored.

WhatsApp Web and Meta's webhooks do not promise order: a customer's reaction can come in
before the message it reacts to, a read receipt before the send call has returned the
message's id, an edit before a delayed original. Dropping them loses the update for good,
so the pipeline keeps them here (``EarlyUpdate``), bounded by age and by count per
session, and hands them back when the message's row gains that WhatsApp id: when an
inbound message is stored (wacc.messages.ingest) or an outbound send is recorded
(wacc.messages.outbound).
"""

from __future__ import annotations

from datetime import timedelta

import msgspec

from wacc.engines.contract import Ack, Edited, Reaction, Revoked
from wacc.lib.clock import utcnow
from wacc.logs import get_logger
from wacc.messages.tables import EarlyUpdate

log = get_logger(__name__)

Update = Ack | Edited | Revoked | Reaction
# A message that has not arrived within a day is not coming: its updates go.
KEEP = timedelta(hours=24)
# Per session, so a flood of updates for messages wacc never stores (a group it ignores)
# stays bounded; the oldest go first.
MAX_PER_SESSION = 2000

_decoder = msgspec.json.Decoder(Update)


def message_id_of(update: Update) -> str:
    return update.message_id if isinstance(update, Reaction) else update.id


async def hold(session_id: str, update: Update) -> None:
    """Keep *update* until its message is stored."""
    await EarlyUpdate.insert(EarlyUpdate(
        session=session_id, whatsapp_message_id=message_id_of(update)[:128],
        event=msgspec.json.encode(update).decode()))
    await EarlyUpdate.delete().where(EarlyUpdate.created_at < utcnow() - KEEP)
    over = await EarlyUpdate.count().where(EarlyUpdate.session == session_id) - MAX_PER_SESSION
    if over > 0:
        oldest = await EarlyUpdate.select(EarlyUpdate.id).where(
            EarlyUpdate.session == session_id).order_by(EarlyUpdate.created_at).limit(over)
        await EarlyUpdate.delete().where(EarlyUpdate.id.is_in([r["id"] for r in oldest]))


async def take(session_id: str, whatsapp_ids: list[str]) -> list[Update]:
    """The kept updates of these messages, in the order they arrived, removed from the
    store (an update that fails to apply is not kept twice)."""
    if not whatsapp_ids:
        return []
    rows = await EarlyUpdate.select(EarlyUpdate.id, EarlyUpdate.event).where(
        (EarlyUpdate.session == session_id)
        & EarlyUpdate.whatsapp_message_id.is_in(whatsapp_ids)
        & (EarlyUpdate.created_at >= utcnow() - KEEP)
    ).order_by(EarlyUpdate.created_at)
    if not rows:
        return []
    # Only what this call deleted is applied here: two processes taking the same rows
    # (a wa process storing the message, a worker recording its send) apply each once.
    deleted = {r["id"] for r in await EarlyUpdate.delete().where(
        EarlyUpdate.id.is_in([r["id"] for r in rows])).returning(EarlyUpdate.id)}
    out: list[Update] = []
    for row in rows:
        if row["id"] not in deleted:
            continue
        try:
            out.append(_decoder.decode(row["event"]))
        except msgspec.DecodeError:
            log.warning("early update unreadable, dropped", update=row["id"])
    return out
