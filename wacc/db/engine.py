"""Build the Piccolo engine for WACC_DATABASE_URL and bind every table to it.

Piccolo resolves a table's engine through a process-wide lookup; wacc builds the
engine from its settings and binds it explicitly, so one process talks to one database
and tests can point a process at a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import weakref
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosqlite
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType, dict_factory
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

    # Piccolo opens a new connection (a thread, PRAGMAs, a close) for every query outside
    # a transaction: about 1.3 ms of a 1.4 ms indexed SELECT, and pages run a dozen
    # queries (docs/performance.md). Those single-statement queries borrow a kept
    # connection from a small pool per event loop instead; each is still its own
    # committed statement, exactly as before. Transactions keep their own connection.
    POOL_SIZE = 4

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = (
            weakref.WeakKeyDictionary())
        self.connections_opened = 0

    async def get_connection(self) -> Any:
        connection = aiosqlite.connect(**self.connection_kwargs)
        # aiosqlite runs each connection on a non-daemon thread; a pooled connection
        # that nobody closed (a role killed mid-way, a job thread's loop) must not keep
        # the process from exiting.
        thread = getattr(connection, "_thread", None)
        if thread is not None:
            thread.daemon = True
        connection = await connection
        connection.row_factory = dict_factory  # type: ignore[assignment]
        await connection.execute("PRAGMA foreign_keys = 1")
        await connection.execute("PRAGMA synchronous = NORMAL")
        self.connections_opened += 1
        return connection

    def _pool(self) -> _Pool:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = self._pools[loop] = _Pool(self.get_connection, self.POOL_SIZE)
        return pool

    async def _run_in_new_connection(
        self, query: str, args: list[Any] | None = None, query_type: str = "generic",
        table: type[Table] | None = None,
    ) -> Any:
        pool = self._pool()
        connection = await pool.acquire()
        healthy = False
        try:
            # The order of Piccolo's own method: execute, commit, then fetch.
            async with connection.execute(query, args or []) as cursor:
                await connection.commit()
                if query_type == "insert" and self.get_version_sync() < 3.35:
                    assert table is not None
                    rows = [{table._meta.primary_key._meta.db_column_name:
                             await self._get_inserted_pk(cursor, table)}]
                else:
                    rows = await cursor.fetchall()
            healthy = True
            return rows
        finally:
            await pool.release(connection, healthy)

    async def close_pools(self) -> None:
        for pool in list(self._pools.values()):
            await pool.close()
        self._pools.clear()


class _Pool:
    """Up to *size* kept connections; a query takes one for itself and gives it back."""

    def __init__(self, connect: Any, size: int) -> None:
        self._connect = connect
        self._idle: list[Any] = []
        self._slots = asyncio.Semaphore(size)

    async def acquire(self) -> Any:
        await self._slots.acquire()
        try:
            return self._idle.pop() if self._idle else await self._connect()
        except BaseException:
            self._slots.release()
            raise

    async def release(self, connection: Any, healthy: bool) -> None:
        try:
            if healthy and not connection.in_transaction:
                self._idle.append(connection)
            else:  # a failed statement may have left a transaction open: start afresh
                with contextlib.suppress(Exception):
                    await connection.close()
        finally:
            self._slots.release()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            with contextlib.suppress(Exception):
                await connection.close()


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


# Callbacks to run once the outermost transaction() of this task has committed.
_after_commit: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "wacc_after_commit", default=None)


class _Transaction:
    """Piccolo's transaction, plus callbacks run after the outermost one commits (the
    outbox nudges its dispatcher there: before the commit it would find nothing)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._token: Any = None

    async def __aenter__(self) -> Any:
        if _after_commit.get() is None:
            self._token = _after_commit.set([])
        try:
            return await self._inner.__aenter__()
        except BaseException:
            self._reset()
            raise

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        callbacks = _after_commit.get() if self._token is not None else None
        try:
            result = await self._inner.__aexit__(exc_type, exc, tb)
        finally:
            self._reset()
        if exc is None and callbacks:
            for callback in callbacks:
                callback()
        return result

    def _reset(self) -> None:
        if self._token is not None:
            _after_commit.reset(self._token)
            self._token = None


def transaction() -> Any:
    """A write transaction: IMMEDIATE on SQLite (see WaccSQLiteEngine), plain on PostgreSQL.
    Nested ones join the outermost (Piccolo's rule)."""
    engine = bound_engine()
    if isinstance(engine, SQLiteEngine):
        return _Transaction(engine.transaction(transaction_type=TransactionType.immediate))
    return _Transaction(engine.transaction())


def after_commit(callback: Callable[[], None]) -> bool:
    """Run *callback* when the current transaction() commits (never if it rolls back).
    False when no transaction() is open: the caller's write is committed already."""
    pending = _after_commit.get()
    if pending is None:
        return False
    pending.append(callback)
    return True


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
    elif isinstance(engine, WaccSQLiteEngine):
        await engine.close_pools()


async def ping(engine: Engine) -> None:
    """Raise if the database does not answer a trivial query."""
    await engine.run_ddl("SELECT 1")
