"""The auth feature's hooks."""

from __future__ import annotations

from typing import Any

from wacc.auth import services
from wacc.plugins.spec import hookimpl


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load it.
    from wacc.auth.controllers import AuthController

    return [AuthController]


@hookimpl
def wacc_tasks(jobs: Any, run: Any) -> None:
    @jobs.register("auth.prune_tokens")
    def prune_tokens() -> int:
        return run(services.prune_expired())


@hookimpl
def wacc_schedule() -> list[Any]:
    return [("23 * * * *", "auth.prune_tokens")]
