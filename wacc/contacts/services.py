"""Contacts: what the WhatsApp pipeline needs now (resolve a sender, map hidden ids,
merge, block). The CRM endpoints build on these."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import phonenumbers
from piccolo.columns.combination import WhereRaw

from wacc import events
from wacc.contacts import links
from wacc.contacts.schemas import (
    ContactConversation,
    ContactCreate,
    ContactOut,
    ContactPage,
    ContactUpdate,
)
from wacc.contacts.tables import Contact, ContactTag
from wacc.customfields import services as customfields
from wacc.db import fulltext
from wacc.db.bulk import raise_timestamps
from wacc.db.engine import is_sqlite, transaction
from wacc.lib import cursor
from wacc.lib.clock import utcnow
from wacc.lib.errors import ConflictError, NotFoundError, ValidationError
from wacc.lib.ids import new_id
from wacc.tags.tables import Tag


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


# Ids that name a person without their phone number: WhatsApp Web's "…@lid" and the
# Cloud API's business-scoped user ids ("US.1349…@bsuid"). A contact keeps the one it
# was seen with in its ``lid`` column, so the phone number, once known, joins them.
HIDDEN_ID_SUFFIXES = ("@lid", "@bsuid")


def is_hidden_id(wa_id: str) -> bool:
    return wa_id.endswith(HIDDEN_ID_SUFFIXES)


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
    is_lid = is_hidden_id(wa_id)
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
        # A group's name is its subject, which members may change: it follows.
        if name and (not row["name"] or (wa_id.endswith("@g.us") and name != row["name"])):
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


async def change_identity(organization_id: str, old_wa_id: str, old_phone: str | None,
                          new_wa_id: str, new_phone: str | None) -> str | None:
    """The same person now uses another number (or, for a contact known only by a
    hidden id, another id): their contact takes the new identity, or is merged into
    the contact that already has it. Returns the surviving contact id, None when the
    old identity names no contact (the next message creates one)."""
    def key(wa_id: str, phone: str | None) -> str:
        phone = phone or phone_from_wa_id(wa_id)
        return wa_id_for(phone) if phone else wa_id

    org = Contact.organization == organization_id
    old = await Contact.select().where(org & (
        (Contact.whatsapp_id == key(old_wa_id, old_phone)) | (Contact.lid == old_wa_id))).first()
    if old is None:
        return None
    new_key = key(new_wa_id, new_phone)
    new = await Contact.select().where(org & (
        (Contact.whatsapp_id == new_key) | (Contact.lid == new_wa_id))).first()
    if new is not None and new["id"] != old["id"]:
        await merge(organization_id, keep_id=new["id"], drop_id=old["id"])
        return str(new["id"])
    values: dict[Any, Any] = {Contact.updated_at: utcnow()}
    if is_hidden_id(new_wa_id):
        values[Contact.lid] = new_wa_id  # a new user id: the phone, if any, stays
        if not old["phone_number"]:
            values[Contact.whatsapp_id] = new_key
    else:
        values[Contact.whatsapp_id] = new_key
        values[Contact.phone_number] = new_phone or phone_from_wa_id(new_wa_id) or ""
    await Contact.update(values).where(Contact.id == old["id"])
    return str(old["id"])


async def merge(organization_id: str, keep_id: str, drop_id: str) -> None:
    """Move everything of *drop* onto *keep*, then delete *drop* (nothing is lost)."""
    for link in links.registered():  # what other features keep (conversations, segments)
        if link.move is not None:
            await link.move(organization_id, drop_id, keep_id)
    kept_tags = [r["tag"] for r in await ContactTag.select(ContactTag.tag).where(
        ContactTag.contact == keep_id)]
    if kept_tags:
        await ContactTag.delete().where(
            (ContactTag.contact == drop_id) & ContactTag.tag.is_in(kept_tags))
    await ContactTag.update({ContactTag.contact: keep_id}).where(ContactTag.contact == drop_id)
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
    lids = [wa for wa, _, _ in senders if is_hidden_id(wa)]
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
                    lid=keys[key][0] if is_hidden_id(keys[key][0]) else None)
            for key in missing
        ]).on_conflict(action="DO NOTHING")
        for r in await Contact.select().where(
            (Contact.organization == organization_id) & Contact.whatsapp_id.is_in(missing)
        ):
            existing[r["whatsapp_id"]] = {**r, "is_new": True}
    for key, (wa_id, _, name) in keys.items():
        row = existing[key]
        updates: dict[Any, Any] = {}
        # A group's name is its subject, which members may change: it follows.
        if name and (not row["name"] or (wa_id.endswith("@g.us") and name != row["name"])):
            updates[Contact.name] = name
        if is_hidden_id(wa_id) and not row["lid"]:
            updates[Contact.lid] = wa_id
        if updates:
            await Contact.update(updates).where(Contact.id == row["id"])
            row = {**row, **{c._meta.name: v for c, v in updates.items()}}
        out[wa_id] = row
    return out


async def touch_many(latest: dict[str, Any]) -> None:
    """Set last_message_at of each contact id to the given time when it is newer."""
    await raise_timestamps(Contact, Contact.last_message_at, latest)


# -- the CRM API ------------------------------------------------------------------------

_SORTABLE = ("created_at", "last_message_at", "name")


def _contact_out(row: dict[str, Any], tags: list[str]) -> ContactOut:
    fields = row["custom_fields"]
    if isinstance(fields, str):
        import json

        fields = json.loads(fields)
    return ContactOut(
        id=row["id"], whatsapp_id=row["whatsapp_id"], phone_number=row["phone_number"],
        name=row["name"], email=row["email"], language=row["language"], timezone=row["timezone"],
        is_blocked=row["is_blocked"], custom_fields=fields or {}, tags=tags,
        last_message_at=row["last_message_at"], created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def _tags_of(contact_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {cid: [] for cid in contact_ids}
    if contact_ids:
        for row in await ContactTag.select(ContactTag.contact, ContactTag.tag).where(
                ContactTag.contact.is_in(contact_ids)):
            out[row["contact"]].append(row["tag"])
    return out


async def scoped_row(organization_id: str, contact_id: str) -> dict[str, Any]:
    row = await Contact.select().where(
        (Contact.id == contact_id) & (Contact.organization == organization_id)).first()
    if row is None:
        raise NotFoundError("Contact not found")
    return row


async def by_phone(organization_id: str, phone_e164: str) -> dict[str, Any] | None:
    """The contact with this (E.164) phone number, if there is one."""
    return await Contact.select().where(
        (Contact.organization == organization_id)
        & (Contact.whatsapp_id == wa_id_for(phone_e164))).first()


async def get_contact(organization_id: str, contact_id: str) -> ContactOut:
    row = await scoped_row(organization_id, contact_id)
    return _contact_out(row, (await _tags_of([row["id"]]))[row["id"]])


async def _validated_fields(organization_id: str, values: dict[str, Any], partial: bool) -> dict[str, Any]:
    return await customfields.validate_values(organization_id, values, partial=partial)


async def create_contact(organization_id: str, data: ContactCreate) -> ContactOut:
    phone = normalize_phone(data.phone_number)
    key = wa_id_for(phone)
    fields = await _validated_fields(organization_id, data.custom_fields, partial=False)
    if await Contact.exists().where(
            (Contact.organization == organization_id) & (Contact.whatsapp_id == key)):
        raise ConflictError("A contact with this phone number exists",
                            [{"field": "phoneNumber", "message": "already a contact"}])
    contact_id = new_id()
    async with transaction():
        await Contact.insert(Contact(
            id=contact_id, organization=organization_id, whatsapp_id=key, phone_number=phone,
            name=(data.name or "").strip() or None, email=data.email, language=data.language,
            timezone=data.timezone, custom_fields=fields,
        ))
        await events.emit(events.ContactCreated(organization_id=organization_id,
                                                contact_id=contact_id))
    return await get_contact(organization_id, contact_id)


async def update_contact(organization_id: str, contact_id: str, data: ContactUpdate,
                         on_block: Callable[[dict[str, Any], bool], Awaitable[None]] | None = None,
                         ) -> ContactOut:
    row = await scoped_row(organization_id, contact_id)
    values: dict[Any, Any] = {}
    for name in ("name", "email", "language", "timezone"):
        value = getattr(data, name)
        if value is not None:
            values[getattr(Contact, name)] = value.strip() or None if isinstance(value, str) else value
    if data.custom_fields is not None:
        current = row["custom_fields"] if isinstance(row["custom_fields"], dict) else {}
        merged = {**current, **data.custom_fields}
        # A null value removes the field.
        merged = {k: v for k, v in merged.items() if v is not None}
        values[Contact.custom_fields] = await _validated_fields(organization_id, merged,
                                                                partial=False)
    if data.is_blocked is not None and data.is_blocked != row["is_blocked"]:
        values[Contact.is_blocked] = data.is_blocked
        if on_block is not None:
            await on_block(row, data.is_blocked)
    if values:
        values[Contact.updated_at] = utcnow()
        await Contact.update(values).where(Contact.id == contact_id)
    return await get_contact(organization_id, contact_id)


async def delete_contact(organization_id: str, contact_id: str) -> None:
    await scoped_row(organization_id, contact_id)
    await Contact.delete().where(
        (Contact.id == contact_id) & (Contact.organization == organization_id))


async def list_contacts(
    organization_id: str, *, search: str | None = None, tag_id: str | None = None,
    field: str | None = None, field_value: str | None = None,
    last_message_after: Any = None, last_message_before: Any = None,
    after: str | None = None, limit: int = 50,
) -> Any:
    """Newest first (by creation), filtered; keyset-paginated."""
    where: Any = Contact.organization == organization_id
    if search and search.strip():
        # Full-text words and prefixes, or phone digits (wacc.db.fulltext, docs/search.md).
        where &= WhereRaw("{}", fulltext.contact_match(
            '"contact"', fulltext.parse(search, "search")))
    if tag_id:
        tagged = [r["contact"] for r in await ContactTag.select(ContactTag.contact).where(
            ContactTag.tag == tag_id)]
        where &= Contact.id.is_in(tagged or [""])
    if last_message_after is not None:
        where &= Contact.last_message_at >= last_message_after
    if last_message_before is not None:
        where &= Contact.last_message_at < last_message_before
    if field:
        where &= _custom_field_matches(field, field_value)
    return await page_where(where, after, limit)


async def page_where(where: Any, after: str | None, limit: int) -> ContactPage:
    """One page of contacts matching *where*, newest first (by creation), keyset-paginated:
    GET /contacts and segments share it, so their items and cursors are the same."""
    if after:
        at, last_id = cursor.decode_time(after)
        where &= (Contact.created_at < at) | ((Contact.created_at == at) & (Contact.id < last_id))
    rows = await Contact.select().where(where).order_by(
        Contact.created_at, ascending=False).order_by(Contact.id, ascending=False).limit(limit + 1)
    tags = await _tags_of([r["id"] for r in rows[:limit]])
    items = [_contact_out(r, tags[r["id"]]) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = cursor.encode(last["created_at"].isoformat(), last["id"])
    return ContactPage(items=items, next_cursor=next_cursor)


def _custom_field_matches(key: str, value: str | None) -> Any:
    """A custom field equals *value* (or, for a list field, contains it); with no value,
    the field is set. Written per database: JSON operators differ."""

    if is_sqlite(Contact._meta.db):
        path = "$." + key
        if value is None:
            return WhereRaw("json_extract(custom_fields, {}) IS NOT NULL", path)
        return WhereRaw(
            "(json_extract(custom_fields, {}) = {} OR EXISTS (SELECT 1 FROM "
            "json_each(custom_fields, {}) WHERE json_each.value = {}))", path, value, path, value)
    if value is None:
        return WhereRaw("custom_fields ? {}", key)
    return WhereRaw("(custom_fields ->> {} = {} OR (jsonb_typeof(custom_fields -> {}) = 'array' "
                    "AND custom_fields -> {} ? {}))", key, value, key, key, value)


async def add_tag(organization_id: str, contact_id: str, tag_id: str) -> ContactOut:
    await scoped_row(organization_id, contact_id)
    if not await Tag.exists().where((Tag.id == tag_id) & (Tag.organization == organization_id)):
        raise NotFoundError("Tag not found")
    async with transaction():
        added = await ContactTag.insert(ContactTag(contact=contact_id, tag=tag_id)).on_conflict(
            action="DO NOTHING").returning(ContactTag.id)
        if added:
            await events.emit(events.TagAdded(organization_id=organization_id, tag_id=tag_id,
                                              contact_id=contact_id))
    return await get_contact(organization_id, contact_id)


async def remove_tag(organization_id: str, contact_id: str, tag_id: str) -> None:
    await scoped_row(organization_id, contact_id)
    await ContactTag.delete().where((ContactTag.contact == contact_id) & (ContactTag.tag == tag_id))


async def conversations_of(organization_id: str, contact_id: str) -> list[ContactConversation]:
    """The contact's conversations, newest first, from the conversations feature."""
    await scoped_row(organization_id, contact_id)
    found: list[ContactConversation] = []
    for link in links.registered():
        if link.conversations is not None:
            found.extend(await link.conversations(organization_id, contact_id))
    return found


async def merge_contacts(organization_id: str, keep_id: str, other_id: str) -> ContactOut:
    if keep_id == other_id:
        raise ValidationError.field("otherId", "cannot merge a contact into itself")
    await scoped_row(organization_id, keep_id)
    await scoped_row(organization_id, other_id)
    async with transaction():
        await merge(organization_id, keep_id=keep_id, drop_id=other_id)
    return await get_contact(organization_id, keep_id)
