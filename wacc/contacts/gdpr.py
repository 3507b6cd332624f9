"""GDPR: everything stored about one contact, as JSON; and its erasure.

Both span the contact's conversations, messages, notes and history, which the
conversations and messages features own: they are asked through wacc.contacts.links,
where those features register (contacts cannot import them). The export must be complete
and the erasure must leave nothing behind.
"""

from __future__ import annotations

from typing import Any

from wacc.contacts import links
from wacc.contacts import services as contacts
from wacc.contacts.schemas import EraseOut
from wacc.contacts.tables import ContactTag
from wacc.db.engine import transaction
from wacc.lib.clock import iso, utcnow
from wacc.lib.errors import AuthorizationError
from wacc.logs import get_logger
from wacc.security.principal import Principal
from wacc.security.roles import Role
from wacc.storage import MediaStore
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
    document: dict[str, Any] = {
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
    }
    for link in links.registered():  # conversations with their messages, media keys
        if link.export is not None:
            document.update(await link.export(org, contact_id))
    return document


async def erase_contact(media: MediaStore, organization_id: str, contact_id: str) -> EraseOut:
    """Delete the contact, its conversations (with notes, history, tags) and messages in
    one transaction, then their media files. A file that cannot be removed is logged by
    key, never by content, and does not undo the erasure.

    The features that keep rows about the contact say what goes (counts, media files);
    the rows go with the contact row, by their foreign keys' ON DELETE CASCADE."""
    await contacts.scoped_row(organization_id, contact_id)
    counts: dict[str, int] = {}
    keys: list[str] = []
    async with transaction():
        for link in links.registered():
            if link.erasing is not None:
                erasing = await link.erasing(organization_id, contact_id)
                for kind, n in erasing.counts.items():
                    counts[kind] = counts.get(kind, 0) + n
                keys.extend(erasing.media_keys)
        await contacts.delete_contact(organization_id, contact_id)
    removed = 0
    for key in dict.fromkeys(keys):
        try:
            await media.delete(key)
            removed += 1
        except Exception as exc:
            log.warning("erased contact's media file not removed", key=key,
                        error=type(exc).__name__)
    return EraseOut(id=contact_id, conversations=counts.get("conversations", 0),
                    messages=counts.get("messages", 0), media_files=removed)


