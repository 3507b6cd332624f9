"""The worker role: a Huey consumer running the jobs that features register.

Jobs are sync functions on Huey's worker threads; the async services they call run on
one event loop in a background thread (AsyncBridge), which owns the database engine,
the bus and the heartbeat. SIGTERM is Huey's graceful signal here: the consumer takes
no new jobs and waits for the running ones (up to just under WACC_STOP_SECONDS) before
exiting. SIGINT stops at once.
"""

from __future__ import annotations

from piccolo.engine.base import Engine

from wacc.config import Settings
from wacc.db.engine import close_engine
from wacc.features import make_plugin_manager
from wacc.outbox import Dispatcher, retry_when_away, track
from wacc.queue import AsyncBridge
from wacc.roles.common import Heartbeat, connect
from wacc.runtime import Runtime
from wacc.security.crypto import load_keyring

# How long an idle worker thread may sleep between polls of an SQLite queue (Huey backs
# off up to this). Redis is not polled: Huey blocks on it.
MAX_POLL_SECONDS = 1.0


def main(settings: Settings) -> None:
    bridge = AsyncBridge()
    runtime = Runtime.build(settings, load_keyring(settings), make_plugin_manager(settings),
                            run=retry_when_away(bridge.run))
    heartbeat = Heartbeat("worker", settings.worker.heartbeat_seconds)
    # Jobs record jobs too (an automation's send): this process moves them to the queue.
    dispatcher = Dispatcher(runtime.jobs)
    track(runtime.jobs)  # finished outbox jobs are marked done
    engine: Engine | None = None

    async def startup() -> None:
        nonlocal engine
        engine = await connect(settings)
        await heartbeat.start()
        await dispatcher.start()

    async def shutdown() -> None:
        await dispatcher.stop()
        await heartbeat.stop()
        await runtime.bus.close()
        await runtime.close_parts()
        if engine is not None:
            await close_engine(engine)

    consumer = runtime.jobs.huey.create_consumer(
        workers=settings.worker.threads,
        worker_type="thread",
        # Recurring jobs come from the scheduler role, never from Huey's own periodic tasks.
        periodic=False,
        graceful_signal="TERM",
        # Finish before the supervisor's kill, so Huey can record what it interrupted.
        shutdown_timeout=max(settings.supervisor.stop_seconds - 1, 1),
        max_delay=MAX_POLL_SECONDS,
    )
    try:
        bridge.start(startup)
        consumer.run()
    finally:
        bridge.stop(shutdown)
