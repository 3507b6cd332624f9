"""What the cloud engine does with one webhook POST for its number.

Meta answers a non-2xx (or a slow answer) by retrying the whole POST with growing
delays for up to seven days, so one bad message must never fail its batch:

- a message that cannot be read (``inbound.BadMessage``) or that wacc refuses to store
  (a validation error) is logged, reported as a :class:`SessionAlert` (the session's
  last error, ``session:alert`` on the bus) and skipped; the rest is stored and Meta
  gets 200;
- a failure that may pass (the database is away) is raised after the rest of the
  batch was tried, so Meta retries; stored messages are idempotent, so a retry adds
  nothing twice.

Media is not downloaded here: the engine says ``defer_media`` and the pipeline stores
the message at once and fetches the file in a job (``messages.fetch_media``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import msgspec

from wacc.engines.cloud import webhook
from wacc.engines.contract import (
    Ack,
    EngineEvent,
    EngineHost,
    IdentityMapped,
    InboundMessage,
    Peer,
    Reaction,
    SessionAlert,
    TransientEngineError,
)
from wacc.lib.errors import WaccError

log = logging.getLogger(__name__)

# Errors that say "this event is wrong", not "try again later".
_REFUSALS = (WaccError, ValueError, TypeError, KeyError, msgspec.ValidationError)

# (user id, phone) pairs remembered per process; past this the set starts over, which
# costs one repeated merge check per customer.
MAX_REMEMBERED = 100_000

NoteInbound = Callable[[Peer, float, "str | None"], None]
# Whether a status may have overtaken the send it is about: a send is still waiting for
# Meta's answer, or Meta named this message id moments ago.
MaySendRace = Callable[[str], bool]

# Meta may post a message's first statuses while the send that got its id is still on
# its way back to the outbox, which only then writes the id on the stored message; such
# a status would update nothing and be lost (a failed 131047 included). So a status that
# may have raced its send is applied again after this delay. Statuses only move a
# message forward, so applying one twice changes nothing the second time.
REAPPLY_AFTER_SECONDS = 2.0


class WebhookReceiver:
    def __init__(self, host: EngineHost, phone_number_id: str, app_secret: str,
                 note_inbound: NoteInbound, may_race: MaySendRace | None = None) -> None:
        self.host = host
        self.phone_number_id = phone_number_id
        self._app_secret = app_secret
        self._note_inbound = note_inbound
        self._may_race = may_race
        self.reapply_after = REAPPLY_AFTER_SECONDS
        self._reapplying: set[asyncio.Task[None]] = set()
        # (BSUID, phone) pairs already reported in this process: Meta names both on
        # every message of such a customer, and one merge is enough.
        self._mapped: set[tuple[str, str]] = set()

    async def receive(self, body: bytes, signature: str | None) -> list[EngineEvent]:
        """Check, parse and report one POST; returns the events reported (alerts for
        what was skipped included). Raises webhook.WebhookError when the POST is not a
        genuine webhook, TransientEngineError when storing failed in a way that may pass."""
        webhook.check_signature(body, signature, self._app_secret)
        parsed = webhook.parse_report(body, phone_number_id=self.phone_number_id)
        problems = list(parsed.problems)
        reported: list[EngineEvent] = []
        retry: Exception | None = None
        for event in parsed.events:
            if isinstance(event, IdentityMapped) and (event.lid, event.phone) in self._mapped:
                continue
            try:
                # Only the customer's own messages open the 24-hour window, not the
                # business's echoes from the WhatsApp Business app.
                if isinstance(event, InboundMessage) and not event.from_me:
                    self._note_inbound(event.sender, event.timestamp, event.id)
                elif isinstance(event, Reaction) and event.sender == event.chat:
                    self._note_inbound(event.sender, event.timestamp, None)
                await self.host.emit(event)
            except _REFUSALS as exc:
                if isinstance(event, IdentityMapped):
                    # The messages themselves are stored; only the merge is missed. Not
                    # alerted on every message of this customer: once in the log.
                    log.warning("cloud session %s: user id not joined to %s: %s",
                                self.host.session_id, event.phone, exc)
                    self._remember(event)
                else:
                    problems.append(f"{describe(event)} not stored: {exc}")
                continue
            except Exception as exc:  # the database or bus is away: Meta must retry
                log.exception("cloud session %s: %s not stored", self.host.session_id, describe(event))
                retry = exc
                continue
            if isinstance(event, IdentityMapped):
                self._remember(event)
            elif isinstance(event, Ack) and self._may_race is not None and self._may_race(event.id):
                task = asyncio.ensure_future(self._reapply(event))
                self._reapplying.add(task)
                task.add_done_callback(self._reapplying.discard)
            reported.append(event)
        for problem in problems:
            log.warning("cloud session %s: webhook %s", self.host.session_id, problem)
            alert = SessionAlert(code="WEBHOOK_MESSAGE_SKIPPED", detail=problem[:500])
            try:
                await self.host.emit(alert)
            except Exception:  # recording the alert must not lose the batch
                log.exception("cloud session %s: alert not recorded", self.host.session_id)
            reported.append(alert)
        if retry is not None:
            raise TransientEngineError(f"part of the webhook could not be stored: {retry}",
                                       code="STORE_FAILED") from retry
        return reported


    async def _reapply(self, event: Ack) -> None:
        await asyncio.sleep(self.reapply_after)
        try:
            await self.host.emit(event)
        except Exception:  # the first application stands; this was only a second chance
            log.warning("cloud session %s: status of %s not applied again", self.host.session_id,
                        event.id, exc_info=True)

    def close(self) -> None:
        """Drop the second chances still waiting (the engine stops)."""
        for task in list(self._reapplying):
            task.cancel()

    def _remember(self, event: IdentityMapped) -> None:
        if len(self._mapped) >= MAX_REMEMBERED:  # a bound, not a cache policy: rare
            self._mapped.clear()
        self._mapped.add((event.lid, event.phone))


def describe(event: EngineEvent) -> str:
    ident = getattr(event, "id", None) or getattr(event, "message_id", None)
    kind = type(event).__name__
    return f"{kind} {ident}" if ident else kind
