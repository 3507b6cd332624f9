"""Where what a session receives goes: the inbound pipeline, as sessions see it.

The messages feature owns the pipeline (``wacc.messages.ingest``): engine events become
stored messages, contacts and conversations. Sessions need only this much of it, so
they name it here and the messages feature registers its implementation through its
plugin (``wacc_runtime_parts``, under INBOUND): the session manager (the `wa` role) and
the history reads (a worker job) feed it without importing messages, which itself
sends through sessions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from wacc.engines.contract import EngineEvent, InboundMessage, Media
from wacc.runtime import Runtime

FetchMedia = Callable[[Media], Awaitable[bytes]]


@dataclass(frozen=True)
class SessionRef:
    id: str
    organization_id: str


class InboundPipeline(Protocol):
    async def handle(self, session: SessionRef, event: EngineEvent,
                     fetch_media: FetchMedia | None = None, *,
                     defer_media: bool = False) -> None:
        """Apply one engine event (a message, an ack, an edit, …)."""

    async def ingest(self, session: SessionRef, ev: InboundMessage,
                     fetch_media: FetchMedia | None = None, *,
                     quiet: bool = False) -> str | None:
        """Store one message; its row id, or None when it was stored already."""

    async def last_inbound_at(self, session_id: str, wa_id: str, phone: str | None) -> float | None:
        """When this customer last wrote through this session (epoch seconds)."""

    async def close(self) -> None:
        """Write what is queued, then stop."""


@dataclass(frozen=True)
class Inbound:
    """What the messages feature gives sessions: a pipeline for a session manager or a
    history read (each its own, closed when done), and when a session's last stored
    message was sent (where a back-fill starts)."""

    pipeline: Callable[[], InboundPipeline]
    last_message_at: Callable[[str], Awaitable[datetime | None]]


INBOUND = "sessions.inbound"


def inbound_of(rt: Runtime) -> Inbound:
    return rt.part(INBOUND, Inbound)
