"""Durable domain events: what happened, for automations and the AI auto-responder.

The bus carries live updates to screens: at most once, gone if nobody listens. What
must act on an event (run an automation, answer a customer) gets it as a queued job
instead: ``emit`` records an ``events.dispatch`` job in the transactional outbox
(wacc.outbox), in the same transaction as the write that caused it when the
caller has one open, so a queue outage delays events and never loses them. The job
calls every plugin's ``wacc_event`` hook in the worker. Each handler keeps its own
idempotency key (for automations, one run per automation and event id), so a job
retried after a crash, or dispatched twice, never acts twice.

Each kind is a typed struct below (all carry ``organizationId``, an ``id`` and ``at``);
what is stored in the outbox, and what ``wacc_event_handlers`` handlers receive, is its
JSON object, with these keys:

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

import msgspec

from wacc import outbox
from wacc.lib.clock import iso, utcnow
from wacc.lib.ids import new_id
from wacc.logs import get_logger
from wacc.plugins.spec import hookimpl

log = get_logger(__name__)

EVENT_JOB = "events.dispatch"
# The stored form of an event: a JSON object, as handlers receive it.
Event = dict[str, Any]


class DomainEvent(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True,
                  tag_field="kind"):
    """What every event carries. ``caused_by``/``depth`` are set by :func:`emit` while an
    automation acts, and left out of the stored object otherwise."""

    organization_id: str
    id: str = msgspec.field(default_factory=new_id)
    at: str = msgspec.field(default_factory=lambda: str(iso(utcnow())))
    caused_by: str | None = None
    depth: int | None = None


class MessageReceived(DomainEvent, tag="message.received"):
    message_id: str
    conversation_id: str
    contact_id: str
    session_id: str
    type: str
    body: str | None
    from_me: bool  # sent from the business's phone
    new_contact: bool
    new_conversation: bool


class MessageQueued(DomainEvent, tag="message.queued"):
    message_id: str
    conversation_id: str
    sent_by: str | None  # user id; None for an API key, an automation or the AI
    ai_generated: bool


class ConversationCreated(DomainEvent, tag="conversation.created"):
    conversation_id: str
    contact_id: str
    session_id: str


class ConversationStatusChanged(DomainEvent, tag="conversation.status_changed"):
    conversation_id: str
    from_: str = msgspec.field(name="from")
    to: str
    by: str | None


class ConversationAssigned(DomainEvent, tag="conversation.assigned"):
    conversation_id: str
    added: list[str]
    removed: list[str]
    by: str | None


class ContactCreated(DomainEvent, tag="contact.created"):
    contact_id: str


class TagAdded(DomainEvent, tag="tag.added"):
    tag_id: str
    contact_id: str | None = None  # one of the two
    conversation_id: str | None = None


AnyEvent = (MessageReceived | MessageQueued | ConversationCreated | ConversationStatusChanged
            | ConversationAssigned | ContactCreated | TagAdded)
KINDS = frozenset(str(t.__struct_config__.tag) for t in AnyEvent.__args__)


_HEAD = ("kind", "organizationId", "id", "at", "causedBy", "depth")


def to_stored(ev: DomainEvent) -> Event:
    """The JSON object that is stored and handed to handlers (keys in the order they
    always had: the common ones first)."""
    fields: Event = msgspec.to_builtins(ev)
    stored = {key: fields.pop(key) for key in _HEAD if key in fields}
    stored.update(fields)
    return stored


def from_stored(stored: Event) -> AnyEvent | None:
    """The typed event of a stored one; None for a kind this version does not know."""
    if stored.get("kind") not in KINDS:
        return None
    return msgspec.convert(stored, AnyEvent)  # type: ignore[arg-type]


class Host(Protocol):
    """What delivery needs of the process's wacc.runtime.Runtime (a layer above this
    module): the plugins whose handlers get each event, the runtime itself handed on."""

    plugins: Any

# Set while an automation acts: what it emits carries ``causedBy`` (the automation id)
# and ``depth``, so an automation is not started by its own doing and chains stop.
cause: ContextVar[dict[str, Any] | None] = ContextVar("event_cause", default=None)


def event(kind: str, organization_id: str, **payload: Any) -> Event:
    """The stored form of an event given by kind and keywords, for tests and tools; wacc
    itself emits the typed structs above."""
    return {"kind": kind, "organizationId": organization_id, "id": new_id(),
            "at": iso(utcnow()), **(cause.get() or {}), **payload}


def _caused(ev: DomainEvent) -> DomainEvent:
    caused = cause.get()
    if not caused:
        return ev
    return msgspec.structs.replace(ev, caused_by=caused["causedBy"], depth=caused["depth"])


async def emit(ev: DomainEvent) -> None:
    await emit_many([ev])


async def emit_many(events: list[DomainEvent]) -> None:
    """Record *events* for the worker, in order, as one job. Call it inside the
    ``transaction()`` that writes what they tell about: then both commit or neither."""
    if not events:
        return
    await outbox.add(EVENT_JOB, [to_stored(_caused(ev)) for ev in events])


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
    cause: Exception | None = None
    for ev in events:
        for name, handler in handlers.items():
            try:
                await handler(ev, runtime)
            except Exception as exc:
                log.exception("event handler failed", handler=name, kind=ev.get("kind"),
                              event=ev.get("id"))
                failed.add(name)
                cause = cause or exc
    if failed:
        # Chained, so a database outage is seen as one and the job waits it out.
        raise RuntimeError(f"event handlers failed: {', '.join(sorted(failed))}") from cause
    return len(events)
