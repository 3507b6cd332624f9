"""The condition language segments and automations share: what a definition looks like
and how each part of it is checked on save.

A definition is a group, ``{"all": [...]}`` or ``{"any": [...]}``; a group holds
conditions ``{"field", "op", "value"}`` and further groups (docs/segments.md,
docs/automations.md). Each feature names its own fields, with their operators and value
checks (`Rules`), and gives a stored definition its meaning: segments compile it to SQL
over many contacts (wacc.segments.conditions), automations evaluate it on one run's
rows (wacc.automations.conditions).

Pure: it imports no feature. Custom fields are named by their type's name
(``"NUMBER"``, ``"MULTISELECT"``, … the values of wacc.customfields.tables.FieldType;
a test keeps the two in step).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date
from typing import Any

MAX_DEPTH = 5
MAX_CONDITIONS = 50
MAX_LIST = 100
MAX_TEXT = 255
MAX_NUMBER = 1e15
GROUPS = ("all", "any")

TEXT_OPS = ("eq", "neq", "contains", "notContains", "startsWith", "in", "notIn",
            "exists", "notExists")
ORDER_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "exists", "notExists")
CHOICE_OPS = ("eq", "neq", "in", "notIn", "exists", "notExists")
MULTI_OPS = ("has", "notHas", "hasAny", "exists", "notExists")
HAS_OPS = ("has", "notHas")
# A custom field's operators, by its type's name.
CUSTOM_OPS: dict[str, tuple[str, ...]] = {
    "TEXT": TEXT_OPS, "EMAIL": TEXT_OPS, "PHONE": TEXT_OPS, "URL": TEXT_OPS,
    "NUMBER": ORDER_OPS, "DATE": ORDER_OPS, "SELECT": CHOICE_OPS, "MULTISELECT": MULTI_OPS,
}
# Each of these matches exactly what its positive twin does not, so a value that is
# missing matches "neq".
NEGATIONS = {"neq": "eq", "notIn": "in", "notContains": "contains", "notHas": "has",
             "notExists": "exists"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# A value check: (operator, value as sent) -> the value to store, or Bad.
Check = Callable[[str, Any], Any]
# A feature's fields: field name -> (its operators, its value check), or Bad.
Rules = Callable[[str], tuple[tuple[str, ...], Check]]


class Bad(ValueError):
    """One problem with one condition (or one part of an automation); ``part`` is the
    key it is about (field, op, value, …), "" for the whole node."""

    def __init__(self, part: str, message: str) -> None:
        super().__init__(message)
        self.part = part


def shown(value: Any) -> str:
    """A caller's value, quoted and cut short, for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# -- a definition ----------------------------------------------------------------------


def check_definition(definition: Any, rules: Rules, path: str, details: list[dict[str, str]],
                     *, empty_inner_groups: bool) -> dict[str, Any] | None:
    """The definition, normalised (None when its top is no group), adding one detail per
    bad node to *details*, each naming its place like ``conditions.all[2].op``. An inner
    group without conditions is a problem unless *empty_inner_groups*."""
    count = [0]
    out = _group(definition, rules, path, 1, details, count, empty_inner_groups)
    if count[0] > MAX_CONDITIONS:
        details.insert(0, {"field": path, "message": f"at most {MAX_CONDITIONS} conditions"})
    return out


def _group(node: Any, rules: Rules, path: str, depth: int, details: list[dict[str, str]],
           count: list[int], empty_inner_groups: bool) -> dict[str, Any] | None:
    if not isinstance(node, dict) or len(node) != 1 or next(iter(node)) not in GROUPS:
        details.append({"field": path,
                        "message": 'must be a group: {"all": [...]} or {"any": [...]}'})
        return None
    kind, items = next(iter(node.items()))
    if depth > MAX_DEPTH:
        details.append({"field": path, "message": f"groups nest at most {MAX_DEPTH} deep"})
        return None
    if not isinstance(items, list):
        details.append({"field": f"{path}.{kind}", "message": "must be a list"})
        return None
    if not items and depth > 1 and not empty_inner_groups:
        details.append({"field": f"{path}.{kind}", "message": "an inner group needs a condition"})
        return None
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if count[0] > MAX_CONDITIONS:
            break  # already refused; walking a huge body further costs only time
        here = f"{path}.{kind}[{i}]"
        if isinstance(item, dict) and any(k in item for k in GROUPS):
            sub = _group(item, rules, here, depth + 1, details, count, empty_inner_groups)
            if sub is not None:
                out.append(sub)
            continue
        count[0] += 1
        try:
            out.append(condition_node(item, rules))
        except Bad as bad:
            details.append({"field": f"{here}.{bad.part}" if bad.part else here,
                            "message": str(bad)})
    return {kind: out}


def condition_node(node: Any, rules: Rules) -> dict[str, Any]:
    """One ``{"field", "op", "value"}`` condition, checked: *rules* gives a field's
    operators and value check (segments and automations each have their fields)."""
    if not isinstance(node, dict):
        raise Bad("", 'must be a condition {"field", "op", "value"} or a group')
    extra = sorted(set(node) - {"field", "op", "value"})
    if extra:
        raise Bad("", f"unknown key {shown(extra[0])}")
    field, op = node.get("field"), node.get("op")
    if not isinstance(field, str) or not field:
        raise Bad("field", "must be a field name")
    ops, check = rules(field)
    if not isinstance(op, str) or op not in ops:
        raise Bad("op", f"{shown(op)} is not an operator for {field}; "
                        f"use one of: {', '.join(ops)}")
    if op in ("exists", "notExists"):
        if node.get("value") is not None:
            raise Bad("value", f"{op} takes no value")
        return {"field": field, "op": op}
    if "value" not in node:
        raise Bad("value", "is required")
    return {"field": field, "op": op, "value": check(op, node["value"])}


# -- values ----------------------------------------------------------------------------


def check_text(value: Any) -> str:
    # PostgreSQL stores no NUL character, in text or in JSON.
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TEXT or "\x00" in value:
        raise Bad("value", f"must be text of 1 to {MAX_TEXT} characters")
    return value


def check_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Bad("value", "must be true or false")
    return value


def check_number(value: Any) -> int | float:
    # bool is an int to Python, never a number to a user.
    # Bounded: SQLite cannot bind an integer beyond 64 bits.
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or abs(value) > MAX_NUMBER):
        raise Bad("value", f"must be a number from -{MAX_NUMBER:.0e} to {MAX_NUMBER:.0e}")
    return value


def check_date(value: Any) -> str:
    try:
        if isinstance(value, str) and _DATE.match(value):
            date.fromisoformat(value)
            return value
    except ValueError:
        pass
    raise Bad("value", "must be a date as YYYY-MM-DD")


def check_list(value: Any, item: Callable[[Any], Any]) -> list[Any]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
        raise Bad("value", f"must be a list of 1 to {MAX_LIST} values")
    return list(dict.fromkeys(item(v) for v in value))


def scalar_or_list(item: Callable[[Any], Any]) -> Check:
    """A value check: a list of *item* for the list operators, one *item* otherwise."""

    def check(op: str, value: Any) -> Any:
        return check_list(value, item) if op in ("in", "notIn", "hasAny") else item(value)

    return check


def custom_check(field_type: str, options: list[str]) -> Check:
    """The value check of a custom field of *field_type* (a FieldType name)."""

    def option(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise Bad("value", f"must be one of: {', '.join(options)}")
        return value

    if field_type == "NUMBER":
        return scalar_or_list(check_number)
    if field_type == "DATE":
        return scalar_or_list(check_date)
    if field_type in ("SELECT", "MULTISELECT"):
        return scalar_or_list(option)
    return scalar_or_list(check_text)
