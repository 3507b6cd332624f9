"""Segments: saved condition sets over an organization's contacts.

Membership is computed when asked (one SQL query), never stored: the answer is always
current, and no job has to follow every tag, field or message change. The
ContactSegment table is therefore not used for membership; it stays free for a later
static-list feature. What this costs: a big organization pays a scan per request.
"""

from __future__ import annotations

from typing import Any

from piccolo.columns.combination import WhereRaw

from wacc.contacts import services as contacts
from wacc.contacts.schemas import ContactPage
from wacc.contacts.tables import Contact
from wacc.conversations import inbox as conversations
from wacc.customfields.tables import CustomField
from wacc.db.engine import is_sqlite
from wacc.lib.clock import utcnow
from wacc.lib.errors import NotFoundError, ValidationError
from wacc.lib.ids import new_id
from wacc.security.principal import Principal
from wacc.segments.conditions import Catalog, Target, compile_where, validate
from wacc.segments.schemas import (
    SegmentCount,
    SegmentCreate,
    SegmentOut,
    SegmentPreview,
    SegmentPreviewOut,
    SegmentUpdate,
)
from wacc.segments.tables import Segment
from wacc.tags.tables import Tag


def _out(row: dict[str, Any]) -> SegmentOut:
    return SegmentOut(id=row["id"], name=row["name"], conditions=row["conditions"] or {},
                      created_at=row["created_at"], updated_at=row["updated_at"])


async def _fields(organization_id: str) -> dict[str, dict[str, Any]]:
    rows = await CustomField.select().where(
        CustomField.organization == organization_id).output(load_json=True)
    return {r["key"]: r for r in rows}


async def _checked(organization_id: str, definition: dict[str, Any]) -> dict[str, Any]:
    # An organization holds hundreds of tags, not millions: loading their ids is one
    # small query and lets validation stay a pure function.
    tag_ids = frozenset(r["id"] for r in await Tag.select(Tag.id).where(
        Tag.organization == organization_id))
    return validate(definition, Catalog(await _fields(organization_id), tag_ids))


async def _row(principal: Principal, segment_id: str) -> dict[str, Any]:
    row = await Segment.select().where(
        (Segment.id == segment_id) & (Segment.organization == principal.organization_id)
    ).output(load_json=True).first()
    if row is None:
        raise NotFoundError("Segment not found")
    return row


async def list_segments(principal: Principal) -> list[SegmentOut]:
    rows = await Segment.select().where(
        Segment.organization == principal.organization_id).output(load_json=True)
    # Sorted here: ORDER BY follows each database's collation.
    return [_out(r) for r in sorted(rows, key=lambda r: (r["name"].casefold(), r["id"]))]


async def get_segment(principal: Principal, segment_id: str) -> SegmentOut:
    return _out(await _row(principal, segment_id))


def _name(raw: str) -> str:
    name = raw.strip()
    if not name or "\x00" in name:  # PostgreSQL stores no NUL character
        raise ValidationError.field("name", "must not be blank or hold a NUL character")
    return name


async def create_segment(principal: Principal, data: SegmentCreate) -> SegmentOut:
    name = _name(data.name)
    definition = await _checked(principal.organization_id, data.conditions)
    segment_id = new_id()
    await Segment.insert(Segment(id=segment_id, organization=principal.organization_id,
                                 name=name, conditions=definition))
    return await get_segment(principal, segment_id)


async def update_segment(principal: Principal, segment_id: str, data: SegmentUpdate) -> SegmentOut:
    """New conditions are checked like on create; everything is checked before anything
    is written, so a refused change leaves the segment as it was."""
    await _row(principal, segment_id)
    updates: dict[Any, Any] = {}
    if data.name is not None:
        updates[Segment.name] = _name(data.name)
    if data.conditions is not None:
        updates[Segment.conditions] = await _checked(principal.organization_id, data.conditions)
    if updates:
        updates[Segment.updated_at] = utcnow()
        await Segment.update(updates).where(Segment.id == segment_id)
    return await get_segment(principal, segment_id)


async def delete_segment(principal: Principal, segment_id: str) -> None:
    await _row(principal, segment_id)
    await Segment.delete().where(Segment.id == segment_id)


# -- members ---------------------------------------------------------------------------


async def matching(organization_id: str, definition: dict[str, Any],
                   own_conversations_of: str | None = None) -> Any:
    """A where clause for the organization's contacts a stored definition matches, for
    any feature that needs an audience (broadcasts, automations)."""
    target = Target(sqlite=is_sqlite(Contact._meta.db), now=utcnow(),
                    fields=await _fields(organization_id),
                    own_conversations_of=own_conversations_of)
    return (Contact.organization == organization_id) & WhereRaw(
        "{}", compile_where(definition, target))


async def _where_for(principal: Principal, definition: dict[str, Any]) -> Any:
    # An agent limited to their own conversations must not learn, through a
    # conversation condition, anything about conversations they cannot open.
    own = await conversations.restricted_to_own(principal)
    return await matching(principal.organization_id, definition,
                          (principal.user_id or "") if own else None)


async def _page(where: Any, after: str | None, limit: int) -> ContactPage:
    page: ContactPage = await contacts.page_where(where, after, limit)
    return page


async def segment_contacts(principal: Principal, segment_id: str, after: str | None,
                           limit: int) -> ContactPage:
    row = await _row(principal, segment_id)
    return await _page(await _where_for(principal, row["conditions"]), after, limit)


async def segment_count(principal: Principal, segment_id: str) -> SegmentCount:
    row = await _row(principal, segment_id)
    return SegmentCount(count=await Contact.count().where(
        await _where_for(principal, row["conditions"])))


async def preview(principal: Principal, data: SegmentPreview, limit: int) -> SegmentPreviewOut:
    """What a definition would match, stored nowhere: for an editor showing the audience."""
    definition = await _checked(principal.organization_id, data.conditions)
    where = await _where_for(principal, definition)
    page = await _page(where, None, limit)
    return SegmentPreviewOut(count=await Contact.count().where(where), items=page.items)
