"""System prompt templates: ``{{org.name}}``, ``{{contact.name}}``, ``{{contact.phone}}``,
``{{contact.custom.<key>}}`` and ``{{now}}``, nothing else.

A template is plain substitution of named values, not a language: wacc.lib.placeholders
finds ``{{ … }}`` and each name is looked up in a dict of strings. Nothing is
evaluated, so a template written by an admin (or pasted from anywhere) cannot run code
or reach an attribute. jinja2's SandboxedEnvironment with StrictUndefined was the
alternative; it would also accept loops, filters and attribute access that no prompt
needs, each a surface the sandbox then has to hold, and its errors name a Python
attribute rather than the variable the admin wrote.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from wacc.customfields.tables import CustomField
from wacc.lib import placeholders
from wacc.lib.errors import ValidationError

FIXED = ("org.name", "contact.name", "contact.phone", "now")
CUSTOM = re.compile(r"^contact\.custom\.([a-z0-9_]{1,64})$")


def variables(template: str) -> list[str]:
    return placeholders.names(template)


def unknown(template: str, custom_keys: Iterable[str]) -> list[str]:
    """The template's variables that are not known: fixed names, or a custom field
    of the organization by its key."""
    keys = set(custom_keys)

    def known(name: str) -> bool:
        match = CUSTOM.match(name)
        return name in FIXED or (match is not None and match.group(1) in keys)

    return placeholders.unknown(template, known)


async def validate(organization_id: str, template: str, field: str) -> None:
    """A 400 naming each unknown variable, so the admin sees it when saving."""
    if not placeholders.names(template):
        return
    rows = await CustomField.select(CustomField.key).where(
        CustomField.organization == organization_id)
    bad = unknown(template, (r["key"] for r in rows))
    if bad:
        allowed = ", ".join("{{" + v + "}}" for v in (*FIXED, "contact.custom.<key>"))
        raise ValidationError(
            f"Unknown template variable {{{{{bad[0]}}}}} (known: {allowed})",
            [{"field": field, "message": f"unknown variable {{{{{name}}}}}"} for name in bad])


def values(org: Mapping[str, Any], contact: Mapping[str, Any] | None, now: datetime) -> dict[str, str]:
    contact = contact or {}
    out = {"org.name": str(org.get("name") or ""), "contact.name": str(contact.get("name") or ""),
           "contact.phone": str(contact.get("phone_number") or ""),
           "now": now.strftime("%Y-%m-%d %H:%M %Z").strip()}
    custom = contact.get("custom_fields") or {}
    if isinstance(custom, str):  # JSON text on SQLite
        custom = json.loads(custom) or {}
    for key, value in custom.items():
        out[f"contact.custom.{key}"] = "" if value is None else str(value)
    return out


def render(template: str, values: Mapping[str, str]) -> str:
    """Substitute each variable (wacc.lib.placeholders); a custom field the contact has
    no value for, or one deleted since the template was saved, is empty.

    Checked here first, on use: an automation's AI reply prompt is not checked when the
    automation is saved, so a name that is no prompt variable at all (``{{contact.age}}``)
    is a ValidationError naming it rather than text sent to a model."""
    bad = [name for name in placeholders.names(template)
           if name not in values and not CUSTOM.match(name)]
    if bad:
        raise ValidationError(f"Unknown template variable {{{{{bad[0]}}}}}",
                              [{"field": "systemPrompt", "message": f"unknown variable {{{{{bad[0]}}}}}"}])
    return placeholders.render(template, values)


def used_values(template: str, values: Mapping[str, str]) -> dict[str, str]:
    """The contact-specific values a rendering depends on (``now`` aside): what an
    answer cache must tell apart."""
    return {name: values.get(name, "") for name in variables(template) if name != "now"}
