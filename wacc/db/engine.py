"""Build the Piccolo engine for WACC_DATABASE_URL and bind every table to it.

Piccolo resolves a table's engine through a process-wide lookup; wacc builds the
engine from its settings and binds it explicitly, so one process talks to one database
and tests can point a process at a fresh one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table

from wacc.config import Settings

_bound: dict[str, Engine] = {}


class WaccSQLiteEngine(SQLiteEngine):
    """SQLite with WAL, a busy timeout and no type sniffing on read.

    WAL lets readers work while one writer writes; the busy timeout makes a second
    writer wait instead of failing at once. Writes that read-then-write use
    ``transaction()`` below, which begins IMMEDIATE so two writers never deadlock
    upgrading a read lock.
    """

    async def get_connection(self) -> Any:
        connection = await super().get_connection()
        await connection.execute("PRAGMA synchronous = NORMAL")
        return connection


def make_engine(settings: Settings) -> Engine:
    url = settings.database.url
    if url.startswith("sqlite:"):
        path = Path(url[len("sqlite:///"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        engine: Engine = WaccSQLiteEngine(
            path=str(path), timeout=settings.database.sqlite_busy_timeout
        )
        # PARSE_DECLTYPES is Piccolo's default; keep it (it converts its own types).
        engine.connection_kwargs["detect_types"] = sqlite3.PARSE_DECLTYPES  # type: ignore[attr-defined]
        return engine
    parts = urlsplit(url)
    config: dict[str, Any] = {
        "host": parts.hostname or "localhost",
        "port": parts.port or 5432,
        "database": unquote(parts.path.lstrip("/")) or "postgres",
    }
    if parts.username:
        config["user"] = unquote(parts.username)
    if parts.password:
        config["password"] = unquote(parts.password)
    return PostgresEngine(config=config)


def bind(engine: Engine, tables: Iterable[type[Table]]) -> None:
    """Point every table (and Piccolo's migration table) at *engine*."""
    all_tables: list[type[Table]] = [*tables, Migration]
    for table in all_tables:
        table._meta.db = engine
    _bound["engine"] = engine


def bound_engine() -> Engine:
    try:
        return _bound["engine"]
    except KeyError:
        raise RuntimeError("no database engine is bound; call wacc.db.engine.bind first") from None


def is_sqlite(engine: Engine | None = None) -> bool:
    return (engine or bound_engine()).engine_type == "sqlite"


def transaction() -> Any:
    """A write transaction: IMMEDIATE on SQLite (see WaccSQLiteEngine), plain on PostgreSQL."""
    engine = bound_engine()
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


async def open_engine(engine: Engine, settings: Settings) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(
            min_size=settings.database.pool_min, max_size=settings.database.pool_max
        )
    else:
        # WAL is a property of the file; setting it once is enough and idempotent.
        await engine.run_ddl("PRAGMA journal_mode = WAL")


async def close_engine(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()


async def ping(engine: Engine) -> None:
    """Raise if the database does not answer a trivial query."""
    await engine.run_ddl("SELECT 1")
