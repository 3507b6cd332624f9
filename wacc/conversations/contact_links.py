"""What the conversations feature answers about a contact (wacc.contacts.links): a merge
moves the contact's conversations, an erasure counts them, a contact's page lists them.
Registered by wacc.conversations.plugin."""

from __future__ import annotations

from wacc.contacts.links import ContactLinks, Erasing
from wacc.contacts.schemas import ContactConversation
from wacc.conversations import threading
from wacc.conversations.tables import Conversation


async def of_contact(organization_id: str, contact_id: str) -> list[ContactConversation]:
    rows = await Conversation.select().where(
        (Conversation.contact == contact_id) & (Conversation.organization == organization_id)
    ).order_by(Conversation.last_message_at, ascending=False)
    return [ContactConversation(id=r["id"], session_id=r["session"], status=r["status"],
                                priority=r["priority"], last_message_at=r["last_message_at"])
            for r in rows]


async def erasing(organization_id: str, contact_id: str) -> Erasing:
    count = await Conversation.count().where(
        (Conversation.contact == contact_id) & (Conversation.organization == organization_id))
    return Erasing(counts={"conversations": count})


LINKS = ContactLinks(name="conversations", move=threading.move_contact, erasing=erasing,
                     conversations=of_contact)
