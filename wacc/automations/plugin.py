"""The automations feature's hooks: the API, the runner, the event handler and the
every-minute sweep (waits, no-reply and scheduled automations)."""

from __future__ import annotations

from typing import Any

from wacc.automations import engine
from wacc.plugins.spec import hookimpl
from wacc.runtime import Runtime


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load it.
    from wacc.automations.controllers import AutomationController, AutomationHookController

    return [AutomationController, AutomationHookController]


@hookimpl
def wacc_tasks(jobs: Any, run: Any, runtime: Runtime) -> None:
    # No retries: a run that raises is failed or, if interrupted, resumed by the sweep.
    @jobs.register(engine.RUN_JOB)
    def run_automation(execution_id: str) -> str | None:
        return run(engine.run(runtime, execution_id))  # type: ignore[no-any-return]

    @jobs.register(engine.SWEEP_JOB)
    def sweep_automations() -> int:
        return run(engine.sweep(runtime))  # type: ignore[no-any-return]


@hookimpl
def wacc_schedule() -> list[Any]:
    return [("* * * * *", engine.SWEEP_JOB)]


@hookimpl
def wacc_event_handlers() -> dict[str, Any]:
    return {"automations": engine.on_event}
