"""Apply the committed migrations, once, even when several processes start together."""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

from piccolo.apps.migrations.commands.forwards import ForwardsMigrationManager
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine

from wacc.logs import get_logger

log = get_logger(__name__)

# Arbitrary constant: the PostgreSQL advisory lock that serialises wacc migrations.
_PG_LOCK_ID = 0x7761_6363


@contextlib.asynccontextmanager
async def _migration_lock(engine: Engine, lock_dir: Path) -> AsyncIterator[None]:
    if isinstance(engine, PostgresEngine):
        # A dedicated connection: the lock is held by the session that took it.
        conn = await engine.get_new_connection()
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", _PG_LOCK_ID)
            yield
        finally:
            with contextlib.suppress(Exception):
                await conn.execute("SELECT pg_advisory_unlock($1)", _PG_LOCK_ID)
            await conn.close()
    else:
        # Blocking on purpose: nothing else should run while another process migrates.
        lock_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
        with (lock_dir / "migrate.lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def summary(report: list[str]) -> str:
    """Piccolo's report lines as one line a person reads."""
    applied = sum("[forwards]" in line and "ok" in line for line in report)
    if applied:
        return f"{applied} migration{'s' if applied != 1 else ''} applied"
    return "up to date (no migration pending)"


async def apply_migrations(engine: Engine, lock_dir: Path) -> list[str]:
    """Run every migration not yet applied; returns Piccolo's report lines."""
    # Piccolo's runner finds its app registry through this module name.
    os.environ.setdefault("PICCOLO_CONF", "wacc.piccolo_conf")
    out = io.StringIO()
    async with _migration_lock(engine, lock_dir):
        with contextlib.redirect_stdout(out):
            result = await ForwardsMigrationManager(app_name="wacc").run()
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}")
    log.info("migrations applied", report=summary(lines))
    return lines
