"""Organizations. Every read and write here is scoped to the caller's organization."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from wacc.db.engine import is_sqlite, transaction
from wacc.lib.errors import NotFoundError, ValidationError
from wacc.lib.ids import new_id
from wacc.lib.text import slugify
from wacc.orgs.schemas import (
    OrganizationOut,
    OrganizationSettings,
    OrganizationSettingsPatch,
    OrganizationUpdate,
)
from wacc.orgs.tables import Organization
from wacc.security.principal import Principal

# Sections of the settings JSON that features keep, validate and serve themselves
# (wacc.ai.services: "ai"): kept through a PATCH here, and not shown here.
FEATURE_SECTIONS = ("ai",)


def _out(row: dict[str, Any]) -> OrganizationOut:
    settings = row["settings"]
    if isinstance(settings, str):
        settings = json.loads(settings)
    return OrganizationOut(
        id=row["id"], name=row["name"], slug=row["slug"], plan=row["plan"],
        settings={k: v for k, v in (settings or {}).items() if k not in FEATURE_SECTIONS},
        created_at=row["created_at"], updated_at=row["updated_at"],
    )


async def count() -> int:
    return await Organization.count()


async def _unique_slug(name: str) -> str:
    base = slugify(name)
    slug, n = base, 1
    while await Organization.exists().where(Organization.slug == slug):
        n += 1
        slug = f"{base}-{n}"
    return slug


async def lock_for_create() -> None:
    """Hold off other organization creations until this transaction ends.

    Creating one reads before it writes (is this the first run? is the slug free?), so
    two at once could both pass. SQLite's write transactions are serialized already; on
    PostgreSQL this takes a table lock that only conflicts with itself and writers, so
    reads go on. Organizations are created rarely, so the wait costs nothing.
    """
    if not is_sqlite():
        await Organization.raw("LOCK TABLE organization IN SHARE ROW EXCLUSIVE MODE")


async def create(name: str) -> OrganizationOut:
    """Create an organization (used by registration and the CLI, inside their transaction)."""
    name = name.strip()
    if not name:
        raise ValidationError.field("organizationName", "must not be empty")
    org_id = new_id()
    default_settings = msgspec.to_builtins(OrganizationSettings())
    async with transaction():  # the caller's, when there is one
        await lock_for_create()
        await Organization.insert(
            Organization(id=org_id, name=name, slug=await _unique_slug(name),
                         settings=default_settings)
        )
    return await get_by_id(org_id)


async def get_by_id(org_id: str) -> OrganizationOut:
    row = await Organization.select().where(Organization.id == org_id).first()
    if row is None:
        raise NotFoundError("Organization not found")
    return _out(row)


def _check_own(principal: Principal, org_id: str) -> None:
    # Another organization's id answers exactly like an id that does not exist.
    if org_id != principal.organization_id:
        raise NotFoundError("Organization not found")


async def list_for(principal: Principal) -> list[OrganizationOut]:
    return [await get_by_id(principal.organization_id)]


async def get(principal: Principal, org_id: str) -> OrganizationOut:
    _check_own(principal, org_id)
    return await get_by_id(org_id)


async def update(principal: Principal, org_id: str, data: OrganizationUpdate) -> OrganizationOut:
    _check_own(principal, org_id)
    values: dict[Any, Any] = {}
    if data.name is not None:
        if not data.name.strip():
            raise ValidationError.field("name", "must not be empty")
        values[Organization.name] = data.name.strip()
    if data.settings is not None:
        stored = await settings_of(org_id)
        values[Organization.settings] = {
            **{k: stored[k] for k in FEATURE_SECTIONS if k in stored},
            **msgspec.to_builtins(_patched_settings(stored, data.settings)),
        }
    if values:
        await Organization.update(values).where(Organization.id == org_id)
    return await get_by_id(org_id)


def _patched_settings(
    stored: dict[str, Any], patch: OrganizationSettingsPatch
) -> OrganizationSettings:
    """The stored settings with the patch's named fields changed, checked as a whole."""
    known = {f.encode_name for f in msgspec.structs.fields(OrganizationSettings)}
    # Keys of settings since removed are dropped; settings added since get defaults.
    current = msgspec.convert({k: v for k, v in stored.items() if k in known},
                              OrganizationSettings)
    changes = {
        name: value for name in patch.__struct_fields__
        if (value := getattr(patch, name)) is not msgspec.UNSET
    }
    merged = msgspec.structs.replace(current, **changes)
    try:
        ZoneInfo(merged.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError.field(
            "settings.timezone", "not a known time zone name (such as Europe/Paris)"
        ) from None
    return merged


async def delete(principal: Principal, org_id: str, confirm_slug: str) -> None:
    _check_own(principal, org_id)
    org = await get_by_id(org_id)
    if confirm_slug != org.slug:
        raise ValidationError.field("confirmSlug", "type the organization's slug to confirm")
    async with transaction():
        await Organization.delete().where(Organization.id == org_id)


async def list_all() -> list[OrganizationOut]:
    """Every organization, for the operator's CLI (not reachable over HTTP)."""
    rows = await Organization.select().order_by(Organization.created_at)
    return [_out(r) for r in rows]


async def settings_of(org_id: str) -> dict[str, Any]:
    """The whole stored settings JSON, feature sections included."""
    row = await Organization.select(Organization.settings).where(Organization.id == org_id).first()
    if row is None:
        raise NotFoundError("Organization not found")
    settings = row["settings"]
    return (json.loads(settings) if isinstance(settings, str) else settings) or {}
