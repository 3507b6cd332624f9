"""A segment's conditions: checked on save, compiled at query time into one
parameterised SQL predicate over the ``contact`` table that runs on SQLite and
PostgreSQL.

The language (groups of ``{"field", "op", "value"}``, operators, value checks) is the
one automations share, wacc.conditions.language; this module names a segment's fields
and gives a definition its SQL. docs/segments.md lists the fields and operators. User
values only ever travel as query parameters; the SQL text is built from this module's
own fragments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from piccolo.querystring import QueryString

from wacc.conditions.language import (
    CUSTOM_OPS,
    GROUPS,
    HAS_OPS,
    MAX_CONDITIONS,
    NEGATIONS,
    TEXT_OPS,
    Bad,
    Check,
    check_bool,
    check_definition,
    check_list,
    check_text,
    custom_check,
    scalar_or_list,
    shown,
)
from wacc.conversations.tables import ConversationStatus
from wacc.customfields.tables import FieldType
from wacc.lib.errors import ValidationError

MAX_DAYS = 36_500

# Contact columns a condition may name, by their API name.
CONTACT_COLUMNS = {"name": "name", "phone": "phone_number", "email": "email",
                   "language": "language", "timezone": "timezone"}
TIME_COLUMNS = {"createdAt": "created_at", "lastMessageAt": "last_message_at"}

TIME_OPS = ("before", "after", "withinDays", "olderThanDays")
_STATUSES = tuple(s.value for s in ConversationStatus)


@dataclass(frozen=True)
class Catalog:
    """What one organization's definitions may refer to."""

    fields: dict[str, dict[str, Any]]  # custom field key -> definition row
    tag_ids: frozenset[str]


# -- validation ------------------------------------------------------------------------


def validate(definition: Any, catalog: Catalog) -> dict[str, Any]:
    """The definition, normalised, or a ValidationError with one detail per bad
    condition, each naming its place like ``conditions.all[2].op``."""
    details: list[dict[str, str]] = []
    out = check_definition(definition, lambda f: _field_rules(f, catalog), "conditions",
                           details, empty_inner_groups=False)
    if details:
        raise ValidationError("Invalid segment conditions", details[:MAX_CONDITIONS])
    assert out is not None
    return out


def _field_rules(field: str, catalog: Catalog) -> tuple[tuple[str, ...], Check]:
    if field in CONTACT_COLUMNS:
        return TEXT_OPS, scalar_or_list(check_text)
    if field == "isBlocked":
        return ("eq", "neq"), lambda op, v: check_bool(v)
    if field in TIME_COLUMNS:
        extra = ("exists", "notExists") if field == "lastMessageAt" else ()
        return (*TIME_OPS, *extra), _time
    if field == "tag":
        return HAS_OPS, lambda op, v: _tag(v, catalog)
    if field == "conversation.status":
        return HAS_OPS, lambda op, v: _statuses(v)
    if field.startswith("custom."):
        definition = catalog.fields.get(field[len("custom."):])
        if definition is None:
            raise Bad("field", f"no custom field with the key {shown(field[len('custom.'):])}")
        field_type = FieldType(definition["type"])
        return CUSTOM_OPS[field_type], custom_check(field_type, definition["options"] or [])
    raise Bad("field", f"unknown field {shown(field)}")


def _time(op: str, value: Any) -> Any:
    if op in ("withinDays", "olderThanDays"):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
            raise Bad("value", f"must be a whole number of days from 1 to {MAX_DAYS}")
        return value
    try:
        if isinstance(value, str) and len(value) <= 64:
            at = datetime.fromisoformat(value)
            # A time without an offset is taken as UTC, like everything stored.
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
            return at.isoformat()
    except (ValueError, OverflowError):  # overflow: year 1 or 9999 moved to UTC
        pass
    raise Bad("value", "must be an ISO 8601 date or time, e.g. 2024-01-31T09:00:00Z")


def _tag(value: Any, catalog: Catalog) -> str:
    # Another organization's tag reads exactly like a missing one: nothing is disclosed.
    if not isinstance(value, str) or value not in catalog.tag_ids:
        raise Bad("value", "no such tag")
    return value


def _statuses(value: Any) -> list[str]:
    def status(v: Any) -> str:
        if not isinstance(v, str) or v not in _STATUSES:
            raise Bad("value", f"must be statuses among: {', '.join(_STATUSES)}")
        return v

    return check_list(value if isinstance(value, list) else [value], status)


# -- compilation -----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where and when a definition is compiled."""

    sqlite: bool
    now: datetime
    fields: dict[str, dict[str, Any]]
    # Set for an agent limited to their own conversations: conversation conditions
    # then look only at conversations assigned to this user.
    own_conversations_of: str | None = None


def compile_where(definition: dict[str, Any], target: Target) -> QueryString:
    """A predicate over the ``contact`` table for a validated definition (``{}``, the
    column's default, matches everyone like ``{"all": []}``)."""
    return _compile_group(definition, target) if definition else QueryString("1 = 1")


_TRUE = QueryString("1 = 1")
_FALSE = QueryString("1 = 0")


def _join(parts: list[QueryString], glue: str) -> QueryString:
    return QueryString("(" + f" {glue} ".join("{}" for _ in parts) + ")", *parts)


def _compile_group(group: dict[str, Any], target: Target) -> QueryString:
    kind, items = next(iter(group.items()))
    parts = [_compile_group(item, target) if any(k in item for k in GROUPS)
             else _compile_condition(item, target) for item in items]
    if not parts:
        return _TRUE if kind == "all" else _FALSE
    return _join(parts, "AND" if kind == "all" else "OR")


def _compile_condition(cond: dict[str, Any], target: Target) -> QueryString:
    op = cond["op"]
    positive = NEGATIONS.get(op)
    if positive is not None:
        inner = _compile_condition({**cond, "op": positive}, target)
        # COALESCE: "not (unknown)" is unknown in SQL; here it is a match.
        return QueryString("NOT COALESCE({}, FALSE)", inner)
    field: str = cond["field"]
    value: Any = cond.get("value")
    if field in CONTACT_COLUMNS:
        return _text_op(QueryString(f'"contact"."{CONTACT_COLUMNS[field]}"'), op, value)
    if field == "isBlocked":
        return QueryString('"contact"."is_blocked" = {}', value)
    if field in TIME_COLUMNS:
        return _time_op(QueryString(f'"contact"."{TIME_COLUMNS[field]}"'), op, value, target.now)
    if field == "tag":
        return QueryString('EXISTS (SELECT 1 FROM contact_tag ct WHERE ct.contact = '
                           '"contact"."id" AND ct.tag = {})', value)
    if field == "conversation.status":
        return _conversation_status(value, target)
    return _custom_op(field[len("custom."):], op, value, target)


def _in_list(values: list[Any], wrap: str = "{}") -> str:
    return ", ".join(wrap for _ in values)


# The cast tells PostgreSQL which LOWER is meant for a parameter of unknown type.
_LOWER = "LOWER(CAST({} AS TEXT))"


def _text_op(column: QueryString, op: str, value: Any) -> QueryString:
    """Case-insensitive (LOWER on both sides, so each database folds alike)."""
    if op == "exists":
        return QueryString("({} IS NOT NULL AND {} <> '')", column, column)
    if op == "eq":
        return QueryString(f"LOWER({{}}) = {_LOWER}", column, value)
    if op == "in":
        return QueryString(f"LOWER({{}}) IN ({_in_list(value, _LOWER)})", column, *value)
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"{escaped}%" if op == "startsWith" else f"%{escaped}%"
    return QueryString(f"LOWER({{}}) LIKE {_LOWER} ESCAPE '\\'", column, pattern)


def _time_op(column: QueryString, op: str, value: Any, now: datetime) -> QueryString:
    if op == "exists":
        return QueryString("{} IS NOT NULL", column)
    if op in ("withinDays", "olderThanDays"):
        # Relative to the moment of the query: the audience moves with time.
        edge = now - timedelta(days=value)
        return QueryString("{} >= {}" if op == "withinDays" else "{} < {}", column, edge)
    at = datetime.fromisoformat(value)
    return QueryString("{} < {}" if op == "before" else "{} > {}", column, at)


def _conversation_status(statuses: list[str], target: Target) -> QueryString:
    sql = ('EXISTS (SELECT 1 FROM conversation cv WHERE cv.contact = "contact"."id" '
           f"AND cv.status IN ({_in_list(statuses)})")
    args: list[Any] = list(statuses)
    if target.own_conversations_of is not None:
        sql += (' AND EXISTS (SELECT 1 FROM conversation_assignment a '
                'WHERE a.conversation = cv.id AND a."user" = {})')
        args.append(target.own_conversations_of)
    return QueryString(sql + ")", *args)


_ORDER_SQL = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _custom_op(key: str, op: str, value: Any, target: Target) -> QueryString:
    definition = target.fields.get(key)
    if definition is None:
        # The field was deleted after the segment was saved: no contact has it now.
        return _FALSE
    field_type = FieldType(definition["type"])
    json = _SqliteJson(key) if target.sqlite else _PostgresJson(key)
    if op == "exists":
        return json.present()
    if field_type is FieldType.MULTISELECT:
        values = value if op == "hasAny" else [value]
        return _join([json.array_has(v) for v in values], "OR")
    if field_type is FieldType.NUMBER:
        return QueryString(f"{{}} {_ORDER_SQL[op]} {{}}", json.number(), value)
    if field_type in (FieldType.DATE, FieldType.SELECT):
        # Dates are stored as YYYY-MM-DD, so text order is date order; options match exactly.
        if op == "in":
            return QueryString(f"{{}} IN ({_in_list(value)})", json.text(), *value)
        return QueryString(f"{{}} {_ORDER_SQL[op]} {{}}", json.text(), value)
    return _text_op(json.text(), op, value)


class _SqliteJson:
    """One custom field's value through SQLite's JSON1 functions."""

    def __init__(self, key: str) -> None:
        self.path = f"$.{key}"

    def _typed(self, types: str) -> QueryString:
        return QueryString(f"CASE WHEN json_type(\"contact\".custom_fields, {{}}) IN ({types}) "
                           "THEN json_extract(\"contact\".custom_fields, {}) END",
                           self.path, self.path)

    def text(self) -> QueryString:
        return self._typed("'text'")

    def number(self) -> QueryString:
        return self._typed("'integer', 'real'")

    def present(self) -> QueryString:
        return QueryString("COALESCE(json_type(\"contact\".custom_fields, {}), 'null') <> 'null'",
                           self.path)

    def array_has(self, value: str) -> QueryString:
        return QueryString("(json_type(\"contact\".custom_fields, {}) = 'array' AND EXISTS "
                           "(SELECT 1 FROM json_each(\"contact\".custom_fields, {}) e "
                           "WHERE e.value = {}))", self.path, self.path, value)


class _PostgresJson:
    """One custom field's value through PostgreSQL's jsonb operators."""

    def __init__(self, key: str) -> None:
        self.key = key

    def text(self) -> QueryString:
        return QueryString("CASE WHEN jsonb_typeof(\"contact\".custom_fields -> {}) = 'string' "
                           "THEN \"contact\".custom_fields ->> {} END", self.key, self.key)

    def number(self) -> QueryString:
        # The cast only runs on numbers, so a stale non-number value cannot fail it.
        return QueryString("CASE WHEN jsonb_typeof(\"contact\".custom_fields -> {}) = 'number' "
                           "THEN (\"contact\".custom_fields ->> {})::numeric END",
                           self.key, self.key)

    def present(self) -> QueryString:
        return QueryString("COALESCE(jsonb_typeof(\"contact\".custom_fields -> {}), 'null') "
                           "<> 'null'", self.key)

    def array_has(self, value: str) -> QueryString:
        return QueryString("(jsonb_typeof(\"contact\".custom_fields -> {}) = 'array' AND "
                           "\"contact\".custom_fields -> {} ? {})", self.key, self.key, value)
