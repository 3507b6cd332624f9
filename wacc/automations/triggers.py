"""Which events start which automations, and the events the clock makes (no reply,
schedules) for the scheduler role's every-minute sweep."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from wacc.automations.conditions import regex_search, within_hours
from wacc.conversations.tables import Conversation, ConversationStatus
from wacc.lib.clock import iso
from wacc.messages.tables import Message, MessageDirection

# Event kinds each trigger type listens to (the timed and webhook kinds are made here).
LISTENS = {
    "message.received": "message.received", "outside_business_hours": "message.received",
    "conversation.created": "conversation.created",
    "conversation.status_changed": "conversation.status_changed",
    "conversation.assigned": "conversation.assigned", "contact.created": "contact.created",
    "tag.added": "tag.added", "no_reply": "no_reply", "schedule": "schedule",
    "webhook": "webhook",
}
DURABLE_KINDS = frozenset(v for k, v in LISTENS.items() if k not in ("no_reply", "schedule",
                                                                     "webhook"))
NO_REPLY_WINDOW = timedelta(days=1)
MAX_DUE = 200


def token_hash(token: str) -> str:
    # The token is 256 random bits: a plain digest is enough to make the stored value useless.
    return hashlib.sha256(token.encode()).hexdigest()


def _keyword(body: str, trigger: dict[str, Any]) -> bool:
    case = trigger.get("caseSensitive", False)
    text = body if case else body.casefold()
    for word in trigger["keywords"]:
        word = word if case else word.casefold()
        mode = trigger.get("mode", "contains")
        if ((mode == "contains" and word in text) or (mode == "exact" and text.strip() == word)
                or (mode == "startsWith" and text.lstrip().startswith(word))
                or (mode == "word" and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text))):
            return True
    return False


def matches(trigger: dict[str, Any], event: dict[str, Any], ctx: dict[str, Any]) -> bool:
    """Whether *event* starts an automation with *trigger* (conditions come after)."""
    kind = trigger["type"]
    if LISTENS.get(kind) != event.get("kind"):
        return False
    if kind in ("message.received", "outside_business_hours"):
        if event.get("fromMe"):
            return False  # sent from the business's own phone, not a customer
        if kind == "outside_business_hours":
            hours: dict[str, Any] | None = trigger.get("hours") or ctx.get("hours")
            return hours is not None and not within_hours(hours, ctx["now"],
                                                    ctx.get("timezone") or "UTC")
        match, body = trigger.get("match", "any"), event.get("body") or ""
        if match == "keywords":
            return _keyword(body, trigger)
        if match == "regex":
            return regex_search(trigger["pattern"], body, trigger.get("caseSensitive", False))
        if match == "firstMessageOfNewContact":
            return bool(event.get("newContact"))
        return True
    if kind == "conversation.status_changed":
        return ((not trigger.get("from") or event.get("from") in trigger["from"])
                and (not trigger.get("to") or event.get("to") in trigger["to"]))
    if kind == "conversation.assigned":
        added = event.get("added") or []
        return bool(added) and (not trigger.get("userId") or trigger["userId"] in added)
    if kind == "tag.added":
        return bool(event.get("tagId") == trigger.get("tagId"))
    if kind in ("no_reply", "schedule", "webhook"):
        return bool(event.get("automationId") == ctx.get("automationId"))
    return True


# -- the clock -------------------------------------------------------------------------


async def no_reply_events(automation: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """One event per conversation whose latest message is a customer's, older than the
    automation's minutes; keyed by that message, so it fires once per unanswered message."""
    minutes = automation["trigger"]["minutes"]
    cutoff = now - timedelta(minutes=minutes)
    since = max(cutoff - NO_REPLY_WINDOW, automation["created_at"])
    org = automation["organization"]
    rows = await Conversation.select(Conversation.id).where(
        (Conversation.organization == org)
        & Conversation.status.is_in([ConversationStatus.OPEN.value,
                                     ConversationStatus.PENDING.value])
        & (Conversation.last_message_at >= since)).limit(MAX_DUE)
    out = []
    for row in rows:
        last = await Message.select(Message.id, Message.direction, Message.timestamp).where(
            Message.conversation == row["id"]).order_by(
            Message.timestamp, ascending=False).order_by(Message.id, ascending=False).first()
        if (last is None or last["direction"] != MessageDirection.INBOUND.value
                or last["timestamp"] > cutoff or last["timestamp"] < since):
            continue
        out.append({"kind": "no_reply", "organizationId": org,
                    "id": f"no_reply:{last['id']}", "automationId": automation["id"],
                    "conversationId": row["id"], "messageId": last["id"], "minutes": minutes,
                    "at": iso(now)})
    return out


def schedule_event(automation: dict[str, Any], now: datetime,
                   timezone: str) -> dict[str, Any] | None:
    """The event of the minute *now* falls in, when the cron fires in it; keyed by that
    minute, so two sweeps in one minute start one run."""
    trigger = automation["trigger"]
    minute = now.replace(second=0, microsecond=0)
    cron = CronTrigger.from_crontab(trigger["cron"], timezone=trigger.get("timezone") or timezone)
    fire = cron.get_next_fire_time(None, minute)
    if fire is None or fire != minute:
        return None
    return {"kind": "schedule", "organizationId": automation["organization"],
            "id": f"schedule:{iso(minute)}", "automationId": automation["id"],
            "at": iso(minute)}
