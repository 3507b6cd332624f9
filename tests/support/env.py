"""Where the suite's servers and processes run: database and Redis from the environment,
free ports, and the settings environment of a test server."""

from __future__ import annotations

import base64
import os
import socket
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

PG_URL = os.environ.get("WACC_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("WACC_TEST_REDIS_URL", "")
# Under pytest-xdist each worker process runs its own server and flushes its Redis
# database before every test: worker gwN takes the database N below the one named.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if REDIS_URL and _WORKER.startswith("gw"):
    _parts = urlsplit(REDIS_URL)
    _db = int(_parts.path.lstrip("/") or 0) - int(_WORKER[2:])
    if _db < 0:
        raise RuntimeError(f"WACC_TEST_REDIS_URL names database {_parts.path}: too low for worker {_WORKER}")
    REDIS_URL = urlunsplit(_parts._replace(path=f"/{_db}"))
TEST_KEY = base64.b64encode(b"k" * 32).decode()


def backend() -> str:
    return "postgres" if PG_URL else "sqlite"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def create_pg_database() -> str:
    """A fresh, uniquely named database on the WACC_TEST_DATABASE_URL server."""
    parts = urlsplit(PG_URL)
    name = f"wacc_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return urlunsplit(parts._replace(path=f"/{name}"))


async def drop_pg_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def server_env(data_dir: Path, database_url: str = "", **extra: str) -> dict[str, str]:
    """The WACC_* settings of a test server (not named test_*: pytest would collect it)."""
    env = {
        "WACC_DATA_DIR": str(data_dir),
        "WACC_SECRET_KEY": TEST_KEY,
        "WACC_LOG_FORMAT": "json",
        "WACC_BASE_URL": "http://wacc.test",
        # The fake Graph API listens on loopback; cloud sessions' base_url points there
        # (tests/cloud/test_base_url_guard.py checks the guard with this off).
        "WACC_WA_ALLOW_PRIVATE_URLS": "true",
    }
    if database_url:
        env["WACC_DATABASE_URL"] = database_url
    if REDIS_URL:
        env["WACC_REDIS_URL"] = REDIS_URL
    env.update(extra)
    return env
