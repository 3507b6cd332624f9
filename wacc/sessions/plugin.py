"""The sessions feature's hooks."""

from __future__ import annotations

from typing import Any

from wacc.plugins.spec import hookimpl
from wacc.runtime import Runtime


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load it.
    from wacc.sessions.controllers import (
        CloudWebhookController,
        EngineWebhookController,
        SessionController,
    )

    return [SessionController, EngineWebhookController, CloudWebhookController]


@hookimpl
def wacc_tasks(jobs: Any, run: Any, runtime: Runtime) -> None:
    from wacc.messages.ingest import Pipeline
    from wacc.sessions import history

    @jobs.register(history.HISTORY_JOB)
    def read_history(import_id: str) -> str:
        async def go() -> str:
            pipeline = Pipeline(runtime.bus, runtime.media, reopen=runtime.settings.whatsapp.reopen)
            try:
                return await history.run(import_id, runtime.rpc, runtime.bus, pipeline)
            finally:
                await pipeline.close()

        return str(run(go()))
