"""The scheduler role: APScheduler turning the plugins' cron entries into Huey jobs.

It only enqueues; the worker role does the work. Run it on exactly one machine, or every
entry is enqueued once per scheduler. Cron expressions are read in UTC.
"""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from huey.api import Huey, Task

from wacc.app import make_plugin_manager
from wacc.config import Settings
from wacc.logs import get_logger
from wacc.queue import make_huey
from wacc.roles.common import Heartbeat, database, stop_on_signals

log = get_logger(__name__)

# A run missed by up to this much (the role was restarting) still happens, once.
MISFIRE_GRACE_SECONDS = 300


def task_named(huey: Huey, name: str) -> type[Task]:
    """The task class registered as ``@huey.task(name=name)``.

    Huey keys its registry by "<module>.<name>" and has no public lookup by name alone,
    so this reads the registry; every wacc task has a unique, namespaced name.
    """
    found = [cls for cls in huey._registry._registry.values() if cls.__name__ == name]
    if len(found) != 1:
        raise LookupError(f"{'no' if not found else 'more than one'} task named {name!r}")
    return found[0]


def enqueue(huey: Huey, name: str) -> Any:
    """Enqueue the registered task *name* with no arguments; returns Huey's result handle."""
    return huey.enqueue(task_named(huey, name)())


def _never_run(coro: Any) -> Any:
    coro.close()
    raise RuntimeError("the scheduler role only enqueues jobs; the worker role runs them")


def _enqueue_entry(huey: Huey, name: str) -> None:
    enqueue(huey, name)
    log.info("job enqueued", task=name)


def build_scheduler(settings: Settings, huey: Huey) -> AsyncIOScheduler:
    plugins = make_plugin_manager(settings)
    # Registering the tasks here lets the scheduler check names and serialize jobs.
    plugins.call("wacc_tasks", huey=huey, run=_never_run)
    scheduler = AsyncIOScheduler(timezone=UTC)
    for cron, name in plugins.collect("wacc_schedule"):
        # One plugin's bad entry is reported and skipped; the other entries still run.
        try:
            task_named(huey, name)
            trigger = CronTrigger.from_crontab(cron, timezone=UTC)
        except (LookupError, ValueError) as exc:
            log.error("schedule entry skipped", cron=cron, task=name, error=str(exc))
            continue
        scheduler.add_job(
            _enqueue_entry, trigger, args=[huey, name], id=f"{name} {cron}", name=name,
            coalesce=True, max_instances=1, misfire_grace_time=MISFIRE_GRACE_SECONDS,
            replace_existing=True,
        )
    return scheduler


async def _run(settings: Settings, huey: Huey) -> None:
    stop = stop_on_signals()
    scheduler = build_scheduler(settings, huey)
    async with database(settings), Heartbeat("scheduler", settings.worker.heartbeat_seconds):
        scheduler.start()
        log.info("schedule loaded", entries=[j.name for j in scheduler.get_jobs()])
        await stop.wait()
        scheduler.shutdown(wait=False)


def main(settings: Settings) -> None:
    asyncio.run(_run(settings, make_huey(settings)))
