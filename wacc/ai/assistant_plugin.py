"""The AI features built on the providers: knowledge base, auto-responder, agent assist."""

from __future__ import annotations

from typing import Any

from wacc.ai import knowledge_services
from wacc.plugins.spec import hookimpl
from wacc.runtime import Runtime


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load them.
    from wacc.ai.knowledge_controllers import KnowledgeBaseController
    from wacc.ai.responder_controllers import AssistController, ResponderController

    return [KnowledgeBaseController, ResponderController, AssistController]


@hookimpl
def wacc_tasks(jobs: Any, run: Any, runtime: Runtime) -> None:
    @jobs.register(knowledge_services.REINDEX_JOB, retries=2, retry_delay=60)
    def reindex_knowledge_base(organization_id: str) -> int:
        return int(run(knowledge_services.reindex(runtime, organization_id)))


@hookimpl
def wacc_event_handlers() -> dict[str, Any]:
    from wacc.ai import responder

    return {"ai.responder": responder.on_event}
