"""PostgreSQL away answers 503 with Retry-After in the seed's error format, not 500, and
the app recovers by itself when the server is back (issue 14). The test starts its own
PostgreSQL (initdb + pg_ctl on a free port) and stops it mid-way; the shared test
database is never touched. Skipped where the PostgreSQL server binaries are missing."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import API, PASSWORD, assert_error, bearer, register
from tests.support.servers import PrivatePostgres, private_postgres
from tests.support.serving import serve_app
from wacc.db.engine import bound_engine
from wacc.db.migrate import apply_migrations


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    with private_postgres() as pg:
        yield pg


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


def test_a_connection_cut_mid_statement_counts_as_the_database_away():
    """What asyncpg raises on a connection PostgreSQL closed in the middle of a statement
    (seen in the outage drill while the server stopped) is an outage: the request answers
    503 and the job is retried, instead of a 500 and a job lost for good."""
    import asyncpg

    from wacc.db.outage import database_unavailable

    cut = asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress")
    assert database_unavailable(cut)
    try:
        raise RuntimeError("event handlers failed: automations") from cut
    except RuntimeError as chained:
        assert database_unavailable(chained)
    assert not database_unavailable(asyncpg.InternalClientError("unexpected codec state"))
    assert not database_unavailable(ValueError("bad input"))
