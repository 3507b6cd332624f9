"""Custom field definitions, scoped to the caller's organization, and the check of a
contact's ``customFields`` values against them (used by the contacts feature)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import phonenumbers

from wacc.customfields.schemas import CustomFieldCreate, CustomFieldOut, CustomFieldUpdate
from wacc.customfields.tables import CustomField, FieldType
from wacc.db.errors import UNIQUE_VIOLATIONS
from wacc.http.schemas import EMAIL_PATTERN
from wacc.lib.errors import ConflictError, NotFoundError, ValidationError
from wacc.lib.ids import new_id
from wacc.security.principal import Principal

CHOICE_TYPES = (FieldType.SELECT, FieldType.MULTISELECT)
TEXT_MAX = 1000
URL_MAX = 2048
_EMAIL = re.compile(EMAIL_PATTERN)
# date.fromisoformat also takes "20240131" and week dates; only yyyy-mm-dd is meant.
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _out(row: dict[str, Any]) -> CustomFieldOut:
    return CustomFieldOut(
        id=row["id"], name=row["name"], key=row["key"], type=FieldType(row["type"]),
        options=row["options"], required=row["required"], created_at=row["created_at"],
    )


def _check_options(field_type: FieldType, options: list[str] | None) -> list[str] | None:
    if field_type in CHOICE_TYPES:
        if not options:
            raise ValidationError.field("options", f"required for {field_type.value} fields")
        seen: set[str] = set()
        for i, option in enumerate(options):
            if option in seen:
                raise ValidationError.field(f"options[{i}]", f"duplicate option {option!r}")
            seen.add(option)
        return list(options)
    if options is not None:
        raise ValidationError.field("options", f"not allowed for {field_type.value} fields")
    return None


async def _row(principal: Principal, field_id: str) -> dict[str, Any]:
    row = await CustomField.select().where(
        (CustomField.id == field_id) & (CustomField.organization == principal.organization_id)
    ).output(load_json=True).first()
    if row is None:
        raise NotFoundError("Custom field not found")
    return row


def _key_conflict(key: str) -> ConflictError:
    return ConflictError(f"A custom field with the key {key!r} already exists",
                         [{"field": "key", "message": "already exists"}])


async def _ensure_key_free(organization_id: str, key: str) -> None:
    if await CustomField.exists().where(
        (CustomField.organization == organization_id) & (CustomField.key == key)
    ):
        raise _key_conflict(key)


async def list_fields(principal: Principal) -> list[CustomFieldOut]:
    rows = await CustomField.select().where(
        CustomField.organization == principal.organization_id).output(load_json=True)
    # Sorted here, not by ORDER BY, so "_" sorts the same on every database's collation.
    return [_out(r) for r in sorted(rows, key=lambda r: r["key"])]


async def create(principal: Principal, data: CustomFieldCreate) -> CustomFieldOut:
    options = _check_options(data.type, data.options)
    await _ensure_key_free(principal.organization_id, data.key)
    field_id = new_id()
    try:
        await CustomField.insert(CustomField(
            id=field_id, organization=principal.organization_id, name=data.name.strip(),
            key=data.key, type=data.type.value, options=options, required=data.required,
        ))
    except UNIQUE_VIOLATIONS:
        raise _key_conflict(data.key) from None
    return _out(await _row(principal, field_id))


async def update(principal: Principal, field_id: str, data: CustomFieldUpdate) -> CustomFieldOut:
    """Existing contact values are not rewritten: a removed option or a newly required
    field is enforced the next time a contact's values are saved."""
    row = await _row(principal, field_id)
    updates: dict[Any, Any] = {}
    if data.name is not None:
        updates[CustomField.name] = data.name.strip()
    if data.options is not None:
        updates[CustomField.options] = _check_options(FieldType(row["type"]), data.options)
    if data.required is not None:
        updates[CustomField.required] = data.required
    if updates:
        await CustomField.update(updates).where(CustomField.id == field_id)
    return _out(await _row(principal, field_id))


async def delete(principal: Principal, field_id: str) -> None:
    """Contacts keep any stored value under the key; it is dropped (as unknown) the next
    time their values are saved, so deleting a definition costs no table scan."""
    await _row(principal, field_id)
    await CustomField.delete().where(CustomField.id == field_id)


# -- contact values -------------------------------------------------------------------


def _text(value: Any, definition: dict[str, Any]) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > TEXT_MAX:
        raise ValueError(f"must be at most {TEXT_MAX} characters")
    return value


def _number(value: Any, definition: dict[str, Any]) -> int | float:
    # bool is an int to Python, never a number to a user.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


def _email(value: Any, definition: dict[str, Any]) -> str:
    if not isinstance(value, str) or len(value.strip()) > 254 or not _EMAIL.match(value.strip()):
        raise ValueError("must be an e-mail address")
    return value.strip()


def _phone(value: Any, definition: dict[str, Any]) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a phone number in international format")
    text = value.strip()
    # No region is known for a custom field, so a number must be international.
    if text and not text.startswith("+"):
        text = "+" + text
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise ValueError("must be a phone number in international format") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError("must be a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _date(value: Any, definition: dict[str, Any]) -> str:
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a real date as YYYY-MM-DD") from None
    return value


def _select(value: Any, definition: dict[str, Any]) -> str:
    options = definition["options"] or []
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"must be one of: {', '.join(options)}")
    return value


def _multiselect(value: Any, definition: dict[str, Any]) -> list[str]:
    options = definition["options"] or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of options")
    bad = [v for v in value if v not in options]
    if bad:
        raise ValueError(f"not an option: {', '.join(bad)} (options: {', '.join(options)})")
    return list(dict.fromkeys(value))  # duplicates dropped, order kept


def _url(value: Any, definition: dict[str, Any]) -> str:
    if not isinstance(value, str) or len(value.strip()) > URL_MAX:
        raise ValueError("must be an http(s) URL")
    text = value.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        raise ValueError("must be an http(s) URL") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValueError("must be an http(s) URL with a host")
    return text


_CHECKS: dict[FieldType, Callable[[Any, dict[str, Any]], Any]] = {
    FieldType.TEXT: _text,
    FieldType.NUMBER: _number,
    FieldType.EMAIL: _email,
    FieldType.PHONE: _phone,
    FieldType.DATE: _date,
    FieldType.SELECT: _select,
    FieldType.MULTISELECT: _multiselect,
    FieldType.URL: _url,
}


def _is_empty(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


async def validate_values(
    organization_id: str, values: dict[str, Any], *, partial: bool
) -> dict[str, Any]:
    """Check a contact's custom-field *values* against the organization's definitions
    and return them normalised (phones as E.164, e-mails and URLs trimmed, duplicate
    MULTISELECT choices dropped).

    ``None`` clears a value that is not required. With ``partial`` (a PATCH) only the
    given keys are checked; otherwise every required field must have a value. Raises one
    ValidationError with one detail per bad field, ``customFields.<key>``.
    """
    rows = await CustomField.select().where(
        CustomField.organization == organization_id).output(load_json=True)
    definitions = {r["key"]: r for r in rows}
    details: list[dict[str, str]] = []
    result: dict[str, Any] = {}
    for key, value in values.items():
        field = f"customFields.{key}"
        definition = definitions.get(key)
        if definition is None:
            details.append({"field": field, "message": f"unknown custom field {key!r}"})
            continue
        if _is_empty(value):
            if definition["required"]:
                details.append({"field": field, "message": "is required"})
            else:
                result[key] = None
            continue
        try:
            result[key] = _CHECKS[FieldType(definition["type"])](value, definition)
        except ValueError as exc:
            details.append({"field": field, "message": str(exc)})
    if not partial:
        for key, definition in definitions.items():
            if definition["required"] and key not in values:
                details.append({"field": f"customFields.{key}", "message": "is required"})
    if details:
        raise ValidationError("Invalid custom field values", details)
    return result
