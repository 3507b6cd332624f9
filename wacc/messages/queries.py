"""Read models of the messages feature that join other features' tables (allowed to, as
docs/architecture.md says): a contact's conversations with their messages, notes,
history and tags for the GDPR export, and what an erasure of the contact takes with it.
Registered with wacc.contacts.links by wacc.messages.plugin: contacts sit below
conversations and messages and cannot import them."""

from __future__ import annotations

from typing import Any

from wacc.contacts.links import ContactLinks, Erasing
from wacc.conversations.tables import Conversation, ConversationEvent, ConversationTag, Note
from wacc.lib.clock import iso
from wacc.messages.tables import Message
from wacc.tags.tables import Tag


def _when(value: Any) -> str | None:
    return iso(value) if value is not None else None


async def _conversation_ids(organization_id: str, contact_id: str) -> list[str]:
    return [r["id"] for r in await Conversation.select(Conversation.id).where(
        (Conversation.contact == contact_id) & (Conversation.organization == organization_id))]


async def contact_export(organization_id: str, contact_id: str) -> dict[str, Any]:
    """The export's ``conversations`` (each with its messages, notes, history and tags)
    and ``mediaKeys`` (the files to fetch)."""
    org = organization_id
    tag_names = {r["id"]: r["name"] for r in await Tag.select(Tag.id, Tag.name).where(
        Tag.organization == org)}
    conversations = await Conversation.select().where(
        (Conversation.contact == contact_id) & (Conversation.organization == org)
    ).order_by(Conversation.created_at)
    ids = [c["id"] for c in conversations] or [""]
    messages = await Message.select().where(
        Message.conversation.is_in(ids) & (Message.organization == org)
    ).order_by(Message.timestamp).output(load_json=True)
    notes = await Note.select().where(Note.conversation.is_in(ids)).order_by(
        Note.created_at).output(load_json=True)
    events = await ConversationEvent.select().where(
        ConversationEvent.conversation.is_in(ids)).order_by(ConversationEvent.created_at)
    conversation_tags = await ConversationTag.select().where(
        ConversationTag.conversation.is_in(ids))

    def of(rows: list[dict[str, Any]], conversation_id: str) -> list[dict[str, Any]]:
        return [r for r in rows if r["conversation"] == conversation_id]

    return {
        "conversations": [{
            "id": c["id"], "sessionId": c["session"], "status": c["status"],
            "priority": c["priority"], "channel": c["channel"],
            "createdAt": _when(c["created_at"]), "lastMessageAt": _when(c["last_message_at"]),
            "tags": [tag_names.get(t["tag"]) for t in of(conversation_tags, c["id"])],
            "messages": [{
                "id": m["id"], "direction": m["direction"], "type": m["type"],
                "body": m["body"], "mediaKey": m["media_url"],
                "mediaMimeType": m["media_mime_type"], "metadata": m["metadata"],
                "status": m["status"], "timestamp": _when(m["timestamp"]),
                "isAiGenerated": m["is_ai_generated"],
            } for m in of(messages, c["id"])],
            "notes": [{"id": n["id"], "userId": n["user"], "content": n["content"],
                       "createdAt": _when(n["created_at"])} for n in of(notes, c["id"])],
            "history": [{"kind": e["kind"], "from": e["from_value"], "to": e["to_value"],
                         "userId": e["user"], "at": _when(e["created_at"])}
                        for e in of(events, c["id"])],
        } for c in conversations],
        "mediaKeys": [m["media_url"] for m in messages if m["media_url"]],
    }


async def erasing(organization_id: str, contact_id: str) -> Erasing:
    """The messages of the contact's conversations (counted) and their media files."""
    ids = await _conversation_ids(organization_id, contact_id) or [""]
    keys = [r["media_url"] for r in await Message.select(Message.media_url).where(
        Message.conversation.is_in(ids) & Message.media_url.is_not_null())]
    count = await Message.count().where(Message.conversation.is_in(ids))
    return Erasing(counts={"messages": count}, media_keys=keys)


LINKS = ContactLinks(name="messages", erasing=erasing, export=contact_export)
