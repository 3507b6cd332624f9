"""Which exceptions mean "the database is away" (an outage the client should retry
after) rather than a bug in a query. The HTTP layer answers these with 503 and
Retry-After instead of 500 (issue 14)."""

from __future__ import annotations

import socket
import sqlite3

import asyncpg

# Seconds a client is told to wait: a restarting PostgreSQL or a failover takes seconds,
# and asking sooner only adds load to a server that is coming back.
RETRY_AFTER_SECONDS = 5

_POSTGRES_AWAY = (
    asyncpg.PostgresConnectionError,          # refused, reset, does not exist (any more)
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, cannot connect now
    asyncpg.exceptions.TooManyConnectionsError,
)
# Connection-level OS errors only: a FileNotFoundError from the media store is no outage.
_NETWORK_AWAY = (ConnectionError, socket.gaierror, TimeoutError)
# asyncpg's InterfaceError also covers misuse (two queries on one connection); only
# these messages are a connection or pool that went away.
_INTERFACE_AWAY = ("connection is closed", "pool is closing", "pool is closed")
_CLIENT_STATE_AWAY = "another operation"
# SQLite's "away": a file that cannot be opened or written, or a lock held too long.
_SQLITE_AWAY = ("database is locked", "unable to open database", "disk i/o error",
                "database or disk is full")


def _one(exc: BaseException) -> bool:
    if isinstance(exc, _POSTGRES_AWAY + _NETWORK_AWAY):
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        return any(text in str(exc).lower() for text in _INTERFACE_AWAY)
    if isinstance(exc, asyncpg.InternalClientError):
        # A connection the server closed in the middle of a statement (PostgreSQL
        # stopping: "terminating connection due to administrator command") leaves
        # asyncpg's protocol mid-operation; the next use of it says so this way.
        return _CLIENT_STATE_AWAY in str(exc)
    if isinstance(exc, sqlite3.OperationalError):
        return any(text in str(exc).lower() for text in _SQLITE_AWAY)
    return False


def database_unavailable(exc: BaseException) -> bool:
    """Whether *exc*, or an exception it was raised from, means the database is away."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if _one(current):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False
