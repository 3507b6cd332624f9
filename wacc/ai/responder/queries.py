"""What a reply is written from, read across other features' tables (a read model, as
docs/architecture.md allows): the organization's name and the conversation's contact for
the prompt template, and the conversation's latest messages for the context window."""

from __future__ import annotations

from typing import Any

from wacc.contacts.tables import Contact
from wacc.conversations.tables import Conversation
from wacc.lib.errors import NotFoundError
from wacc.messages.tables import Message
from wacc.orgs.tables import Organization


async def prompt_subjects(organization_id: str,
                          conversation_id: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the organization's name, the conversation's contact: name, phone, custom fields)."""
    conversation = await Conversation.select(Conversation.contact).where(
        (Conversation.id == conversation_id) & (Conversation.organization == organization_id)).first()
    if conversation is None:
        raise NotFoundError("Conversation not found")
    org = await Organization.select(Organization.name).where(Organization.id == organization_id).first()
    contact = await Contact.select(Contact.name, Contact.phone_number, Contact.custom_fields).where(
        Contact.id == conversation["contact"]).first()
    return org or {}, contact


async def latest_messages(organization_id: str, conversation_id: str,
                          limit: int) -> list[dict[str, Any]]:
    """The conversation's newest messages first: direction, type and body."""
    return await Message.select(Message.direction, Message.type, Message.body).where(
        (Message.organization == organization_id) & (Message.conversation == conversation_id)
    ).order_by(Message.timestamp, ascending=False).order_by(
        Message.created_at, ascending=False).limit(limit)
