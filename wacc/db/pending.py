"""Whether the database has every shipped migration, asked straight of the database: a
start with nothing to migrate skips the migration process (Piccolo's migration machinery
costs a process about 2.5 s and 30 MB to load). Imports nothing heavy."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from pathlib import Path

import asyncpg

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_ID = re.compile(r'^ID = "([^"]+)"', re.MULTILINE)


def committed_ids() -> set[str]:
    """The ids of the migrations shipped with wacc, read from the files' text."""
    found = set()
    for path in _MIGRATIONS.glob("wacc_*.py"):
        match = _ID.search(path.read_text())
        if match:
            found.add(match.group(1))
    return found


def pending_count(database_url: str) -> int:
    """How many shipped migrations the database has not run. Raises when the database
    cannot be asked; the caller then migrates as usual."""
    wanted = committed_ids()
    if database_url.startswith("sqlite:"):
        path = database_url.split(":///", 1)[1]
        if not Path(path).exists():
            return len(wanted)
        with contextlib.closing(sqlite3.connect(path, timeout=15)) as conn:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'migration'").fetchone():
                return len(wanted)
            ran = {row[0] for row in conn.execute(
                "SELECT name FROM migration WHERE app_name = 'wacc'")}
        return len(wanted - ran)
    return len(wanted - asyncio.run(_postgres_ran(database_url)))


async def _postgres_ran(database_url: str) -> set[str]:
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        if await conn.fetchval("SELECT to_regclass('migration')") is None:
            return set()
        return {row[0] for row in await conn.fetch(
            "SELECT name FROM migration WHERE app_name = 'wacc'")}
    finally:
        await conn.close()
