"""The sessions feature's hooks."""

from __future__ import annotations

from typing import Any

from wacc.plugins.spec import hookimpl
from wacc.runtime import Runtime
from wacc.sessions import history
from wacc.sessions.inbound import inbound_of
from wacc.sessions.rpc import RPC, SessionRpc, rpc_of


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
def wacc_runtime_parts(runtime: Runtime) -> dict[str, Any]:
    return {RPC: SessionRpc(runtime.keyring)}


@hookimpl
def wacc_tasks(jobs: Any, run: Any, runtime: Runtime) -> None:
    @jobs.register(history.HISTORY_JOB)
    def read_history(import_id: str) -> str:
        async def go() -> str:
            # The pipeline the messages feature registered (wacc.sessions.inbound).
            pipeline = inbound_of(runtime).pipeline()
            try:
                return await history.run(import_id, rpc_of(runtime), runtime.bus, pipeline)
            finally:
                await pipeline.close()

        return str(run(go()))
