"""The contacts feature's hooks."""

from __future__ import annotations

from typing import Any

from wacc.plugins.spec import hookimpl
from wacc.runtime import Runtime


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load it.
    from wacc.contacts.controllers import ContactController
    from wacc.contacts.transfer_controllers import ContactTransferController

    return [ContactController, ContactTransferController]


@hookimpl
def wacc_tasks(jobs: Any, run: Any, runtime: Runtime) -> None:
    from wacc.contacts import importer

    # Retried on an unexpected error: the import resumes after its last committed batch.
    @jobs.register(importer.IMPORT_JOB, retries=2, retry_delay=30, context=True)
    def import_contacts(import_id: str, task: Any = None) -> str:
        last = task is None or not task.retries
        return run(importer.run_import(runtime.media, runtime.bus, import_id, last_attempt=last))

    @jobs.register(importer.RESUME_JOB)
    def resume_imports() -> int:
        return run(importer.resume_stale())


@hookimpl
def wacc_schedule() -> list[Any]:
    return [("*/5 * * * *", "contacts.resume_imports")]
