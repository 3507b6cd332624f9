"""A segment's condition language: checked on save, compiled at query time into one
parameterised SQL predicate over the ``contact`` table that runs on SQLite and
PostgreSQL.

A definition is a group, ``{"all": [...]}`` or ``{"any": [...]}``; a group holds
conditions ``{"field", "op", "value"}`` and further groups. docs/segments.md lists
the fields and operators. User values only ever travel as query parameters; the SQL
text is built from this module's own fragments.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from piccolo.querystring import QueryString

from wacc.conversations.tables import ConversationStatus
from wacc.customfields.tables import FieldType
from wacc.lib.errors import ValidationError

MAX_DEPTH = 5
MAX_CONDITIONS = 50
MAX_LIST = 100
MAX_TEXT = 255
MAX_DAYS = 36_500
MAX_NUMBER = 1e15
GROUPS = ("all", "any")

# Contact columns a condition may name, by their API name.
CONTACT_COLUMNS = {"name": "name", "phone": "phone_number", "email": "email",
                   "language": "language", "timezone": "timezone"}
TIME_COLUMNS = {"createdAt": "created_at", "lastMessageAt": "last_message_at"}

TEXT_OPS = ("eq", "neq", "contains", "notContains", "startsWith", "in", "notIn",
            "exists", "notExists")
ORDER_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "exists", "notExists")
CHOICE_OPS = ("eq", "neq", "in", "notIn", "exists", "notExists")
MULTI_OPS = ("has", "notHas", "hasAny", "exists", "notExists")
TIME_OPS = ("before", "after", "withinDays", "olderThanDays")
HAS_OPS = ("has", "notHas")
CUSTOM_OPS: dict[FieldType, tuple[str, ...]] = {
    FieldType.TEXT: TEXT_OPS, FieldType.EMAIL: TEXT_OPS, FieldType.PHONE: TEXT_OPS,
    FieldType.URL: TEXT_OPS, FieldType.NUMBER: ORDER_OPS, FieldType.DATE: ORDER_OPS,
    FieldType.SELECT: CHOICE_OPS, FieldType.MULTISELECT: MULTI_OPS,
}
# Each of these matches exactly the contacts its positive twin does not, so a
# contact without a value matches "neq" (SQL alone would leave it out as NULL).
NEGATIONS = {"neq": "eq", "notIn": "in", "notContains": "contains", "notHas": "has",
             "notExists": "exists"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_STATUSES = tuple(s.value for s in ConversationStatus)


@dataclass(frozen=True)
class Catalog:
    """What one organization's definitions may refer to."""

    fields: dict[str, dict[str, Any]]  # custom field key -> definition row
    tag_ids: frozenset[str]


class _Bad(ValueError):
    """One problem with one condition; ``part`` is field, op or value."""

    def __init__(self, part: str, message: str) -> None:
        super().__init__(message)
        self.part = part


# -- validation ------------------------------------------------------------------------


def validate(definition: Any, catalog: Catalog) -> dict[str, Any]:
    """The definition, normalised, or a ValidationError with one detail per bad
    condition, each naming its place like ``conditions.all[2].op``."""
    return _Validator(catalog).run(definition)


class _Validator:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.details: list[dict[str, str]] = []
        self.conditions = 0

    def run(self, definition: Any) -> dict[str, Any]:
        out = self.group(definition, "conditions", 1)
        if self.conditions > MAX_CONDITIONS:
            self.details.insert(0, {"field": "conditions",
                                    "message": f"at most {MAX_CONDITIONS} conditions"})
        if self.details:
            raise ValidationError("Invalid segment conditions", self.details[:MAX_CONDITIONS])
        assert out is not None
        return out

    def bad(self, path: str, message: str) -> None:
        self.details.append({"field": path, "message": message})

    def group(self, node: Any, path: str, depth: int) -> dict[str, Any] | None:
        if not isinstance(node, dict) or len(node) != 1 or next(iter(node)) not in GROUPS:
            self.bad(path, 'must be a group: {"all": [...]} or {"any": [...]}')
            return None
        kind, items = next(iter(node.items()))
        if depth > MAX_DEPTH:
            self.bad(path, f"groups nest at most {MAX_DEPTH} deep")
            return None
        if not isinstance(items, list):
            self.bad(f"{path}.{kind}", "must be a list")
            return None
        if not items and depth > 1:
            self.bad(f"{path}.{kind}", "an inner group needs a condition")
            return None
        out: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            if self.conditions > MAX_CONDITIONS:
                break  # already refused; walking a huge body further costs only time
            here = f"{path}.{kind}[{i}]"
            if isinstance(item, dict) and any(k in item for k in GROUPS):
                sub = self.group(item, here, depth + 1)
                if sub is not None:
                    out.append(sub)
                continue
            self.conditions += 1
            try:
                out.append(condition_node(item, lambda f: _field_rules(f, self.catalog)))
            except _Bad as bad:
                self.bad(f"{here}.{bad.part}" if bad.part else here, str(bad))
        return {kind: out}


def _shown(value: Any) -> str:
    """A caller's value, quoted and cut short, for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def condition_node(node: Any,
                   rules: Callable[[str], tuple[tuple[str, ...], Check]]) -> dict[str, Any]:
    """One ``{"field", "op", "value"}`` condition, checked: *rules* gives a field's
    operators and value check (segments and automations each have their fields)."""
    if not isinstance(node, dict):
        raise _Bad("", 'must be a condition {"field", "op", "value"} or a group')
    extra = sorted(set(node) - {"field", "op", "value"})
    if extra:
        raise _Bad("", f"unknown key {_shown(extra[0])}")
    field, op = node.get("field"), node.get("op")
    if not isinstance(field, str) or not field:
        raise _Bad("field", "must be a field name")
    ops, check = rules(field)
    if not isinstance(op, str) or op not in ops:
        raise _Bad("op", f"{_shown(op)} is not an operator for {field}; "
                         f"use one of: {', '.join(ops)}")
    if op in ("exists", "notExists"):
        if node.get("value") is not None:
            raise _Bad("value", f"{op} takes no value")
        return {"field": field, "op": op}
    if "value" not in node:
        raise _Bad("value", "is required")
    return {"field": field, "op": op, "value": check(op, node["value"])}


Check = Callable[[str, Any], Any]


def _field_rules(field: str, catalog: Catalog) -> tuple[tuple[str, ...], Check]:
    if field in CONTACT_COLUMNS:
        return TEXT_OPS, _scalar_or_list(_text)
    if field == "isBlocked":
        return ("eq", "neq"), lambda op, v: _bool(v)
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
            raise _Bad("field", f"no custom field with the key {_shown(field[len('custom.'):])}")
        field_type = FieldType(definition["type"])
        return CUSTOM_OPS[field_type], _custom_check(field_type, definition["options"] or [])
    raise _Bad("field", f"unknown field {_shown(field)}")


def _text(value: Any) -> str:
    # PostgreSQL stores no NUL character, in text or in JSON.
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TEXT or "\x00" in value:
        raise _Bad("value", f"must be text of 1 to {MAX_TEXT} characters")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad("value", "must be true or false")
    return value


def _number(value: Any) -> int | float:
    # bool is an int to Python, never a number to a user.
    # Bounded: SQLite cannot bind an integer beyond 64 bits.
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or abs(value) > MAX_NUMBER):
        raise _Bad("value", f"must be a number from -{MAX_NUMBER:.0e} to {MAX_NUMBER:.0e}")
    return value


def _date(value: Any) -> str:
    try:
        if isinstance(value, str) and _DATE.match(value):
            date.fromisoformat(value)
            return value
    except ValueError:
        pass
    raise _Bad("value", "must be a date as YYYY-MM-DD")


def _list(value: Any, item: Callable[[Any], Any]) -> list[Any]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
        raise _Bad("value", f"must be a list of 1 to {MAX_LIST} values")
    return list(dict.fromkeys(item(v) for v in value))


def _scalar_or_list(item: Callable[[Any], Any]) -> Check:
    def check(op: str, value: Any) -> Any:
        return _list(value, item) if op in ("in", "notIn", "hasAny") else item(value)

    return check


def _custom_check(field_type: FieldType, options: list[str]) -> Check:
    def option(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise _Bad("value", f"must be one of: {', '.join(options)}")
        return value

    if field_type is FieldType.NUMBER:
        return _scalar_or_list(_number)
    if field_type is FieldType.DATE:
        return _scalar_or_list(_date)
    if field_type in (FieldType.SELECT, FieldType.MULTISELECT):
        return _scalar_or_list(option)
    return _scalar_or_list(_text)


def _time(op: str, value: Any) -> Any:
    if op in ("withinDays", "olderThanDays"):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
            raise _Bad("value", f"must be a whole number of days from 1 to {MAX_DAYS}")
        return value
    try:
        if isinstance(value, str) and len(value) <= 64:
            at = datetime.fromisoformat(value)
            # A time without an offset is taken as UTC, like everything stored.
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
            return at.isoformat()
    except (ValueError, OverflowError):  # overflow: year 1 or 9999 moved to UTC
        pass
    raise _Bad("value", "must be an ISO 8601 date or time, e.g. 2024-01-31T09:00:00Z")


def _tag(value: Any, catalog: Catalog) -> str:
    # Another organization's tag reads exactly like a missing one: nothing is disclosed.
    if not isinstance(value, str) or value not in catalog.tag_ids:
        raise _Bad("value", "no such tag")
    return value


def _statuses(value: Any) -> list[str]:
    def status(v: Any) -> str:
        if not isinstance(v, str) or v not in _STATUSES:
            raise _Bad("value", f"must be statuses among: {', '.join(_STATUSES)}")
        return v

    return _list(value if isinstance(value, list) else [value], status)


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
