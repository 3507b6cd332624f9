"""Durable domain events: what happened, for automations and the AI auto-responder.

The bus carries live updates to screens: at most once, gone if nobody listens. What
must act on an event (run an automation, answer a customer) gets it as a queued job
instead: ``emit`` records an ``events.dispatch`` job in the transactional outbox
(wacc.outbox), in the same transaction as the write that caused it when the
caller has one open, so a queue outage delays events and never loses them. The job
calls every plugin's ``wacc_event`` hook in the worker. Each handler keeps its own
idempotency key (for automations, one run per automation and event id), so a job
retried after a crash, or dispatched twice, never acts twice.

Kinds and payloads (all carry ``organizationId``, an ``id`` and ``at``):

- ``message.received``: messageId, conversationId, contactId, sessionId, type, body,
  fromMe (sent from the business's phone), newContact, newConversation
- ``message.queued``: messageId, conversationId, sentBy (user id or null), aiGenerated
- ``conversation.created``: conversationId, contactId, sessionId
- ``conversation.status_changed``: conversationId, from, to, by
- ``conversation.assigned``: conversationId, added, removed, by
- ``contact.created``: contactId
- ``tag.added``: tagId, and contactId or conversationId
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol

from wacc import outbox
from wacc.lib.clock import iso, utcnow
from wacc.lib.ids import new_id
from wacc.logs import get_logger
from wacc.plugins.spec import hookimpl

log = get_logger(__name__)

EVENT_JOB = "events.dispatch"
Event = dict[str, Any]


class Host(Protocol):
    """What delivery needs of the process's wacc.runtime.Runtime (a layer above this
    module): the plugins whose handlers get each event, the runtime itself handed on."""

    plugins: Any

# Set while an automation acts: what it emits carries ``causedBy`` (the automation id)
# and ``depth``, so an automation is not started by its own doing and chains stop.
cause: ContextVar[dict[str, Any] | None] = ContextVar("event_cause", default=None)


def event(kind: str, organization_id: str, **payload: Any) -> Event:
    return {"kind": kind, "organizationId": organization_id, "id": new_id(),
            "at": iso(utcnow()), **(cause.get() or {}), **payload}


async def emit(kind: str, organization_id: str, **payload: Any) -> None:
    await emit_many([event(kind, organization_id, **payload)])


async def emit_many(events: list[Event]) -> None:
    """Record *events* for the worker, in order, as one job. Call it inside the
    ``transaction()`` that writes what they tell about: then both commit or neither."""
    if not events:
        return
    await outbox.add(EVENT_JOB, events)


# -- delivery, in the worker -------------------------------------------------------------


@hookimpl
def wacc_tasks(jobs: Any, run: Any, runtime: Host) -> None:
    # Retried as a whole when a handler fails; handlers are idempotent per event id.
    @jobs.register(EVENT_JOB, retries=5, retry_delay=10)
    def dispatch(events: list[Event]) -> int:
        return int(run(deliver(runtime, events)))


async def deliver(runtime: Host, events: list[Event]) -> int:
    """Hand each event to every handler; one failing handler spoils no other."""
    handlers: dict[str, Any] = {}
    for found in runtime.plugins.call("wacc_event_handlers") if runtime.plugins else []:
        handlers.update(found)
    failed: set[str] = set()
    for ev in events:
        for name, handler in handlers.items():
            try:
                await handler(ev, runtime)
            except Exception:
                log.exception("event handler failed", handler=name, kind=ev.get("kind"),
                              event=ev.get("id"))
                failed.add(name)
    if failed:
        raise RuntimeError(f"event handlers failed: {', '.join(sorted(failed))}")
    return len(events)
