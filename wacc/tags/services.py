"""Tags, scoped to the caller's organization.

Uniqueness (tag name per org) is checked before writing so the caller gets a 409 naming
the field; the unique index stays the last word when two requests race, and its
integrity error becomes the same 409.
"""

from __future__ import annotations

from typing import Any

from wacc.db.errors import UNIQUE_VIOLATIONS
from wacc.lib.errors import ConflictError, NotFoundError, ValidationError
from wacc.lib.ids import new_id
from wacc.security.principal import Principal
from wacc.tags.schemas import TagCreate, TagOut, TagUpdate
from wacc.tags.tables import Tag

DEFAULT_COLOR = "#64748b"
TAG_NAME_MAX = 64


def _tag_out(row: dict[str, Any]) -> TagOut:
    return TagOut(id=row["id"], name=row["name"], color=row["color"],
                  created_at=row["created_at"])


def _tag_name(raw: str) -> str:
    name = raw.strip()
    if not 1 <= len(name) <= TAG_NAME_MAX:
        raise ValidationError.field("name", f"must be 1 to {TAG_NAME_MAX} characters")
    return name


def _tag_conflict(name: str) -> ConflictError:
    return ConflictError(f"A tag named {name!r} already exists",
                         [{"field": "name", "message": "already exists"}])


async def _ensure_tag_name_free(organization_id: str, name: str, except_id: str | None) -> None:
    # The unique index is case-sensitive; names are compared case-insensitively here.
    # Loading the org's names costs one small query (orgs hold hundreds of tags, not
    # millions) and avoids LIKE, whose % and _ wildcards a tag name may contain.
    rows = await Tag.select(Tag.id, Tag.name).where(Tag.organization == organization_id)
    folded = name.casefold()
    if any(r["name"].casefold() == folded and r["id"] != except_id for r in rows):
        raise _tag_conflict(name)


async def _tag_row(principal: Principal, tag_id: str) -> dict[str, Any]:
    row = await Tag.select().where(
        (Tag.id == tag_id) & (Tag.organization == principal.organization_id)
    ).first()
    if row is None:
        raise NotFoundError("Tag not found")
    return row


async def list_tags(principal: Principal) -> list[TagOut]:
    rows = await Tag.select().where(Tag.organization == principal.organization_id)
    # Sorted here: ORDER BY follows the database's collation, which differs between
    # SQLite, a C-collated and an en_US-collated PostgreSQL.
    return [_tag_out(r) for r in sorted(rows, key=lambda r: (r["name"].casefold(), r["id"]))]


async def create_tag(principal: Principal, data: TagCreate) -> TagOut:
    name = _tag_name(data.name)
    await _ensure_tag_name_free(principal.organization_id, name, None)
    tag_id = new_id()
    color = (data.color or DEFAULT_COLOR).lower()
    try:
        await Tag.insert(Tag(id=tag_id, organization=principal.organization_id, name=name,
                             color=color))
    except UNIQUE_VIOLATIONS:
        raise _tag_conflict(name) from None
    return _tag_out(await _tag_row(principal, tag_id))


async def update_tag(principal: Principal, tag_id: str, data: TagUpdate) -> TagOut:
    await _tag_row(principal, tag_id)
    updates: dict[Any, Any] = {}
    if data.name is not None:
        name = _tag_name(data.name)
        await _ensure_tag_name_free(principal.organization_id, name, tag_id)
        updates[Tag.name] = name
    if data.color is not None:
        updates[Tag.color] = data.color.lower()
    if updates:
        try:
            await Tag.update(updates).where(Tag.id == tag_id)
        except UNIQUE_VIOLATIONS:
            raise _tag_conflict(updates[Tag.name]) from None
    return _tag_out(await _tag_row(principal, tag_id))


async def delete_tag(principal: Principal, tag_id: str) -> None:
    """Contacts and conversations lose the tag: their link rows cascade."""
    await _tag_row(principal, tag_id)
    await Tag.delete().where(Tag.id == tag_id)
