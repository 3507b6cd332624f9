"""The conversations feature's hooks: the inbox API and the snooze alarm clock."""

from __future__ import annotations

from typing import Any

from wacc.conversations import services
from wacc.plugins.spec import hookimpl
from wacc.runtime import Runtime

REOPEN_JOB = "conversations.reopen_snoozed"


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load it.
    from wacc.conversations.controllers import ConversationController

    return [ConversationController]


@hookimpl
def wacc_tasks(jobs: Any, run: Any, runtime: Runtime) -> None:
    @jobs.register(REOPEN_JOB)
    def reopen_snoozed() -> int:
        return run(services.reopen_due_snoozes(runtime.bus))


@hookimpl
def wacc_schedule() -> list[Any]:
    # Every minute: a snooze ends at most a minute late.
    return [("* * * * *", REOPEN_JOB)]
