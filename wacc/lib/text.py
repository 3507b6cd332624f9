"""Small text helpers."""

from __future__ import annotations

import re
import unicodedata

_SLUG_STRIP = re.compile(r"[^a-z0-9]+")


def slugify(value: str, max_length: int = 48) -> str:
    """A lowercase ASCII slug; never empty."""
    ascii_value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    slug = _SLUG_STRIP.sub("-", ascii_value.lower()).strip("-")[:max_length].strip("-")
    return slug or "org"


def only_digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())
