"""Of several machines' schedulers on one PostgreSQL database, one enqueues and the others
stand by, taking over when it goes (issue 16: a PostgreSQL advisory lock)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.env import PG_URL
from wacc.roles.scheduler import leadership

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="the election is a PostgreSQL advisory lock; on SQLite, one machine, "
    "`wacc run`'s data-directory lock keeps a second scheduler out (tests/test_process.py)")


async def test_one_scheduler_leads_a_standby_waits_and_takes_over(settings):
    entered = asyncio.Event()
    release = asyncio.Event()

    async def standby(stop: asyncio.Event) -> bool:
        async with leadership(settings, stop, retry_seconds=0.05) as leading:
            entered.set()
            await release.wait()
            return leading

    async with leadership(settings, asyncio.Event()) as first:
        assert first is True
        waiting = asyncio.create_task(standby(asyncio.Event()))
        await asyncio.sleep(0.5)
        assert not entered.is_set()  # still standing by while the first one leads
        # A standby told to stop while it waits never leads.
        stopped = asyncio.Event()
        stopped.set()
        async with leadership(settings, stopped, retry_seconds=0.05) as leading:
            assert leading is False
    # The first one's connection closed: the standby takes over.
    await asyncio.wait_for(entered.wait(), 10)
    release.set()
    assert await waiting is True
