"""An automation's conditions: checked on save, evaluated in Python against one run's
context (the message, contact and conversation the event is about).

The language is the one segments share, wacc.conditions.language (docs/segments.md):
groups ``{"all": [...]}`` / ``{"any": [...]}`` of ``{"field", "op", "value"}``, with its
operators and value checks. Segments compile it to SQL over many contacts; an
automation looks at one event, so here the same definitions are evaluated on loaded
rows.
Text comparisons ignore case. Regular expressions are bounded (pattern length, no
nested quantifiers, input cut to MAX_INPUT) because Python's ``re`` has no timeout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wacc.conditions.language import (
    CHOICE_OPS,
    CUSTOM_OPS,
    GROUPS,
    HAS_OPS,
    MAX_CONDITIONS,
    NEGATIONS,
    ORDER_OPS,
    TEXT_OPS,
    Bad,
    check_bool,
    check_definition,
    check_text,
    custom_check,
    scalar_or_list,
    shown,
)
from wacc.conversations.tables import ConversationStatus, Priority
from wacc.customfields.tables import FieldType
from wacc.lib.errors import ValidationError
from wacc.messages.tables import MessageType

MAX_PATTERN = 200
MAX_INPUT = 4096
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
_STATUSES = tuple(s.value for s in ConversationStatus)
_PRIORITIES = tuple(p.value for p in Priority)
_TYPES = tuple(t.value for t in MessageType)


@dataclass(frozen=True)
class Catalog:
    """What one organization's automations may refer to."""

    fields: dict[str, dict[str, Any]]
    tag_ids: frozenset[str]
    user_ids: frozenset[str] = frozenset()
    timezone: str = "UTC"
    hours: dict[str, Any] | None = None  # the organization's businessHours setting
    org_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def check_regex(value: Any, part: str = "value") -> str:
    """A pattern this module will run: compiles, short, without nested repeats."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_PATTERN or "\x00" in value:
        raise Bad(part, f"must be a regular expression of 1 to {MAX_PATTERN} characters")
    if _nested_repeat(value):
        raise Bad(part, "nested repetition such as (a+)+ is not allowed (it can take "
                         "exponential time)")
    try:
        re.compile(value)
    except re.error as exc:
        raise Bad(part, f"not a valid regular expression: {exc}") from None
    return value


def _nested_repeat(pattern: str) -> bool:
    """Whether a repeated group holds a repeat or an alternation, like (a+)+, ((a)+)* or
    (a|aa)*: the shapes that make a backtracking engine take exponential time."""
    stack = [False]  # per open group: holds a repeat or an alternation
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":  # a character class: nothing inside it groups or repeats
            i += 1
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif ch == "(":
            stack.append(False)
        elif ch == ")" and len(stack) > 1:
            inner = stack.pop()
            repeated = i + 1 < n and pattern[i + 1] in "+*{"
            if inner and repeated:
                return True
            stack[-1] = stack[-1] or inner or repeated
        elif ch in "+*{|":
            stack[-1] = True
        i += 1
    return False


def regex_search(pattern: str, text: str | None, case_sensitive: bool = False) -> bool:
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.search(pattern, (text or "")[:MAX_INPUT], flags) is not None


def check_hours(value: Any, part: str) -> dict[str, Any]:
    """Business hours: ``{"timezone"?, "days": {"mon": [["09:00", "17:00"]], ...}}``."""
    if not isinstance(value, dict) or not isinstance(value.get("days"), dict):
        raise Bad(part, 'must be {"timezone": ..., "days": {"mon": [["09:00", "17:00"]]}}')
    extra = sorted(set(value) - {"timezone", "days"})
    if extra:
        raise Bad(part, f"unknown key {shown(extra[0])}")
    tz = value.get("timezone")
    if tz is not None:
        check_timezone(tz, f"{part}.timezone")
    days: dict[str, list[list[str]]] = {}
    for day, spans in value["days"].items():
        if day not in DAYS:
            raise Bad(f"{part}.days", f"unknown day {shown(day)}; use {', '.join(DAYS)}")
        if not isinstance(spans, list) or len(spans) > 10:
            raise Bad(f"{part}.days.{day}", "must be a list of at most 10 [start, end] pairs")
        for span in spans:
            if (not isinstance(span, list) or len(span) != 2
                    or not all(isinstance(t, str) and _HHMM.match(t) for t in span)
                    or span[0] >= span[1]):
                raise Bad(f"{part}.days.{day}", 'each span is ["HH:MM", "HH:MM"], start first')
        days[day] = [list(s) for s in spans]
    return {**({"timezone": tz} if tz else {}), "days": days}


def check_timezone(value: Any, part: str) -> str:
    try:
        if isinstance(value, str) and 0 < len(value) <= 64:
            ZoneInfo(value)
            return value
    except (ZoneInfoNotFoundError, ValueError):
        pass
    raise Bad(part, "not a known time zone name (such as Europe/Paris)")


def within_hours(hours: dict[str, Any], at: datetime, default_tz: str) -> bool:
    local = at.astimezone(ZoneInfo(hours.get("timezone") or default_tz))
    now = local.strftime("%H:%M")
    return any(start <= now < end for start, end in hours["days"].get(DAYS[local.weekday()], []))


# -- validation ------------------------------------------------------------------------


def validate(definition: Any, catalog: Catalog, path: str = "conditions") -> dict[str, Any]:
    """The conditions, normalised, or a ValidationError with one detail per bad node."""
    details: list[dict[str, str]] = []
    out = validate_into(definition, catalog, path, details)
    if details:
        raise ValidationError("Invalid automation conditions", details[:MAX_CONDITIONS])
    return out


def validate_into(definition: Any, catalog: Catalog, path: str,
                  details: list[dict[str, str]]) -> dict[str, Any]:
    """As :func:`validate`, adding problems to *details* (for a whole automation)."""
    out = check_definition(definition, lambda n: _rules(n, catalog), path, details,
                           empty_inner_groups=True)
    return out or {"all": []}


def _choice(options: tuple[str, ...]) -> Any:
    def one(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise Bad("value", f"must be one of: {', '.join(options)}")
        return value

    return scalar_or_list(one)


def _member(ids: frozenset[str], what: str) -> Any:
    def one(op: str, value: Any) -> str:
        if not isinstance(value, str) or value not in ids:
            raise Bad("value", f"no {what} with the id {shown(value)} in this organization")
        return value

    return one


def _text_or_regex(op: str, value: Any) -> Any:
    return check_regex(value) if op == "regex" else scalar_or_list(check_text)(op, value)


def _hour(op: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 23:
        raise Bad("value", "must be an hour from 0 to 23")
    return value


_EQ_BOOL = (("eq", "neq"), lambda op, v: check_bool(v))


def _rules(name: str, catalog: Catalog) -> tuple[tuple[str, ...], Any]:
    simple: dict[str, tuple[tuple[str, ...], Any]] = {
        "message.body": ((*TEXT_OPS, "regex"), _text_or_regex),
        "message.type": (CHOICE_OPS, _choice(_TYPES)),
        "message.fromMe": _EQ_BOOL,
        "contact.isNew": _EQ_BOOL,
        "contact.tag": (HAS_OPS, _member(catalog.tag_ids, "tag")),
        "conversation.status": (CHOICE_OPS, _choice(_STATUSES)),
        "conversation.priority": (CHOICE_OPS, _choice(_PRIORITIES)),
        "conversation.assigned": _EQ_BOOL,
        "conversation.assignee": (HAS_OPS, _member(catalog.user_ids, "user")),
        "conversation.tag": (HAS_OPS, _member(catalog.tag_ids, "tag")),
        "conversation.session": (CHOICE_OPS, scalar_or_list(check_text)),
        "time.weekday": (("in", "notIn"), _choice(DAYS)),
        "time.hour": (ORDER_OPS[:-2], _hour),
        "time.hours": (("within", "outside"), lambda op, v: check_hours(v, "value")),
    }
    if name in simple:
        return simple[name]
    if name in ("contact.name", "contact.phone", "contact.email", "contact.language"):
        return TEXT_OPS, scalar_or_list(check_text)
    if name.startswith("contact.custom."):
        key = name[len("contact.custom."):]
        definition = catalog.fields.get(key)
        if definition is None:
            raise Bad("field", f"no custom field with the key {shown(key)}")
        field_type = FieldType(definition["type"])
        return CUSTOM_OPS[field_type], custom_check(field_type, definition["options"] or [])
    raise Bad("field", f"unknown field {shown(name)}")


# -- evaluation ------------------------------------------------------------------------


def matches(definition: dict[str, Any] | None, context: dict[str, Any]) -> bool:
    """Whether a stored (validated) definition holds for *context* (see engine.context)."""
    if not definition:
        return True
    kind, items = next(iter(definition.items()))
    results = (matches(item, context) if any(k in item for k in GROUPS)
               else _holds(item, context) for item in items)
    return all(results) if kind == "all" else any(results)


def _value(name: str, ctx: dict[str, Any]) -> Any:
    message, contact = ctx.get("message") or {}, ctx.get("contact") or {}
    conversation = ctx.get("conversation") or {}
    now: datetime = ctx["now"]
    local = now.astimezone(ZoneInfo(ctx.get("timezone") or "UTC"))
    if name.startswith("contact.custom."):
        return (contact.get("custom") or {}).get(name[len("contact.custom."):])
    values = {
        "message.body": message.get("body"), "message.type": message.get("type"),
        "message.fromMe": message.get("fromMe"), "contact.isNew": contact.get("isNew"),
        "contact.tag": contact.get("tags"), "contact.name": contact.get("name"),
        "contact.phone": contact.get("phone"), "contact.email": contact.get("email"),
        "contact.language": contact.get("language"),
        "conversation.status": conversation.get("status"),
        "conversation.priority": conversation.get("priority"),
        "conversation.assigned": bool(conversation.get("assignees")) if conversation else None,
        "conversation.assignee": conversation.get("assignees"),
        "conversation.tag": conversation.get("tags"),
        "conversation.session": conversation.get("sessionId"),
        "time.weekday": DAYS[local.weekday()], "time.hour": local.hour,
    }
    return values.get(name)


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _holds(cond: dict[str, Any], ctx: dict[str, Any]) -> bool:
    op: str = cond["op"]
    want: Any = cond.get("value")
    got = _value(cond["field"], ctx)
    if op in ("exists", "notExists"):
        present = got not in (None, "", [])
        return present if op == "exists" else not present
    positive = NEGATIONS.get(op)  # notExists was answered above
    if positive is not None:
        return not _holds({**cond, "op": positive}, ctx)
    if op in ("within", "outside"):
        inside = within_hours(want, ctx["now"], ctx.get("timezone") or "UTC")
        return inside if op == "within" else not inside
    if got is None:
        return False
    if op == "regex":
        return regex_search(want, str(got))
    if isinstance(got, list | set | frozenset):
        items = {_fold(v) for v in got}
        wanted = want if isinstance(want, list) else [want]
        return any(_fold(w) in items for w in wanted)
    if op == "eq":
        return bool(_fold(got) == _fold(want))
    if op == "in":
        return _fold(got) in {_fold(w) for w in want}
    if op == "contains":
        return _fold(want) in _fold(str(got))
    if op == "startsWith":
        return bool(_fold(str(got)).startswith(_fold(want)))
    try:
        return bool({"gt": got > want, "gte": got >= want, "lt": got < want,
                     "lte": got <= want}[op])
    except TypeError:  # a stored value of another type than the field's now
        return False

