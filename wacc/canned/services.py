"""Canned responses, scoped to the caller's organization, and their expansion in the
composer (a leading /shortcut replaced, {{variables}} filled).

Uniqueness (shortcut per org) is checked before writing so the caller gets a 409 naming
the field; the unique index stays the last word when two requests race, and its
integrity error becomes the same 409.
"""

from __future__ import annotations

import re
from typing import Any

from wacc.canned.schemas import (
    CannedResponseCreate,
    CannedResponseOut,
    CannedResponseUpdate,
    ExpandIn,
    ExpandOut,
)
from wacc.canned.tables import CannedResponse
from wacc.db.errors import UNIQUE_VIOLATIONS
from wacc.lib import placeholders
from wacc.lib.errors import ConflictError, NotFoundError, ValidationError
from wacc.lib.ids import new_id
from wacc.security.principal import Principal

# A /shortcut only counts at the very start, followed by whitespace or the end.
_LEADING_SHORTCUT = re.compile(r"^/([a-z0-9_-]{1,48})(?=\s|$)")
VARIABLES = ("contact.name", "contact.phone", "agent.name")


def _canned_out(row: dict[str, Any]) -> CannedResponseOut:
    return CannedResponseOut(
        id=row["id"], shortcut=row["shortcut"], content=row["content"],
        created_by=row["created_by"], created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _shortcut_conflict(shortcut: str) -> ConflictError:
    return ConflictError(f"The shortcut /{shortcut} is already in use",
                         [{"field": "shortcut", "message": "already in use"}])


async def _ensure_shortcut_free(
    organization_id: str, shortcut: str, except_id: str | None
) -> None:
    row = await CannedResponse.select(CannedResponse.id).where(
        (CannedResponse.organization == organization_id)
        & (CannedResponse.shortcut == shortcut)
    ).first()
    if row is not None and row["id"] != except_id:
        raise _shortcut_conflict(shortcut)


async def _canned_row(principal: Principal, canned_id: str) -> dict[str, Any]:
    row = await CannedResponse.select().where(
        (CannedResponse.id == canned_id)
        & (CannedResponse.organization == principal.organization_id)
    ).first()
    if row is None:
        raise NotFoundError("Canned response not found")
    return row


async def list_canned(principal: Principal, search: str | None = None) -> list[CannedResponseOut]:
    rows = await CannedResponse.select().where(
        CannedResponse.organization == principal.organization_id)
    # Sorted here, not by ORDER BY, so "-" and "_" sort the same on every database.
    rows.sort(key=lambda r: r["shortcut"])
    needle = (search or "").strip().lstrip("/").casefold()
    if needle:
        # Filtered here rather than with LIKE: the search text may hold % or _, and an
        # org's canned responses are few enough to scan.
        rows = [r for r in rows
                if needle in r["shortcut"] or needle in r["content"].casefold()]
    return [_canned_out(r) for r in rows]


async def create_canned(principal: Principal, data: CannedResponseCreate) -> CannedResponseOut:
    await _ensure_shortcut_free(principal.organization_id, data.shortcut, None)
    canned_id = new_id()
    try:
        await CannedResponse.insert(CannedResponse(
            id=canned_id, organization=principal.organization_id, shortcut=data.shortcut,
            content=data.content, created_by=principal.user_id,
        ))
    except UNIQUE_VIOLATIONS:
        raise _shortcut_conflict(data.shortcut) from None
    return _canned_out(await _canned_row(principal, canned_id))


async def update_canned(
    principal: Principal, canned_id: str, data: CannedResponseUpdate
) -> CannedResponseOut:
    await _canned_row(principal, canned_id)
    updates: dict[Any, Any] = {}
    if data.shortcut is not None:
        await _ensure_shortcut_free(principal.organization_id, data.shortcut, canned_id)
        updates[CannedResponse.shortcut] = data.shortcut
    if data.content is not None:
        updates[CannedResponse.content] = data.content
    if updates:
        try:
            await CannedResponse.update(updates).where(CannedResponse.id == canned_id)
        except UNIQUE_VIOLATIONS:
            raise _shortcut_conflict(updates[CannedResponse.shortcut]) from None
    return _canned_out(await _canned_row(principal, canned_id))


async def delete_canned(principal: Principal, canned_id: str) -> None:
    await _canned_row(principal, canned_id)
    await CannedResponse.delete().where(CannedResponse.id == canned_id)


def _fill_variables(text: str, values: dict[str, str]) -> str:
    """Checked on use (canned responses are not checked on save, and the composer gives
    the values): a value for a name that is no variable, and a placeholder without a
    value, are a 400; then wacc.lib.placeholders fills the text."""
    unknown = sorted(k for k in values if k not in VARIABLES)
    if unknown:
        raise ValidationError("Unknown variable", [
            {"field": f"variables.{k}", "message": f"unknown variable {k}"} for k in unknown])
    # An unfilled {{…}} must not reach a customer, whether misspelt or just not given.
    missing = placeholders.unknown(text, lambda name: name in values)
    if missing:
        details = []
        for name in missing:
            reason = "no value given for" if name in VARIABLES else "unknown variable"
            details.append({"field": "text", "message": f"{reason} {{{{{name}}}}}"})
        raise ValidationError(f"Cannot fill variable {{{{{missing[0]}}}}}", details)
    return placeholders.render(text, values)


async def expand(principal: Principal, data: ExpandIn) -> ExpandOut:
    """Replace a leading ``/shortcut`` with its content, then fill ``{{variables}}``."""
    text, used = data.text, None
    match = _LEADING_SHORTCUT.match(text)
    if match is not None:
        shortcut = match.group(1)
        row = await CannedResponse.select(CannedResponse.id, CannedResponse.content).where(
            (CannedResponse.organization == principal.organization_id)
            & (CannedResponse.shortcut == shortcut)
        ).first()
        if row is None:
            raise NotFoundError(f"No canned response with the shortcut /{shortcut}",
                                [{"field": "text", "message": f"unknown shortcut /{shortcut}"}])
        text, used = row["content"] + text[match.end():], row["id"]
    return ExpandOut(text=_fill_variables(text, data.variables), canned_response_id=used)
