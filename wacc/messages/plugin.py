"""The messages feature's hooks: the API (sending through a session too), the inbound
pipeline sessions feed, and the outbound send job."""

from __future__ import annotations

from typing import Any

from wacc import outbox
from wacc.contacts import links
from wacc.messages import media_jobs, outbound, queries, services
from wacc.messages.ingest import Pipeline
from wacc.messages.services import SEND_JOB
from wacc.plugins.spec import hookimpl
from wacc.runtime import Runtime
from wacc.sessions.inbound import INBOUND, Inbound, InboundPipeline
from wacc.sessions.rpc import rpc_of

# Erasures and the GDPR export of a contact reach messages through this (contacts cannot
# import messages: messages build on contacts).
links.register(queries.LINKS)


@hookimpl
def wacc_runtime_parts(runtime: Runtime) -> dict[str, Any]:
    def pipeline() -> InboundPipeline:
        # With the jobs: media of an engine that defers it (the Cloud API) is fetched by
        # the messages.fetch_media job once the message is stored.
        return Pipeline(runtime.bus, runtime.media, reopen=runtime.settings.whatsapp.reopen,
                        jobs=runtime.jobs)

    return {INBOUND: Inbound(pipeline=pipeline, last_message_at=services.last_message_at)}


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load it.
    from wacc.messages.controllers import MessageController, SessionMessageController

    return [MessageController, SessionMessageController]


@hookimpl
def wacc_tasks(jobs: Any, run: Any, runtime: Runtime) -> None:
    retry_hours = runtime.settings.whatsapp.send_retry_hours

    @jobs.register(SEND_JOB)
    def send_message(message_id: str, attempt: int = 0) -> str:
        # A retry is recorded by deliver itself, through the outbox.
        outcome = run(outbound.deliver(rpc_of(runtime), runtime.bus, runtime.media, message_id,
                                       attempt=attempt, retry_hours=retry_hours))
        return outcome.state

    @jobs.register(media_jobs.FETCH_MEDIA_JOB)
    def fetch_media(message_id: str, attempt: int = 0) -> str:
        """An inbound file the engine left for later (the Cloud API's webhook answers
        first); retried with backoff, then the message shows "media unavailable"."""
        outcome = run(media_jobs.fetch_media(rpc_of(runtime), runtime.bus, runtime.media, message_id,
                                             attempt=attempt))
        if outcome.state == "retry":
            run(outbox.add(media_jobs.FETCH_MEDIA_JOB, message_id, attempt + 1,
                           subject=message_id, delay=outcome.delay))
        return outcome.state

    @jobs.register("messages.sweep_interrupted")
    def sweep_interrupted() -> int:
        return run(outbound.sweep_interrupted(
            runtime.bus, runtime.engines, runtime.settings.worker.heartbeat_seconds))


@hookimpl
def wacc_schedule() -> list[Any]:
    return [("* * * * *", "messages.sweep_interrupted")]
