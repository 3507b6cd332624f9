"""SQLite's kept connections: single statements outside a transaction borrow one of a few
pooled connections instead of opening a new one each, and stay exactly as committed
and isolated as before."""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3

import pytest

from tests.support.env import PG_URL
from wacc.db.engine import WaccSQLiteEngine, bound_engine, transaction
from wacc.tags.tables import Tag

pytestmark = pytest.mark.skipif(bool(PG_URL), reason="the pool is SQLite's; PostgreSQL has asyncpg's")


async def _org(client) -> str:
    from tests.helpers import register

    return (await register(client))["user"]["organizationId"]


async def test_queries_reuse_a_few_connections(client):
    engine = bound_engine()
    assert isinstance(engine, WaccSQLiteEngine)
    await Tag.count()  # the pool of this loop exists
    before = engine.connections_opened
    for _ in range(50):
        await Tag.count()
    await asyncio.gather(*(Tag.count() for _ in range(40)))
    assert engine.connections_opened - before <= WaccSQLiteEngine.POOL_SIZE


async def test_a_failed_statement_leaves_no_transaction_behind(client, settings):
    org = await _org(client)
    await Tag.insert(Tag(organization=org, name="vip"))
    with pytest.raises(sqlite3.IntegrityError):  # (organization, name) is unique
        await Tag.insert(Tag(organization=org, name="vip"))
    # Every pooled connection is usable and outside any transaction, and what was
    # written is committed: a separate plain connection sees it at once.
    await asyncio.gather(*(Tag.insert(Tag(organization=org, name=f"t{i}")) for i in range(8)))
    path = settings.database.url[len("sqlite:///"):]
    with sqlite3.connect(path) as plain:
        count = plain.execute("SELECT COUNT(*) FROM tag WHERE organization = ?", (org,)).fetchone()
    assert count[0] == 9


async def test_transactions_still_get_their_own_connection(client):
    org = await _org(client)
    async with transaction():
        await Tag.insert(Tag(organization=org, name="inside"))
        # Not committed yet: a pooled statement (from a task outside this transaction's
        # context, so on another connection) does not see it.
        outside = asyncio.create_task(Tag.count().where(Tag.name == "inside").run(),
                                      context=contextvars.Context())
        assert await outside == 0
    assert await Tag.count().where(Tag.name == "inside") == 1
