"""Opaque cursors for keyset pagination: (sort value, id) of the last row seen."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from wacc.lib.errors import ValidationError


def encode(sort_value: Any, row_id: str) -> str:
    raw = json.dumps([str(sort_value), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, row_id = json.loads(raw)
        if not isinstance(value, str) or not isinstance(row_id, str):
            raise ValueError
        return value, row_id
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ValidationError.field("cursor", "not a cursor this API returned") from None


def decode_time(cursor: str) -> tuple[datetime, str]:
    """A cursor whose sort value is a timestamp; a forged one is a 400, never a 500."""
    stamp, row_id = decode(cursor)
    try:
        return datetime.fromisoformat(stamp), row_id
    except ValueError:
        raise ValidationError.field("cursor", "not a cursor this API returned") from None
