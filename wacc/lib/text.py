"""Small text helpers."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import Any

import msgspec

_SLUG_STRIP = re.compile(r"[^a-z0-9]+")


def slugify(value: str, max_length: int = 48) -> str:
    """A lowercase ASCII slug; never empty."""
    ascii_value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    slug = _SLUG_STRIP.sub("-", ascii_value.lower()).strip("-")[:max_length].strip("-")
    return slug or "org"


def only_digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


# Characters a database cannot keep as text: PostgreSQL refuses U+0000 in text and jsonb
# ("invalid byte sequence"), and a lone UTF-16 surrogate has no UTF-8 form, so asyncpg
# cannot even send it. SQLite would store both, which is why the same cleaning runs on
# every database: a value reads back the same whichever one holds it.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def _replace(match: re.Match[str]) -> str:
    return "" if match.group() == "\x00" else REPLACEMENT


def clean_text(value: str) -> str:
    """*value* without NUL characters (dropped: they carry nothing a person reads) and
    with each lone surrogate replaced by U+FFFD. Valid text is returned as is."""
    if not _UNSTORABLE.search(value):
        return value
    return _UNSTORABLE.sub(_replace, value)


def has_unstorable(value: str) -> bool:
    return _UNSTORABLE.search(value) is not None


def clean_value(value: Any) -> Any:
    """*value* with :func:`clean_text` applied to every string inside it (dict keys and
    values, lists, tuples, msgspec structs, dataclasses). The same object comes back
    when nothing needed cleaning, so the common case allocates nothing."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        items = [(clean_value(k), clean_value(v)) for k, v in value.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(items, value.items(), strict=True)):
            return value
        return dict(items)
    if isinstance(value, list | tuple):
        cleaned = [clean_value(v) for v in value]
        if all(a is b for a, b in zip(cleaned, value, strict=True)):
            return value
        return cleaned if isinstance(value, list) else type(value)(cleaned)
    if isinstance(value, msgspec.Struct):
        changes = {}
        for name in value.__struct_fields__:
            old = getattr(value, name)
            new = clean_value(old)
            if new is not old:
                changes[name] = new
        return msgspec.structs.replace(value, **changes) if changes else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in dataclasses.fields(value):
            if not f.init:
                continue
            old = getattr(value, f.name)
            new = clean_value(old)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value
