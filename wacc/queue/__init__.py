"""Durable jobs with Huey: SQLite storage embedded, Redis when WACC_REDIS_URL is set.

Job functions are plain functions registered on the Huey instance by features (through
the ``wacc_register_tasks`` plugin hook). Most wacc services are async, and asyncpg
pools belong to one event loop, so a worker process runs one loop in a background
thread and Huey's worker threads hand coroutines to it (:class:`AsyncBridge`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from huey import RedisHuey, SqliteHuey
from huey.api import Huey

from wacc.config import Settings

T = TypeVar("T")


def make_huey(settings: Settings, *, immediate: bool = False) -> Huey:
    """The job queue. ``immediate`` runs jobs inline (tests of job logic only)."""
    # results=False: nothing reads a job's return value, and Huey would keep every one
    # (and every final error) in its result store for good.
    if settings.redis.url:
        return RedisHuey("wacc", url=settings.redis.url, immediate=immediate, utc=True,
                         results=False)
    path = Path(settings.core.data_dir) / "queue.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    # A generous timeout: web and worker processes write this file at the same time.
    return SqliteHuey("wacc", filename=str(path), immediate=immediate, utc=True, timeout=15,
                      results=False)


class AsyncBridge:
    """One event loop in a thread; sync callers run coroutines on it and wait."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="wacc-loop",
                                        daemon=True)

    def start(self, startup: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
        self._thread.start()
        if startup is not None:
            self.run(startup())

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, shutdown: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
        if shutdown is not None:
            self.run(shutdown(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
