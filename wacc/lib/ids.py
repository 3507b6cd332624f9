"""Identifiers and random tokens."""

from __future__ import annotations

import secrets
import uuid


def new_id() -> str:
    """A new primary key: a random UUID as text, the same on SQLite and PostgreSQL."""
    return str(uuid.uuid4())


def is_id(value: str) -> bool:
    """True when *value* looks like an id made by :func:`new_id` (any UUID)."""
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def token(nbytes: int = 32) -> str:
    """A URL-safe random secret of *nbytes* bytes of entropy."""
    return secrets.token_urlsafe(nbytes)
