"""GDPR: everything stored about one contact, as JSON; and its erasure.

Both span the contact's conversations, messages, notes and history, which the
conversations and messages features own; they read those tables here because the
export must be complete and the erasure must leave nothing behind, in one place.
"""

from __future__ import annotations

from typing import Any

from wacc.contacts import services as contacts
from wacc.contacts.schemas import EraseOut
from wacc.contacts.tables import ContactTag
from wacc.conversations.tables import Conversation, ConversationEvent, ConversationTag, Note
from wacc.db.engine import transaction
from wacc.lib.clock import iso, utcnow
from wacc.lib.errors import AuthorizationError
from wacc.logs import get_logger
from wacc.messages.tables import Message
from wacc.security.principal import Principal
from wacc.security.roles import Role
from wacc.tags.tables import Tag

log = get_logger(__name__)


def _when(value: Any) -> str | None:
    return iso(value) if value is not None else None


async def export_contact(principal: Principal, contact_id: str) -> dict[str, Any]:
    """The contact, its tags and custom fields, and every conversation with its messages,
    notes and history, plus the media keys to fetch the files."""
    if principal.role == Role.AGENT:
        # A GDPR export is complete by nature, so it is only for callers who see every
        # conversation; an agent limited to their own must not get the rest this way.
        raise AuthorizationError("A GDPR export needs a role that sees every conversation")
    org = principal.organization_id
    row = await contacts.scoped_row(org, contact_id)
    contact = await contacts.get_contact(org, contact_id)
    tag_ids = [r["tag"] for r in await ContactTag.select(ContactTag.tag).where(
        ContactTag.contact == contact_id)]
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
        "exportedAt": iso(utcnow()),
        "contact": {
            "id": row["id"], "whatsappId": row["whatsapp_id"], "lid": row["lid"],
            "phoneNumber": row["phone_number"], "name": row["name"], "email": row["email"],
            "profilePicUrl": row["profile_pic_url"], "language": row["language"],
            "timezone": row["timezone"], "isBlocked": row["is_blocked"],
            "createdAt": _when(row["created_at"]), "updatedAt": _when(row["updated_at"]),
            "lastMessageAt": _when(row["last_message_at"]),
        },
        "tags": [{"id": t, "name": tag_names.get(t)} for t in tag_ids],
        "customFields": contact.custom_fields,
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


async def erase_contact(media: Any, organization_id: str, contact_id: str) -> EraseOut:
    """Delete the contact, its conversations (with notes, history, tags) and messages in
    one transaction, then their media files. A file that cannot be removed is logged by
    key, never by content, and does not undo the erasure."""
    await contacts.scoped_row(organization_id, contact_id)
    async with transaction():
        ids = [r["id"] for r in await Conversation.select(Conversation.id).where(
            (Conversation.contact == contact_id) & (Conversation.organization == organization_id))]
        keys = [r["media_url"] for r in await Message.select(Message.media_url).where(
            Message.conversation.is_in(ids or [""]) & Message.media_url.is_not_null())]
        messages = await Message.count().where(Message.conversation.is_in(ids or [""]))
        await Message.delete().where(Message.conversation.is_in(ids or [""]))
        await Conversation.delete().where(Conversation.id.is_in(ids or [""]))
        await contacts.delete_contact(organization_id, contact_id)
    removed = 0
    for key in dict.fromkeys(keys):
        try:
            await media.delete(key)
            removed += 1
        except Exception as exc:
            log.warning("erased contact's media file not removed", key=key,
                        error=type(exc).__name__)
    return EraseOut(id=contact_id, conversations=len(ids), messages=messages,
                    media_files=removed)


