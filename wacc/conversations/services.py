"""Conversations: threading for the WhatsApp pipeline (the inbox endpoints build on it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wacc.conversations.tables import Conversation, ConversationStatus
from wacc.lib.ids import new_id

# A conversation in one of these states is finished; a new inbound message opens it
# again (or starts a new one, per the organization's setting).
_FINISHED = (ConversationStatus.RESOLVED.value, ConversationStatus.CLOSED.value)


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
    if row is not None and (row["status"] not in _FINISHED or not inbound or reopen == "reopen"):
        updates: dict[Any, Any] = {}
        if row["last_message_at"] is None or row["last_message_at"] < at:
            updates[Conversation.last_message_at] = at
        if inbound and row["status"] in _FINISHED:
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


async def get_scoped(organization_id: str, conversation_id: str) -> dict[str, Any] | None:
    return await Conversation.select().where(
        (Conversation.id == conversation_id) & (Conversation.organization == organization_id)
    ).first()


async def move_contact(organization_id: str, from_contact: str, to_contact: str) -> None:
    await Conversation.update({Conversation.contact: to_contact}).where(
        (Conversation.organization == organization_id) & (Conversation.contact == from_contact)
    )
