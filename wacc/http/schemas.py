"""Base classes for request and response bodies (msgspec structs, camelCase on the wire)."""

from __future__ import annotations

from typing import Annotated

import msgspec


class Input(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """A request body: unknown fields are an error, not silently dropped."""


class Output(msgspec.Struct, rename="camel", kw_only=True):
    """A response body."""


EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
Email = Annotated[str, msgspec.Meta(pattern=EMAIL_PATTERN, max_length=254)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]

