"""The knowledge base's hooks: its API and the background job that cuts articles again."""

from __future__ import annotations

from typing import Any

from wacc.ai.knowledge import services as knowledge_services
from wacc.plugins.spec import hookimpl
from wacc.runtime import Runtime


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load them.
    from wacc.ai.knowledge.controllers import KnowledgeBaseController

    return [KnowledgeBaseController]


@hookimpl
def wacc_tasks(jobs: Any, run: Any, runtime: Runtime) -> None:
    @jobs.register(knowledge_services.REINDEX_JOB, retries=2, retry_delay=60)
    def reindex_knowledge_base(organization_id: str) -> int:
        return int(run(knowledge_services.reindex(runtime, organization_id)))
