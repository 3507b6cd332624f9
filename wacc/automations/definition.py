"""An automation's definition (trigger, conditions, steps), checked as a whole on save.

Every problem is reported, each with its place (``trigger.pattern``,
``actions[2].then[0].text``), in one ValidationError; a definition that passes is
stored normalised and the engine trusts it. docs/automations.md lists the trigger and
step types.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from apscheduler.triggers.cron import CronTrigger

from wacc.automations import conditions
from wacc.automations.conditions import Catalog
from wacc.conditions.language import Bad, shown
from wacc.lib import placeholders
from wacc.lib.errors import ValidationError

MAX_STEPS = 50
MAX_NESTING = 3
MAX_TEMPLATE = 4096
MAX_KEYWORDS = 50
MAX_WAIT_SECONDS = 30 * 24 * 3600
MAX_NO_REPLY_MINUTES = 7 * 24 * 60

TRIGGERS = ("message.received", "conversation.created", "conversation.status_changed",
            "conversation.assigned", "contact.created", "tag.added", "no_reply",
            "outside_business_hours", "schedule", "webhook")
# What ``{{trigger.<field>}}`` may name, per trigger (the event's payload, events.py).
TRIGGER_FIELDS: dict[str, tuple[str, ...]] = {
    "message.received": ("messageId", "conversationId", "contactId", "sessionId", "type",
                         "body", "newContact", "newConversation", "at"),
    "conversation.created": ("conversationId", "contactId", "sessionId", "at"),
    "conversation.status_changed": ("conversationId", "from", "to", "by", "at"),
    "conversation.assigned": ("conversationId", "by", "at"),
    "contact.created": ("contactId", "at"),
    "tag.added": ("tagId", "contactId", "conversationId", "at"),
    "no_reply": ("conversationId", "messageId", "minutes", "at"),
    "outside_business_hours": ("messageId", "conversationId", "contactId", "body", "at"),
    "schedule": ("at",),
    "webhook": (),  # any top-level key of the posted JSON
}
# Triggers whose runs have a message, a contact, a conversation.
HAS_MESSAGE = {"message.received", "outside_business_hours", "no_reply"}
NO_CONTACT = {"schedule", "webhook"}
NEEDS_CONVERSATION = {"send_message", "ai_reply", "assign", "set_priority", "set_status",
                      "add_note"}
NEEDS_SUBJECT = NEEDS_CONVERSATION | {"add_tag", "remove_tag", "set_field"}
STATUSES = ("OPEN", "PENDING", "RESOLVED", "CLOSED", "SPAM")
PRIORITIES = ("LOW", "NORMAL", "HIGH", "URGENT")
MATCH_MODES = ("contains", "exact", "startsWith", "word")


class _Checker:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.details: list[dict[str, str]] = []
        self.steps = 0
        self.trigger_type = ""

    def bad(self, path: str, message: str) -> None:
        self.details.append({"field": path, "message": message})

    def guard(self, path: str, check: Any, *args: Any) -> Any:
        try:
            return check(*args)
        except Bad as bad:
            self.bad(f"{path}.{bad.part}" if bad.part else path, str(bad))
            return None


def validate(trigger: Any, conditions_def: Any, actions: Any,
             catalog: Catalog) -> tuple[dict[str, Any], dict[str, Any] | None, list[Any]]:
    """(trigger, conditions, actions) normalised, or one ValidationError naming every
    bad node."""
    c = _Checker(catalog)
    trig = c.guard("trigger", _trigger, trigger, catalog) or {}
    c.trigger_type = trig.get("type", "")
    cond = None
    if conditions_def is not None:
        cond = conditions.validate_into(conditions_def, catalog, "conditions", c.details)
    steps = _steps(c, actions, "actions", 1)
    if c.steps > MAX_STEPS:
        c.bad("actions", f"at most {MAX_STEPS} steps in all")
    if not c.details and trig:
        _cycle(c, trig, steps)
    if c.details:
        raise ValidationError("Invalid automation", c.details[:100])
    return trig, cond, steps


# -- trigger ---------------------------------------------------------------------------


def _keys(node: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(node) - allowed - {"type"})
    if extra:
        raise Bad(extra[0], "unknown key")


def _str_list(value: Any, part: str, limit: int) -> list[str]:
    if (not isinstance(value, list) or not 1 <= len(value) <= limit
            or not all(isinstance(v, str) and 0 < len(v.strip()) <= 100 and "\x00" not in v
                       for v in value)):
        raise Bad(part, f"must be a list of 1 to {limit} texts of up to 100 characters")
    return list(dict.fromkeys(v.strip() for v in value))


def _choices(value: Any, part: str, options: tuple[str, ...]) -> list[str]:
    if (not isinstance(value, list) or not 1 <= len(value) <= len(options)
            or not all(v in options for v in value)):
        raise Bad(part, f"must be a list of: {', '.join(options)}")
    return list(dict.fromkeys(value))


def _trigger(node: Any, catalog: Catalog) -> dict[str, Any]:
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        raise Bad("type", f"a trigger needs a type: one of {', '.join(TRIGGERS)}")
    kind = node["type"]
    if kind not in TRIGGERS:
        raise Bad("type", f"unknown trigger {shown(kind)}; use one of {', '.join(TRIGGERS)}")
    out: dict[str, Any] = {"type": kind}
    if kind == "message.received":
        _keys(node, {"match", "keywords", "mode", "pattern", "caseSensitive"})
        match = node.get("match", "any")
        if match not in ("any", "keywords", "regex", "firstMessageOfNewContact"):
            raise Bad("match", "must be any, keywords, regex or firstMessageOfNewContact")
        out["match"] = match
        if match == "keywords":
            out["keywords"] = _str_list(node.get("keywords"), "keywords", MAX_KEYWORDS)
            mode = node.get("mode", "contains")
            if mode not in MATCH_MODES:
                raise Bad("mode", f"must be one of: {', '.join(MATCH_MODES)}")
            out["mode"] = mode
        if match == "regex":
            out["pattern"] = conditions.check_regex(node.get("pattern"), "pattern")
        if match in ("keywords", "regex"):
            case = node.get("caseSensitive", False)
            if not isinstance(case, bool):
                raise Bad("caseSensitive", "must be true or false")
            out["caseSensitive"] = case
    elif kind == "conversation.status_changed":
        _keys(node, {"from", "to"})
        for end in ("from", "to"):
            if node.get(end) is not None:
                out[end] = _choices(node[end], end, STATUSES)
    elif kind == "conversation.assigned":
        _keys(node, {"userId"})
        if node.get("userId") is not None:
            if node["userId"] not in catalog.user_ids:
                raise Bad("userId", "no user with this id in this organization")
            out["userId"] = node["userId"]
    elif kind == "tag.added":
        _keys(node, {"tagId"})
        if node.get("tagId") not in catalog.tag_ids:
            raise Bad("tagId", "no tag with this id in this organization")
        out["tagId"] = node["tagId"]
    elif kind == "no_reply":
        _keys(node, {"minutes"})
        minutes = node.get("minutes")
        if (isinstance(minutes, bool) or not isinstance(minutes, int)
                or not 1 <= minutes <= MAX_NO_REPLY_MINUTES):
            raise Bad("minutes", f"must be a whole number from 1 to {MAX_NO_REPLY_MINUTES}")
        out["minutes"] = minutes
    elif kind == "outside_business_hours":
        _keys(node, {"hours"})
        if node.get("hours") is not None:
            out["hours"] = conditions.check_hours(node["hours"], "hours")
        elif catalog.hours is None:
            raise Bad("hours", 'required: {"timezone"?, "days": {"mon": [["09:00", "17:00"]]}}')
    elif kind == "schedule":
        _keys(node, {"cron", "timezone"})
        cron = node.get("cron")
        tz = conditions.check_timezone(node.get("timezone") or catalog.timezone, "timezone")
        if not isinstance(cron, str) or not 0 < len(cron) <= 100:
            raise Bad("cron", "must be a cron expression such as '0 9 * * mon-fri'")
        try:
            CronTrigger.from_crontab(cron, timezone=tz)
        except (ValueError, TypeError) as exc:
            raise Bad("cron", f"not a valid cron expression: {exc}") from None
        out.update(cron=cron, **({"timezone": node["timezone"]} if node.get("timezone") else {}))
    else:  # conversation.created, contact.created, webhook
        _keys(node, set())
    return out


# -- steps -----------------------------------------------------------------------------


STEP_KEYS: dict[str, set[str]] = {
    "send_message": {"text"}, "ai_reply": {"systemPrompt", "useKnowledge", "knowledgeOnly"},
    "assign": {"userId", "strategy", "userIds"}, "add_tag": {"tagId", "on"},
    "remove_tag": {"tagId", "on"}, "set_field": {"key", "value"},
    "set_priority": {"priority"}, "set_status": {"status"}, "add_note": {"text"},
    "call_webhook": {"url", "secret"}, "wait": {"seconds", "minutes", "hours", "days"},
    "if": {"conditions", "then", "else"}, "stop": set(),
}


def _steps(c: _Checker, node: Any, path: str, depth: int) -> list[dict[str, Any]]:
    if not isinstance(node, list):
        c.bad(path, "must be a list of steps")
        return []
    out = []
    for i, step in enumerate(node):
        c.steps += 1
        if c.steps > MAX_STEPS:
            break
        here = f"{path}[{i}]"
        if not isinstance(step, dict) or step.get("type") not in STEP_KEYS:
            kind = step.get("type") if isinstance(step, dict) else None
            c.bad(f"{here}.type", f"unknown step type {shown(kind)}; use one of "
                                  f"{', '.join(STEP_KEYS)}")
            continue
        if step["type"] == "if":
            out.append(_branch(c, step, here, depth))
            continue
        checked = c.guard(here, _step, c, step)
        if checked is not None:
            out.append(checked)
    return out


def _branch(c: _Checker, step: dict[str, Any], here: str, depth: int) -> dict[str, Any]:
    if depth >= MAX_NESTING + 1:
        c.bad(here, f"if steps nest at most {MAX_NESTING} deep")
        return {"type": "if", "conditions": {"all": []}, "then": [], "else": []}
    extra = sorted(set(step) - STEP_KEYS["if"] - {"type"})
    if extra:
        c.bad(f"{here}.{extra[0]}", "unknown key")
    cond = conditions.validate_into(step.get("conditions"), c.catalog, f"{here}.conditions",
                                    c.details)
    return {"type": "if", "conditions": cond,
            "then": _steps(c, step.get("then", []), f"{here}.then", depth + 1),
            "else": _steps(c, step.get("else", []), f"{here}.else", depth + 1)}


def _template(c: _Checker, value: Any, part: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEMPLATE \
            or "\x00" in value:
        raise Bad(part, f"must be text of 1 to {MAX_TEMPLATE} characters")
    bad = placeholders.unknown(value, lambda name: _known_variable(c, name))
    if bad:
        raise Bad(part, f"unknown variable {{{{{bad[0]}}}}}")
    return value


def _known_variable(c: _Checker, name: str) -> bool:
    kind = c.trigger_type
    if name == "org.name":
        return True
    if name.startswith("trigger."):
        key = name[len("trigger."):]
        return bool(key) and ((kind == "webhook" and re.fullmatch(r"\w{1,64}", key) is not None)
                              or key in TRIGGER_FIELDS.get(kind, ()))
    if name in ("message.body", "message.type"):
        return kind in HAS_MESSAGE
    if name in ("conversation.id", "conversation.status", "conversation.priority"):
        return kind not in NO_CONTACT and kind != "contact.created"
    if name in ("contact.name", "contact.phone", "contact.email"):
        return kind not in NO_CONTACT
    if name.startswith("contact.custom."):
        return kind not in NO_CONTACT and name[len("contact.custom."):] in c.catalog.fields
    return False


def _step(c: _Checker, step: dict[str, Any]) -> dict[str, Any]:
    kind = step["type"]
    _keys(step, STEP_KEYS[kind])
    if kind in NEEDS_SUBJECT and c.trigger_type == "schedule":
        raise Bad("type", "a scheduled run has no contact or conversation to act on")
    out: dict[str, Any] = {"type": kind}
    if kind in ("send_message", "add_note"):
        out["text"] = _template(c, step.get("text"), "text")
    elif kind == "ai_reply":
        prompt = step.get("systemPrompt", "")
        if not isinstance(prompt, str) or len(prompt) > MAX_TEMPLATE:
            raise Bad("systemPrompt", f"must be text of at most {MAX_TEMPLATE} characters")
        for flag in ("useKnowledge", "knowledgeOnly"):
            if not isinstance(step.get(flag, False), bool):
                raise Bad(flag, "must be true or false")
        out.update(systemPrompt=prompt, useKnowledge=step.get("useKnowledge", False),
                   knowledgeOnly=step.get("knowledgeOnly", False))
    elif kind == "assign":
        if step.get("userId") is not None:
            if step["userId"] not in c.catalog.user_ids:
                raise Bad("userId", "no user with this id in this organization")
            out["userId"] = step["userId"]
        else:
            strategy = step.get("strategy")
            if strategy not in ("round_robin", "least_busy"):
                raise Bad("strategy", "name a userId, or a strategy: round_robin or least_busy")
            out["strategy"] = strategy
            if step.get("userIds") is not None:
                ids = _str_list(step["userIds"], "userIds", 50)
                unknown = [u for u in ids if u not in c.catalog.user_ids]
                if unknown:
                    raise Bad("userIds", f"no user with the id {shown(unknown[0])}")
                out["userIds"] = ids
    elif kind in ("add_tag", "remove_tag"):
        if step.get("tagId") not in c.catalog.tag_ids:
            raise Bad("tagId", "no tag with this id in this organization")
        on = step.get("on", "conversation")
        if on not in ("conversation", "contact"):
            raise Bad("on", "must be conversation or contact")
        out.update(tagId=step["tagId"], on=on)
    elif kind == "set_field":
        key = step.get("key")
        if key not in c.catalog.fields:
            raise Bad("key", f"no custom field with the key {shown(key)}")
        if "value" not in step:
            raise Bad("value", "is required (null clears the field)")
        out.update(key=key, value=step["value"])  # checked against the field by services
    elif kind == "set_priority":
        if step.get("priority") not in PRIORITIES:
            raise Bad("priority", f"must be one of: {', '.join(PRIORITIES)}")
        out["priority"] = step["priority"]
    elif kind == "set_status":
        if step.get("status") not in STATUSES:
            raise Bad("status", f"must be one of: {', '.join(STATUSES)}")
        out["status"] = step["status"]
    elif kind == "call_webhook":
        out["url"] = check_url(step.get("url"))
        secret = step.get("secret")
        if secret is not None and (not isinstance(secret, str) or not 16 <= len(secret) <= 200):
            raise Bad("secret", "must be text of 16 to 200 characters")
        if secret:
            out["secret"] = secret
    elif kind == "wait":
        out["seconds"] = wait_seconds(step)
    return out


def wait_seconds(step: dict[str, Any]) -> int:
    total = 0
    for unit, size in (("seconds", 1), ("minutes", 60), ("hours", 3600), ("days", 86400)):
        value = step.get(unit)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise Bad(unit, "must be a whole, non-negative number")
        total += value * size
    if not 1 <= total <= MAX_WAIT_SECONDS:
        raise Bad("", "wait from 1 second to 30 days (seconds, minutes, hours, days)")
    return total


def check_url(value: Any) -> str:
    """An http(s) URL; whether its address is private is decided when it is called (the
    name may resolve differently then)."""
    if not isinstance(value, str) or len(value) > 2000:
        raise Bad("url", "must be an http or https URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise Bad("url", "must be an http or https URL without credentials")
    return value


# -- cycles ----------------------------------------------------------------------------


def _walk(steps: list[dict[str, Any]], path: str) -> Any:
    for i, step in enumerate(steps):
        here = f"{path}[{i}]"
        yield here, step
        if step["type"] == "if":
            yield from _walk(step["then"], f"{here}.then")
            yield from _walk(step["else"], f"{here}.else")


def _cycle(c: _Checker, trigger: dict[str, Any], steps: list[dict[str, Any]]) -> None:
    """Refuse a step that would start this automation again: the event it causes is the
    one the automation waits for (tagging with its own trigger tag, setting the status it
    reacts to, assigning when it reacts to assignments). Chains through other automations
    are stopped at run time (the depth limit)."""
    kind = trigger["type"]
    for path, step in _walk(steps, "actions"):
        if ((kind == "tag.added" and step["type"] == "add_tag"
             and step["tagId"] == trigger["tagId"])
                or (kind == "conversation.status_changed" and step["type"] == "set_status"
                    and step["status"] in trigger.get("to", STATUSES))
                or (kind == "conversation.assigned" and step["type"] == "assign")):
            c.bad(path, f"would trigger this automation again ({kind}): a cycle")
