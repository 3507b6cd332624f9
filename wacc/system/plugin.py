"""The system feature's hooks: heartbeat pruning. (Health routes sit outside /api/v1,
so the composition root mounts HealthController itself.)"""

from __future__ import annotations

from typing import Any

from wacc.plugins.spec import hookimpl
from wacc.system import services


@hookimpl
def wacc_tasks(jobs: Any, run: Any) -> None:
    @jobs.register("system.prune_heartbeats")
    def prune_heartbeats() -> int:
        return run(services.prune_heartbeats(older_than_seconds=24 * 3600))


@hookimpl
def wacc_schedule() -> list[Any]:
    return [("17 3 * * *", "system.prune_heartbeats")]
