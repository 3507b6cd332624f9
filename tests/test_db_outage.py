"""PostgreSQL away answers 503 with Retry-After in the seed's error format, not 500, and
the app recovers by itself when the server is back (issue 14). The test starts its own
PostgreSQL (initdb + pg_ctl on a free port) and stops it mid-way; the shared test
database is never touched. Skipped where the PostgreSQL server binaries are missing."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import API, PASSWORD, assert_error, bearer, register
from tests.support.env import free_port
from tests.support.serving import serve_app
from wacc.db.engine import bound_engine
from wacc.db.migrate import apply_migrations

_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))


def _as_postgres(args: list[str]) -> list[str]:
    # initdb refuses to run as root; the server then runs as the postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


class PrivatePostgres:
    def __init__(self, root: Path) -> None:
        self.bin = Path(_BIN[-1]).parent
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *args: str) -> None:
        subprocess.run(_as_postgres(list(args)), check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self.run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                 "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                 str(self.data / "log"), "-o", f"-p {self.port} -k {self.data} -c fsync=off",
                 "start")

    def stop(self) -> None:
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", "stop")


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    if not _BIN:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
    root = Path(tempfile.mkdtemp(prefix="wacc-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    pg = PrivatePostgres(root)
    pg.init()
    pg.start()
    try:
        yield pg
    finally:
        subprocess.run(_as_postgres([str(pg.bin / "pg_ctl"), "-D", str(pg.data), "-m",
                                     "immediate", "stop"]), capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.asynccontextmanager
async def served(data_dir: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app on *database_url*, migrated, with a client."""
    async with serve_app(data_dir, database_url) as (url, settings):
        await apply_migrations(bound_engine(), settings.data_path)
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            yield c


async def test_postgres_away_answers_503_with_retry_after_then_recovers(server, private_pg,
                                                                        tmp_path):
    async with served(tmp_path, private_pg.url) as client:
        await _outage(client, private_pg)


async def _outage(client: httpx.AsyncClient, private_pg: PrivatePostgres) -> None:
    owner = await register(client)
    head = bearer(owner["accessToken"])
    assert (await client.get(f"{API}/tags", headers=head)).status_code == 200

    private_pg.stop()
    for method, path, kwargs in (
        ("GET", f"{API}/tags", {"headers": head}),
        ("POST", f"{API}/tags", {"headers": head, "json": {"name": "during outage"}}),
        ("POST", f"{API}/auth/login", {"json": {"email": "owner@example.com",
                                                "password": PASSWORD}}),
    ):
        r = await client.request(method, path, **kwargs)
        error = assert_error(r, 503, "SERVICE_UNAVAILABLE")
        assert "database" in error["message"].lower()
        assert r.headers["retry-after"].isdigit()

    private_pg.start()
    r = await client.get(f"{API}/tags", headers=head)
    assert r.status_code == 200, r.text
    assert r.json() == []  # the write refused during the outage was not half-done
