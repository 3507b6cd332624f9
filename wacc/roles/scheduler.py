"""The scheduler role: APScheduler turning the plugins' cron entries into jobs.

It only enqueues; the worker role does the work. On PostgreSQL, schedulers on several
machines elect one through an advisory lock; the others stand by. Cron expressions are
read in UTC.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC

import asyncpg
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from wacc.config import Settings
from wacc.features import make_plugin_manager
from wacc.logs import get_logger
from wacc.plugins.manager import PluginManager
from wacc.queue.jobs import Jobs
from wacc.roles.common import Heartbeat, database, stop_on_signals
from wacc.runtime import Runtime
from wacc.security.crypto import load_keyring

log = get_logger(__name__)

# A run missed by up to this much (the role was restarting) still happens, once.
MISFIRE_GRACE_SECONDS = 300
# The advisory lock key of the one scheduler on PostgreSQL (any fixed 64-bit number:
# "wacc.sch" in ASCII), and how often a standby tries to take it.
LEADER_LOCK = 0x776163632E736368
LEADER_RETRY_SECONDS = 5.0


def _enqueue(jobs: Jobs, name: str) -> None:
    # Straight to the queue, not through the outbox: a periodic job missed while Redis is
    # away simply runs at its next tick (each is a sweep that catches up).
    try:
        jobs.enqueue(name)
    except Exception as exc:
        log.warning("periodic job not queued; it runs at its next tick", job=name,
                    error=f"{type(exc).__name__}: {exc}")
        return
    log.info("job enqueued", job=name)


def build_scheduler(plugins: PluginManager, jobs: Jobs) -> AsyncIOScheduler:
    """A scheduler with one entry per valid (cron, job name) from ``wacc_schedule``."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    known = set(jobs.names())
    for cron, name in plugins.collect("wacc_schedule"):
        # One plugin's bad entry is reported and skipped; the other entries still run.
        try:
            if name not in known:
                raise LookupError(f"no job named {name!r} is registered")
            trigger = CronTrigger.from_crontab(cron, timezone=UTC)
        except (LookupError, ValueError) as exc:
            log.error("schedule entry skipped", cron=cron, job=name, error=str(exc))
            continue
        scheduler.add_job(
            _enqueue, trigger, args=[jobs, name], id=f"{name} {cron}", name=name,
            coalesce=True, max_instances=1, misfire_grace_time=MISFIRE_GRACE_SECONDS,
            replace_existing=True,
        )
    return scheduler


@contextlib.asynccontextmanager
async def leadership(settings: Settings, stop: asyncio.Event,
                     retry_seconds: float = LEADER_RETRY_SECONDS) -> AsyncIterator[bool]:
    """On PostgreSQL, wait until this scheduler holds the cluster-wide advisory lock, so
    that of several machines' schedulers one enqueues and the others stand by (and take
    over when it goes: the lock ends with its connection). Yields False if told to stop
    first. On SQLite, one machine, the data directory's lock (`wacc run`) suffices."""
    if not settings.database.url.startswith("postgres"):
        yield True
        return
    conn = await asyncpg.connect(settings.database.url)
    try:
        waiting = False
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK):
            if not waiting:
                log.info("another scheduler is running; standing by")
                waiting = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry_seconds)
            if stop.is_set():
                yield False
                return
        if waiting:
            log.info("taking over as the scheduler")
        yield True
    finally:
        await conn.close()


async def _run(settings: Settings) -> None:
    stop = stop_on_signals()
    plugins = make_plugin_manager(settings)
    # With plugins, the runtime registers every job (never run here) so they can be
    # enqueued by name.
    runtime = Runtime.build(settings, load_keyring(settings), plugins)
    scheduler = build_scheduler(plugins, runtime.jobs)
    try:
        async with database(settings), Heartbeat("scheduler", settings.worker.heartbeat_seconds), \
                leadership(settings, stop) as leading:
            if not leading:
                return
            scheduler.start()
            log.info("schedule loaded", entries=[j.name for j in scheduler.get_jobs()])
            await stop.wait()
            scheduler.shutdown(wait=False)
    finally:
        await runtime.bus.close()


def main(settings: Settings) -> None:
    asyncio.run(_run(settings))
