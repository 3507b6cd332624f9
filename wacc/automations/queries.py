"""What an automation's conditions and templates see of the event that started it: a read
model that joins other features' tables (organizations, messages, conversations,
contacts), as docs/architecture.md allows a declared read model to."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from wacc.contacts.tables import Contact, ContactTag
from wacc.conversations.tables import Conversation, ConversationAssignment, ConversationTag
from wacc.lib.clock import utcnow
from wacc.messages.tables import Message
from wacc.orgs.tables import Organization

Context = dict[str, Any]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def load_context(organization_id: str, event: dict[str, Any],
                       now: datetime | None = None) -> Context:
    """What conditions and templates see: the event's message, conversation and contact
    (only this organization's), the organization's name, time zone and hours."""
    org = await Organization.select(Organization.id, Organization.name,
                                    Organization.settings).where(
        Organization.id == organization_id).first()
    settings = _json(org["settings"]) if org else {}
    ctx: Context = {"event": event, "now": now or utcnow(),
                    "org": {"id": organization_id, "name": org["name"] if org else ""},
                    "timezone": (settings or {}).get("timezone") or "UTC",
                    "hours": (settings or {}).get("businessHours"),
                    "automationId": event.get("automationId"),
                    "message": None, "conversation": None, "contact": None}
    payload = event.get("payload") if event.get("kind") == "webhook" else event
    payload = payload if isinstance(payload, dict) else {}
    conversation_id = payload.get("conversationId")
    contact_id = payload.get("contactId")
    if isinstance(event.get("messageId"), str):
        msg = await Message.select().where(
            (Message.id == event["messageId"]) & (Message.organization == organization_id)).first()
        if msg is not None:
            meta = _json(msg["metadata"]) or {}
            ctx["message"] = {"id": msg["id"], "body": msg["body"], "type": msg["type"],
                              "direction": msg["direction"], "fromMe": bool(event.get("fromMe")),
                              "metadata": meta, "idempotencyKey": msg["idempotency_key"]}
            conversation_id = msg["conversation"]
    if isinstance(conversation_id, str):
        conv = await Conversation.select().where(
            (Conversation.id == conversation_id)
            & (Conversation.organization == organization_id)).first()
        if conv is not None:
            assignees = await ConversationAssignment.select(ConversationAssignment.user).where(
                ConversationAssignment.conversation == conv["id"])
            tags = await ConversationTag.select(ConversationTag.tag).where(
                ConversationTag.conversation == conv["id"])
            ctx["conversation"] = {
                "id": conv["id"], "status": conv["status"], "priority": conv["priority"],
                "sessionId": conv["session"], "assignees": [a["user"] for a in assignees],
                "tags": [t["tag"] for t in tags]}
            contact_id = conv["contact"]
    if isinstance(contact_id, str):
        row = await Contact.select().where(
            (Contact.id == contact_id) & (Contact.organization == organization_id)).first()
        if row is not None:
            tags = await ContactTag.select(ContactTag.tag).where(ContactTag.contact == row["id"])
            ctx["contact"] = {
                "id": row["id"], "name": row["name"], "phone": row["phone_number"],
                "email": row["email"], "language": row["language"],
                "custom": _json(row["custom_fields"]) or {}, "tags": [t["tag"] for t in tags],
                "isNew": bool(event.get("newContact"))}
    return ctx
