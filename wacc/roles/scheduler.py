"""The scheduler role: APScheduler turning the plugins' cron entries into jobs.

It only enqueues; the worker role does the work. Run it on exactly one machine, or every
entry is enqueued once per scheduler. Cron expressions are read in UTC.
"""

from __future__ import annotations

import asyncio
from datetime import UTC

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


def _enqueue(jobs: Jobs, name: str) -> None:
    jobs.enqueue(name)
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


async def _run(settings: Settings) -> None:
    stop = stop_on_signals()
    plugins = make_plugin_manager(settings)
    # With plugins, the runtime registers every job (never run here) so they can be
    # enqueued by name.
    runtime = Runtime.build(settings, load_keyring(settings), plugins)
    scheduler = build_scheduler(plugins, runtime.jobs)
    try:
        async with database(settings), Heartbeat("scheduler", settings.worker.heartbeat_seconds):
            scheduler.start()
            log.info("schedule loaded", entries=[j.name for j in scheduler.get_jobs()])
            await stop.wait()
            scheduler.shutdown(wait=False)
    finally:
        await runtime.bus.close()


def main(settings: Settings) -> None:
    asyncio.run(_run(settings))
