"""What every role process shares: its database connection, its heartbeat, its stop signal.

Roles are the composition roots of long-running processes (see wacc.roles.supervisor);
the CLI uses :func:`database` too, for one-shot commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sqlite3
import sys
import warnings
from collections.abc import AsyncIterator
from types import TracebackType
from urllib.parse import urlsplit

import asyncpg
from piccolo.engine.base import Engine

from wacc.config import Settings
from wacc.db.engine import bind, close_engine, make_engine, open_engine, ping
from wacc.db.migrate import apply_migrations
from wacc.logs import get_logger
from wacc.schema import ALL_TABLES
from wacc.system.services import beat, stop_beating

log = get_logger(__name__)

# asyncpg waits 60 s for an unreachable host by default; a process that cannot reach its
# database should say so sooner (the supervisor or systemd then retries).
CONNECT_TIMEOUT_SECONDS = 10.0

# Errors that mean "the database is not there", as opposed to a bug in a query.
_CONNECT_ERRORS = (OSError, TimeoutError, sqlite3.Error, asyncpg.PostgresError,
                   asyncpg.InterfaceError)


class DatabaseUnavailable(Exception):
    """The database did not answer; the message says where and why, without secrets."""


def database_location(settings: Settings) -> str:
    url = settings.database.url
    if url.startswith("sqlite:"):
        return url[len("sqlite:///"):]
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


async def connect(settings: Settings) -> Engine:
    """Build the engine, bind every table to it and check that the database answers."""
    # Piccolo also warns, in colour and on lines of its own, when it cannot connect
    # (PostgreSQL: already while building the engine); the error raised below says it once.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine = make_engine(settings)
        bind(engine, ALL_TABLES)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
                await open_engine(engine, settings)
                await ping(engine)
            return engine
        except _CONNECT_ERRORS as exc:
            with contextlib.suppress(Exception):
                await close_engine(engine)
            reason = "no answer" if isinstance(exc, TimeoutError) else str(exc)
            raise DatabaseUnavailable(
                f"cannot reach the database at {database_location(settings)}: "
                f"{reason or type(exc).__name__}"
            ) from exc


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[Engine]:
    engine = await connect(settings)
    try:
        yield engine
    finally:
        await close_engine(engine)


async def migrate(settings: Settings) -> list[str]:
    """Apply pending migrations (locked, so roles starting together do it once)."""
    async with database(settings) as engine:
        return await apply_migrations(engine, settings.data_path)


class Heartbeat:
    """Record every few seconds that this process of *role* is alive (RoleHeartbeat).

    The first beat happens in :meth:`start`, so a role counts as alive as soon as it has
    started. A failed beat is logged, never raised: a database blip must not stop a role.
    """

    def __init__(self, role: str, every_seconds: float) -> None:
        self.role = role
        self.every = every_seconds
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        try:
            await beat(self.role)
        except Exception as exc:
            log.warning("heartbeat failed", error=f"{type(exc).__name__}: {exc}")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.every)
                return
            await self._beat()

    async def start(self) -> None:
        await self._beat()
        self._task = asyncio.create_task(self._run(), name=f"heartbeat-{self.role}")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        # Readiness should not count a process that has stopped.
        with contextlib.suppress(Exception):
            await stop_beating(self.role)

    async def __aenter__(self) -> Heartbeat:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (call from within the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


_PR_SET_PDEATHSIG = 1


def follow_supervisor(supervisor_pid: int) -> None:
    """Get SIGTERM when the supervisor dies, so a role never outlives a killed supervisor.

    The supervisor normally stops its roles itself; this covers SIGKILL or a crash.
    Linux only (prctl); elsewhere the role keeps running until it is stopped.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != supervisor_pid:
        # It died before prctl took effect.
        raise SystemExit("wacc: the supervisor is gone; not starting")
