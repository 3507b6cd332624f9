"""What segments keep about a contact, for contacts to reach without importing segments
(wacc.contacts.links): a merge moves the dropped contact's memberships."""

from __future__ import annotations

from wacc.contacts.links import ContactLinks
from wacc.segments.tables import ContactSegment


async def move(organization_id: str, drop_id: str, keep_id: str) -> None:
    """The dropped contact's memberships become the kept one's (one row per segment)."""
    kept = [r["segment"] for r in await ContactSegment.select(ContactSegment.segment).where(
        ContactSegment.contact == keep_id)]
    if kept:
        await ContactSegment.delete().where(
            (ContactSegment.contact == drop_id) & ContactSegment.segment.is_in(kept))
    await ContactSegment.update({ContactSegment.contact: keep_id}).where(
        ContactSegment.contact == drop_id)


LINKS = ContactLinks(name="segments", move=move)
