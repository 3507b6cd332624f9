"""The conversations feature's hooks: the inbox API and the snooze alarm clock."""

from __future__ import annotations

from typing import Any

from wacc.contacts import links
from wacc.conversations import contact_links, inbox
from wacc.plugins.spec import hookimpl
from wacc.runtime import Runtime

REOPEN_JOB = "conversations.reopen_snoozed"

# Merges, erasures and a contact's page reach conversations through this (contacts
# cannot import conversations: they build on contacts).
links.register(contact_links.LINKS)


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load it.
    from wacc.conversations.controllers import ConversationController

    return [ConversationController]


@hookimpl
def wacc_tasks(jobs: Any, run: Any, runtime: Runtime) -> None:
    @jobs.register(REOPEN_JOB)
    def reopen_snoozed() -> int:
        return run(inbox.reopen_due_snoozes(runtime.bus))


@hookimpl
def wacc_schedule() -> list[Any]:
    # Every minute: a snooze ends at most a minute late.
    return [("* * * * *", REOPEN_JOB)]
