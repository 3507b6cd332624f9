"""``{{ name }}`` placeholders in text, one renderer for every feature that fills them:
AI prompt templates (wacc.ai.prompts), automation step texts (wacc.automations) and
canned responses (wacc.canned).

The rule, the same everywhere (docs/architecture.md, "Placeholders"):

- A placeholder is ``{{`` name ``}}``; spaces around the name do not count and the name
  holds no brace. Nothing is evaluated: a name is only ever looked up, so a template
  cannot run code or reach an attribute (``{{ ''.__class__ }}`` is just a name).
- **Rendering never fails.** A name with a value gets it; a name without one (not
  given, ``None``, or not a name the feature knows at all) becomes empty text.
- **Unknown names are refused by the check, not by the renderer.** Each feature checks
  a template's names against what it can fill, with `unknown`, where it takes the
  template in: on save (AI prompts, automation texts), or on use for text nobody
  checked on save (a canned response when it is expanded, an automation's AI prompt
  when the reply is generated). The check's 400 names every unknown variable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")

# Where a value comes from: a mapping of names, or a function of the name. A missing
# name, or a value of None, renders as "".
Values = Mapping[str, object] | Callable[[str], object]


def names(template: str) -> list[str]:
    """The placeholders' names, each once, in the order they first appear."""
    return list(dict.fromkeys(PLACEHOLDER.findall(template)))


def unknown(template: str, known: Callable[[str], bool]) -> list[str]:
    """The names in *template* that *known* refuses, each once, in order: what a
    feature's check reports (an empty list: the template is fine)."""
    return [name for name in names(template) if not known(name)]


def render(template: str, values: Values) -> str:
    """*template* with every placeholder replaced by its value as text; a name without a
    value is replaced by "" (never left as ``{{…}}``, never an error)."""
    get: Callable[[str], object] = values.get if isinstance(values, Mapping) else values

    def fill(match: re.Match[str]) -> str:
        found = get(match.group(1))
        return "" if found is None else str(found)

    return PLACEHOLDER.sub(fill, template)
