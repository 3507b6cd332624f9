"""Database errors a service turns into an API answer (not outages: see outage.py)."""

from __future__ import annotations

import sqlite3

import asyncpg

# The unique-index violation as each driver raises it (a duplicate name → 409).
UNIQUE_VIOLATIONS: tuple[type[Exception], ...] = (
    sqlite3.IntegrityError, asyncpg.UniqueViolationError,
)
