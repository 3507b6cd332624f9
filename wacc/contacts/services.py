"""Contacts: what the WhatsApp pipeline needs now (resolve a sender, map hidden ids,
merge, block). The CRM endpoints build on these."""

from __future__ import annotations

from typing import Any

import phonenumbers

from wacc.contacts.tables import Contact, ContactSegment, ContactTag
from wacc.db.bulk import raise_timestamps
from wacc.lib.clock import utcnow
from wacc.lib.errors import ValidationError
from wacc.lib.ids import new_id


def normalize_phone(raw: str, default_region: str | None = None) -> str:
    """E.164 for a phone number, or ValidationError. WhatsApp ids carry no "+"."""
    text = raw.strip()
    if text and not text.startswith("+") and default_region is None:
        text = "+" + text
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise ValidationError.field("phoneNumber", f"not a phone number: {raw!r}") from None
    if not phonenumbers.is_possible_number(number):
        raise ValidationError.field("phoneNumber", f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def wa_id_for(phone_e164: str) -> str:
    return f"{phone_e164.lstrip('+')}@c.us"


def phone_from_wa_id(wa_id: str) -> str | None:
    user, _, server = wa_id.partition("@")
    if server in ("c.us", "s.whatsapp.net") and user.isdigit():
        return "+" + user
    return None


async def resolve(
    organization_id: str, wa_id: str, phone: str | None, name: str | None
) -> dict[str, Any]:
    """The contact for a WhatsApp sender, created on first sight.

    A hidden ``@lid`` id is looked up among known lids first, so one person whose id
    changes form is still one contact."""
    is_lid = wa_id.endswith("@lid")
    if is_lid:
        row = await Contact.select().where(
            (Contact.organization == organization_id) & (Contact.lid == wa_id)
        ).first()
        if row is not None:
            return row
    phone = phone or phone_from_wa_id(wa_id)
    key = wa_id_for(phone) if phone else wa_id
    row = await Contact.select().where(
        (Contact.organization == organization_id) & (Contact.whatsapp_id == key)
    ).first()
    if row is not None:
        updates: dict[Any, Any] = {}
        if name and not row["name"]:
            updates[Contact.name] = name
        if is_lid and not row["lid"]:
            updates[Contact.lid] = wa_id
        if updates:
            await Contact.update(updates).where(Contact.id == row["id"])
            row = {**row, **{c._meta.name: v for c, v in updates.items()}}
        return row
    contact_id = new_id()
    await Contact.insert(
        Contact(
            id=contact_id, organization=organization_id, whatsapp_id=key,
            phone_number=phone or "", name=name, lid=wa_id if is_lid else None,
        )
    ).on_conflict(action="DO NOTHING")
    # A concurrent ingest may have created it first; either way, read it back.
    row = await Contact.select().where(
        (Contact.organization == organization_id) & (Contact.whatsapp_id == key)
    ).first()
    assert row is not None
    return row


async def map_identity(organization_id: str, lid: str, phone: str) -> str | None:
    """A hidden id turned out to be *phone*: make them one contact. Returns the
    surviving contact id (the phone one), merging a lid-only contact into it."""
    phone = normalize_phone(phone)
    by_phone = await resolve(organization_id, wa_id_for(phone), phone, None)
    lid_only = await Contact.select().where(
        (Contact.organization == organization_id) & (Contact.whatsapp_id == lid)
    ).first()
    if lid_only is not None and lid_only["id"] != by_phone["id"]:
        await merge(organization_id, keep_id=by_phone["id"], drop_id=lid_only["id"])
    await Contact.update({Contact.lid: lid}).where(Contact.id == by_phone["id"])
    return by_phone["id"]


async def merge(organization_id: str, keep_id: str, drop_id: str) -> None:
    """Move everything of *drop* onto *keep*, then delete *drop* (nothing is lost)."""
    from wacc.conversations import services as conversations

    await conversations.move_contact(organization_id, drop_id, keep_id)
    kept_tags = [r["tag"] for r in await ContactTag.select(ContactTag.tag).where(
        ContactTag.contact == keep_id)]
    if kept_tags:
        await ContactTag.delete().where(
            (ContactTag.contact == drop_id) & ContactTag.tag.is_in(kept_tags))
    await ContactTag.update({ContactTag.contact: keep_id}).where(ContactTag.contact == drop_id)
    kept_segments = [r["segment"] for r in await ContactSegment.select(
        ContactSegment.segment).where(ContactSegment.contact == keep_id)]
    if kept_segments:
        await ContactSegment.delete().where(
            (ContactSegment.contact == drop_id) & ContactSegment.segment.is_in(kept_segments))
    await ContactSegment.update({ContactSegment.contact: keep_id}).where(
        ContactSegment.contact == drop_id)
    drop = await Contact.select().where(Contact.id == drop_id).output(load_json=True).first()
    keep = await Contact.select().where(Contact.id == keep_id).output(load_json=True).first()
    if drop and keep:
        await Contact.update({
            Contact.name: keep["name"] or drop["name"],
            Contact.email: keep["email"] or drop["email"],
            # The kept contact's values win where both have one.
            Contact.custom_fields: {**(drop["custom_fields"] or {}), **(keep["custom_fields"] or {})},
        }).where(Contact.id == keep_id)
    await Contact.delete().where(
        (Contact.id == drop_id) & (Contact.organization == organization_id)
    )


async def set_blocked(organization_id: str, wa_id: str, blocked: bool) -> None:
    await Contact.update({Contact.is_blocked: blocked, Contact.updated_at: utcnow()}).where(
        (Contact.organization == organization_id)
        & ((Contact.whatsapp_id == wa_id) | (Contact.lid == wa_id))
    )


async def touch(contact_id: str, at: Any) -> None:
    await Contact.update({Contact.last_message_at: at}).where(
        (Contact.id == contact_id)
        & (Contact.last_message_at.is_null() | (Contact.last_message_at < at))
    )


async def resolve_many(
    organization_id: str, senders: list[tuple[str, str | None, str | None]]
) -> dict[str, dict[str, Any]]:
    """:func:`resolve` for many senders at once (wa_id, phone, name) -> {wa_id: contact},
    in a fixed number of queries however many senders there are."""
    out: dict[str, dict[str, Any]] = {}
    lids = [wa for wa, _, _ in senders if wa.endswith("@lid")]
    if lids:
        for row in await Contact.select().where(
            (Contact.organization == organization_id) & Contact.lid.is_in(lids)
        ):
            out[row["lid"]] = row
    keys: dict[str, tuple[str, str | None, str | None]] = {}
    for wa_id, phone, name in senders:
        if wa_id in out:
            continue
        phone = phone or phone_from_wa_id(wa_id)
        key = wa_id_for(phone) if phone else wa_id
        keys.setdefault(key, (wa_id, phone, name))
    if not keys:
        return out
    existing = {
        r["whatsapp_id"]: r for r in await Contact.select().where(
            (Contact.organization == organization_id) & Contact.whatsapp_id.is_in(list(keys)))
    }
    missing = [k for k in keys if k not in existing]
    if missing:
        await Contact.insert(*[
            Contact(id=new_id(), organization=organization_id, whatsapp_id=key,
                    phone_number=keys[key][1] or "", name=keys[key][2],
                    lid=keys[key][0] if keys[key][0].endswith("@lid") else None)
            for key in missing
        ]).on_conflict(action="DO NOTHING")
        for r in await Contact.select().where(
            (Contact.organization == organization_id) & Contact.whatsapp_id.is_in(missing)
        ):
            existing[r["whatsapp_id"]] = r
    for key, (wa_id, _, name) in keys.items():
        row = existing[key]
        updates: dict[Any, Any] = {}
        if name and not row["name"]:
            updates[Contact.name] = name
        if wa_id.endswith("@lid") and not row["lid"]:
            updates[Contact.lid] = wa_id
        if updates:
            await Contact.update(updates).where(Contact.id == row["id"])
            row = {**row, **{c._meta.name: v for c, v in updates.items()}}
        out[wa_id] = row
    return out


async def touch_many(latest: dict[str, Any]) -> None:
    """Set last_message_at of each contact id to the given time when it is newer."""
    await raise_timestamps(Contact, Contact.last_message_at, latest)
