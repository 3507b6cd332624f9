"""The auto-responder of a WhatsApp session: its configuration, and the event handler
that answers customers from the knowledge base and hands over to a human.

What it answers: a customer's text message (``message.received``, not from the
business's phone) in a session whose responder is enabled, while the business hours
say the business is open (no hours: always). It answers nothing in a conversation a
human has taken: one with an assignee, one a teammate has written in (from wacc or
from the phone) or one it handed over, since the conversation was last resolved or
closed; and it answers a message once, even when the event comes twice.

All of that is read from the conversation's own rows (assignments, messages, history),
so there is no state of the responder to keep in step, and a retried event finds
its earlier answer. A hand-off is written to the conversation's history as an
``ai_handoff`` event with its reason, which agents see and the responder reads.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from wacc import events
from wacc.ai import prompts
from wacc.ai.knowledge import passages as knowledge
from wacc.ai.knowledge import services as knowledge_services
from wacc.ai.responder.replies import generate_reply, send_ai_message
from wacc.ai.responder.schemas import ResponderIn, ResponderOut
from wacc.ai.tables import AiResponder
from wacc.ai.types import ReplyReason, ReplyResult
from wacc.conversations import routing
from wacc.conversations.tables import (
    Conversation,
    ConversationAssignment,
    ConversationEvent,
    ConversationStatus,
)
from wacc.lib.clock import utcnow
from wacc.lib.errors import ValidationError, WaccError
from wacc.lib.ids import new_id
from wacc.logs import get_logger
from wacc.messages.tables import Message, MessageDirection
from wacc.runtime import Runtime
from wacc.security.principal import Principal
from wacc.sessions import services as sessions

log = get_logger(__name__)

HANDOFF_EVENT = "ai_handoff"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Ways customers ask for a person, in the languages wacc's users write most; matched as
# whole words, ignoring case and accents. The organization's keywords add to them.
HUMAN_PHRASES = (
    "human", "real person", "live agent", "an agent", "human agent",
    "representative", "operator", "speak to someone", "talk to someone",
    "mensch", "mitarbeiter", "echte person", "berater",  # de
    "humano", "persona real", "agente", "asesor", "operador",  # es / pt / it
    "humain", "vraie personne", "conseiller", "operateur",  # fr
    "atendente", "pessoa real",  # pt
    "operatore", "persona reale", "umano",  # it
    "medewerker",  # nl
)
# Reasons the customer is handed over with the handoff message; any other reason is
# the AI failing (providers down, limits), which sends the fallback message instead.
_HANDOFF_REASONS = ("handoff_requested", "handoff_keyword", "low_confidence", "no_knowledge")
_FINISHED = (ConversationStatus.RESOLVED.value, ConversationStatus.CLOSED.value)


# -- configuration ----------------------------------------------------------------------


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def open_at(hours: dict[str, Any] | None, now: datetime) -> bool:
    """Whether *hours* ({"timezone", "days": {"mon": [["09:00", "17:00"]]}}) cover *now*."""
    if not hours:
        return True
    try:
        local = now.astimezone(ZoneInfo(hours["timezone"]))
    except (ZoneInfoNotFoundError, ValueError, KeyError):
        return False  # saved hours are validated; a zone gone from the system closes
    clock = local.strftime("%H:%M")
    spans = (hours.get("days") or {}).get(DAYS[local.weekday()], [])
    return any(start <= clock < end for start, end in spans)


def _check_hours(hours: Any) -> dict[str, Any] | None:
    if hours is None:
        return None
    try:
        ZoneInfo(hours.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError.field("businessHours.timezone",
                                    f"unknown time zone {hours.timezone!r} (e.g. Europe/Berlin)") from None
    for day, spans in hours.days.items():
        for start, end in spans:
            if start >= end:
                raise ValidationError.field(
                    f"businessHours.days.{day}",
                    f"{start}-{end}: a span must end after it starts (split one across midnight)")
    return msgspec.to_builtins(hours)


def _keywords(values: list[str]) -> list[str]:
    """Trimmed, without repeats (they match ignoring case and accents anyway)."""
    if any(not _words(v) for v in values):
        raise ValidationError.field("handoffKeywords", "each keyword needs a letter or digit")
    seen: dict[tuple[str, ...], str] = {}
    for value in values:
        seen.setdefault(tuple(_words(value)), value.strip())
    return list(seen.values())


def _out(session_id: str, row: dict[str, Any] | None) -> ResponderOut:
    if row is None:
        defaults = ResponderIn()
        return ResponderOut(session_id=session_id, **msgspec.structs.asdict(defaults),
                            open_now=True, updated_at=None)
    hours = _json(row["business_hours"])
    return ResponderOut(
        session_id=session_id, enabled=row["enabled"], business_hours=hours,
        system_prompt=row["system_prompt"], knowledge_base_only=row["knowledge_base_only"],
        handoff_keywords=list(_json(row["handoff_keywords"]) or []),
        min_confidence=round(row["min_confidence"], 4), handoff_message=row["handoff_message"],
        fallback_message=row["fallback_message"], open_now=open_at(hours, utcnow()),
        updated_at=row["updated_at"])


async def _row(organization_id: str, session_id: str) -> dict[str, Any] | None:
    return await AiResponder.select().where(
        (AiResponder.session == session_id) & (AiResponder.organization == organization_id)
    ).first()


async def get_config(principal: Principal, session_id: str) -> ResponderOut:
    await sessions.get(principal, session_id)  # 404 for another organization's session
    return _out(session_id, await _row(principal.organization_id, session_id))


async def put_config(principal: Principal, session_id: str, data: ResponderIn) -> ResponderOut:
    """Replace the session's responder configuration; everything is checked first."""
    org = principal.organization_id
    await sessions.get(principal, session_id)
    hours = _check_hours(data.business_hours)
    await prompts.validate(org, data.system_prompt, "systemPrompt")
    values = {
        AiResponder.enabled: data.enabled, AiResponder.business_hours: hours,
        AiResponder.system_prompt: data.system_prompt,
        AiResponder.knowledge_base_only: data.knowledge_base_only,
        AiResponder.handoff_keywords: _keywords(data.handoff_keywords),
        AiResponder.min_confidence: data.min_confidence,
        AiResponder.handoff_message: (data.handoff_message or "").strip() or None,
        AiResponder.fallback_message: (data.fallback_message or "").strip() or None,
        AiResponder.updated_at: utcnow(),
    }
    fields: dict[str, Any] = {column._meta.name: value for column, value in values.items()}
    await AiResponder.insert(AiResponder(
        id=new_id(), organization=org, session=session_id, **fields,
    )).on_conflict(target=AiResponder.session, action="DO UPDATE", values=list(values))
    return _out(session_id, await _row(org, session_id))


# -- answering ----------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return [knowledge.fold(w) for w in knowledge.WORD.findall(text)]


def _contains(words: list[str], phrase: str) -> bool:
    wanted = _words(phrase)
    return bool(wanted) and any(words[i:i + len(wanted)] == wanted
                                for i in range(len(words) - len(wanted) + 1))


def handoff_request(text: str, keywords: list[str]) -> ReplyReason | None:
    """Why *text* hands the customer over at once, or None."""
    words = _words(text)
    if any(_contains(words, k) for k in keywords):
        return "handoff_keyword"
    if any(_contains(words, p) for p in HUMAN_PHRASES):
        return "handoff_requested"
    return None


async def _since(conversation_id: str) -> datetime | None:
    """When the conversation was last resolved or closed: a human's part ends there."""
    row = await ConversationEvent.select(ConversationEvent.created_at).where(
        (ConversationEvent.conversation == conversation_id)
        & (ConversationEvent.kind == "status") & ConversationEvent.to_value.is_in(list(_FINISHED))
    ).order_by(ConversationEvent.created_at, ascending=False).first()
    return row["created_at"] if row else None


async def silenced(organization_id: str, conversation_id: str, message_id: str) -> str | None:
    """Why the responder must not answer this message, or None."""
    conversation = await Conversation.select(Conversation.status).where(
        (Conversation.id == conversation_id) & (Conversation.organization == organization_id)
    ).first()
    inbound = await Message.select(Message.created_at).where(
        (Message.id == message_id) & (Message.organization == organization_id)).first()
    if conversation is None or inbound is None:
        return "gone"
    if conversation["status"] == ConversationStatus.SPAM.value:
        return "spam"
    if await ConversationAssignment.exists().where(
            ConversationAssignment.conversation == conversation_id):
        return "assigned"
    since = await _since(conversation_id)
    handed: Any = (ConversationEvent.conversation == conversation_id) & (
        ConversationEvent.kind == HANDOFF_EVENT)
    if since is not None:
        handed &= ConversationEvent.created_at > since
    if await ConversationEvent.exists().where(handed):
        return "handed_over"
    ours: Any = (Message.conversation == conversation_id) & (
        Message.direction == MessageDirection.OUTBOUND.value)
    if await Message.exists().where(ours & Message.is_ai_generated.eq(True)
                                    & (Message.created_at >= inbound["created_at"])):
        return "answered"  # this event came before, or a later message was answered
    if since is not None:
        ours &= Message.created_at > since
    for row in await Message.select(Message.metadata).where(ours & Message.is_ai_generated.eq(False)):
        meta = _json(row["metadata"]) or {}
        # Written by a teammate in wacc (sentBy) or on the business's phone (sender);
        # an automation's or an API key's message is neither and does not silence it.
        if meta.get("sentBy") or meta.get("sender"):
            return "agent_replied"
    return None


async def _hand_off(rt: Runtime, organization_id: str, conversation_id: str, config: dict[str, Any],
                    reason: ReplyReason, result: ReplyResult | None = None) -> None:
    """Assign round-robin, note it in the history, tell the customer. In that order: the
    assignment matters most, and once it is noted a retried event does nothing again."""
    assignee = await routing.assign_next(organization_id, conversation_id, bus=rt.bus)
    await ConversationEvent.insert(ConversationEvent(
        id=new_id(), conversation=conversation_id, user=None, kind=HANDOFF_EVENT,
        from_value=None, to_value=reason))
    if reason in _HANDOFF_REASONS:
        text = config["handoff_message"]
    else:
        text = config["fallback_message"] or (result.text if result else None)
    log.info("AI responder handed over", conversation=conversation_id, reason=reason,
             assignee=assignee)
    if text:
        await send_ai_message(rt, organization_id, conversation_id, ReplyResult(
            text, reason, handoff=True, usage_id=result.usage_id if result else None))


async def answer(rt: Runtime, stored: events.Event) -> str:
    """Handle one stored ``message.received`` event; returns what was done (for logs and
    tests)."""
    event = events.from_stored(stored)
    if not isinstance(event, events.MessageReceived) or event.from_me:
        return "ignored"
    return await _answer(rt, event)


async def _answer(rt: Runtime, event: events.MessageReceived) -> str:
    body = (event.body or "").strip()
    if event.type != "TEXT" or not body:
        return "not_text"
    org, conversation_id = event.organization_id, event.conversation_id
    config = await _row(org, event.session_id)
    if config is None or not config["enabled"]:
        return "disabled"
    if not open_at(_json(config["business_hours"]), utcnow()):
        return "closed"
    if (why := await silenced(org, conversation_id, event.message_id)) is not None:
        return why
    reason = handoff_request(body, list(_json(config["handoff_keywords"]) or []))
    if reason is not None:
        await _hand_off(rt, org, conversation_id, config, reason)
        return reason
    passages = await knowledge_services.retrieve(rt, org, body)
    best = passages[0].score if passages else 0.0
    if config["min_confidence"] and best < config["min_confidence"]:
        await _hand_off(rt, org, conversation_id, config, "low_confidence")
        return "low_confidence"
    try:
        result = await generate_reply(rt, org, conversation_id,
                                      system_prompt=config["system_prompt"], knowledge=passages,
                                      knowledge_only=config["knowledge_base_only"])
        confident = (result.confidence is None or not config["min_confidence"]
                     or result.confidence >= config["min_confidence"])
        if result.reason == "answered" and result.text and confident:
            # Asked again after the model's seconds: an agent may have stepped in, or a
            # message handled at the same time by another worker answered already.
            if (why := await silenced(org, conversation_id, event.message_id)) is not None:
                return why
            await send_ai_message(rt, org, conversation_id, result)
            return "answered"
    except WaccError:
        # Not a passing failure (a message delivered late, older than the last answer, so
        # nothing is left to answer; a conversation gone): retrying cannot help, so a
        # person takes over as if the AI were down.
        log.exception("AI responder could not answer", conversation=conversation_id)
        await _hand_off(rt, org, conversation_id, config, "providers_failed")
        return "providers_failed"
    failed: ReplyReason = result.reason if result.reason != "answered" else "low_confidence"
    await _hand_off(rt, org, conversation_id, config, failed, result)
    return failed


async def on_event(event: events.Event, rt: Runtime) -> None:
    """The ``wacc_event_handlers`` entry: every durable event passes here."""
    if event.get("kind") == "message.received":
        await answer(rt, event)
