"""Threading: the conversation a message between a session and a contact belongs to,
found, started or reopened by one rule (:func:`placement`). The WhatsApp pipeline and
the send paths use it; the inbox (wacc.conversations.inbox) works on what it made."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from wacc.conversations.tables import Conversation, ConversationStatus
from wacc.db.bulk import raise_timestamps
from wacc.lib.ids import new_id

# A conversation in one of these states is finished; a new inbound message opens it
# again (or starts a new one, per the organization's setting).
_FINISHED = (ConversationStatus.RESOLVED.value, ConversationStatus.CLOSED.value)

Placement = Literal["same", "reopen", "new"]


def placement(row: dict[str, Any] | None, *, inbound: bool, reopen: str) -> Placement:
    """The reopen rule: where a message goes, given the newest conversation (*row*) of its
    session and contact.

    - none yet: a ``"new"`` conversation;
    - still open (OPEN, PENDING or SPAM): the ``"same"`` one; SPAM stays SPAM;
    - finished (RESOLVED or CLOSED): the business's own message goes into the ``"same"``
      one and leaves it finished; a customer's message (*inbound*) puts it back to OPEN
      (``"reopen"``) when the organization's *reopen* setting is "reopen", and starts a
      ``"new"`` one when it is "new"."""
    if row is None:
        return "new"
    if row["status"] not in _FINISHED or not inbound:
        return "same"
    return "reopen" if reopen == "reopen" else "new"


async def thread_for(
    organization_id: str, session_id: str, contact_id: str, at: datetime, *,
    inbound: bool, reopen: str = "reopen",
) -> dict[str, Any]:
    """The conversation a message between *session* and *contact* belongs to.

    ``reopen``: "reopen" (default) puts a finished conversation back to OPEN when the
    customer writes; "new" starts a new conversation instead. SPAM stays SPAM."""
    row = await Conversation.select().where(
        (Conversation.organization == organization_id) & (Conversation.session == session_id)
        & (Conversation.contact == contact_id)
    ).order_by(Conversation.created_at, ascending=False).first()
    where = placement(row, inbound=inbound, reopen=reopen)
    if row is not None and where != "new":
        updates: dict[Any, Any] = {}
        if row["last_message_at"] is None or row["last_message_at"] < at:
            updates[Conversation.last_message_at] = at
        if where == "reopen":
            updates[Conversation.status] = ConversationStatus.OPEN.value
            updates[Conversation.version] = row["version"] + 1
        if updates:
            await Conversation.update(updates).where(Conversation.id == row["id"])
            row = {**row, **{c._meta.name: v for c, v in updates.items()}}
        return row
    conversation_id = new_id()
    await Conversation.insert(
        Conversation(
            id=conversation_id, organization=organization_id, session=session_id,
            contact=contact_id, last_message_at=at,
        )
    )
    created = await Conversation.select().where(Conversation.id == conversation_id).first()
    assert created is not None
    return created


async def open_thread(organization_id: str, session_id: str, contact_id: str,
                      at: datetime) -> tuple[dict[str, Any], bool]:
    """The conversation a business-started message goes into, and whether it is new: the
    newest one of this session and contact while it is still open (OPEN, PENDING or
    SPAM), else a new one, so starting a conversation never makes a duplicate of an open
    thread and never puts a new message into a finished one: the reopen rule as for a
    customer's message under the "new" setting."""
    row = await Conversation.select().where(
        (Conversation.organization == organization_id) & (Conversation.session == session_id)
        & (Conversation.contact == contact_id)
    ).order_by(Conversation.created_at, ascending=False).first()
    if row is not None and placement(row, inbound=True, reopen="new") == "same":
        return row, False
    conversation_id = new_id()
    await Conversation.insert(Conversation(
        id=conversation_id, organization=organization_id, session=session_id,
        contact=contact_id, last_message_at=at))
    created = await Conversation.select().where(Conversation.id == conversation_id).first()
    assert created is not None
    return created, True


async def get_scoped(organization_id: str, conversation_id: str) -> dict[str, Any] | None:
    return await Conversation.select().where(
        (Conversation.id == conversation_id) & (Conversation.organization == organization_id)
    ).first()


async def move_contact(organization_id: str, from_contact: str, to_contact: str) -> None:
    await Conversation.update({Conversation.contact: to_contact}).where(
        (Conversation.organization == organization_id) & (Conversation.contact == from_contact)
    )


async def thread_many(
    organization_id: str, session_id: str, wanted: dict[str, tuple[datetime, bool]], *,
    reopen: str = "reopen",
) -> dict[str, dict[str, Any]]:
    """:func:`thread_for` for many contacts of one session at once.

    *wanted* maps contact id -> (latest message time, whether any message is inbound).
    A finished conversation the customer wrote to again comes back with ``reopened``."""
    rows = await Conversation.select().where(
        (Conversation.organization == organization_id) & (Conversation.session == session_id)
        & Conversation.contact.is_in(list(wanted))
    ).order_by(Conversation.created_at)
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:  # ordered oldest first, so the newest per contact wins
        latest[row["contact"]] = row
    out: dict[str, dict[str, Any]] = {}
    to_create = []
    later: dict[str, datetime] = {}
    for contact_id, (at, inbound) in wanted.items():
        found = latest.get(contact_id)
        where = placement(found, inbound=inbound, reopen=reopen)
        if found is not None and where != "new":
            row = found
            if row["last_message_at"] is None or row["last_message_at"] < at:
                later[row["id"]] = at
                row = {**row, "last_message_at": at}
            if where == "reopen":
                await Conversation.update({
                    Conversation.status: ConversationStatus.OPEN.value,
                    Conversation.version: row["version"] + 1,
                }).where(Conversation.id == row["id"])
                row = {**row, "status": ConversationStatus.OPEN.value, "version": row["version"] + 1,
                       "reopened": True}
            out[contact_id] = row
        else:
            to_create.append(Conversation(
                id=new_id(), organization=organization_id, session=session_id,
                contact=contact_id, last_message_at=at))
    await raise_timestamps(Conversation, Conversation.last_message_at, later)
    if to_create:
        await Conversation.insert(*to_create)
        for row in await Conversation.select().where(
            Conversation.id.is_in([c.id for c in to_create])
        ):
            out[row["contact"]] = {**row, "is_new": True}
    return out
