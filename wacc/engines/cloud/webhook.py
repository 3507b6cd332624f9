"""Meta's webhooks, as pure functions a thin HTTP controller can call.

The controller answers Meta's subscription handshake with :func:`verify_subscription`,
checks each POST with :func:`check_signature` over the raw body (before any parsing),
then turns it into contract events with :func:`parse`. Nothing here does I/O.

Meta batches: one POST can carry several entries (business accounts), each with
several changes (phone numbers), each with several messages and statuses.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import msgspec

from wacc.engines.cloud.peers import only_digits, peer_from_digits
from wacc.engines.contract import (
    Ack,
    EngineEvent,
    InboundMessage,
    Location,
    Media,
    MessageKind,
    Reaction,
)

SIGNATURE_HEADER = "X-Hub-Signature-256"

MEDIA_TYPES: dict[str, MessageKind] = {
    "image": "IMAGE", "video": "VIDEO", "audio": "AUDIO", "document": "DOCUMENT", "sticker": "STICKER",
}
# Status names Meta sends for our messages, as contract ack levels. Anything else
# (e.g. "deleted", "warning") is not a delivery step and is skipped.
ACKS = {"sent": 1, "delivered": 2, "read": 3, "failed": -1}


class WebhookError(Exception):
    """The request is not a valid webhook from Meta; the controller answers 4xx."""


def verify_subscription(params: Mapping[str, str], verify_token: str) -> str:
    """The ``hub.challenge`` to echo back when Meta subscribes the endpoint with our
    verify token (``GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…``)."""
    if params.get("hub.mode") != "subscribe":
        raise WebhookError("hub.mode must be 'subscribe'")
    token = params.get("hub.verify_token") or ""
    if not verify_token or not hmac.compare_digest(token.encode(), verify_token.encode()):
        raise WebhookError("hub.verify_token does not match this session's verify token")
    challenge = params.get("hub.challenge")
    if not challenge:
        raise WebhookError("hub.challenge is missing")
    return challenge


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for *body*."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(body: bytes, header: str | None, app_secret: str) -> None:
    """Refuse a POST whose ``X-Hub-Signature-256`` is not the HMAC-SHA256 of the raw
    body under the app secret. Compare in constant time so the signature cannot be
    guessed byte by byte from response timings."""
    if not app_secret:
        # Without a secret anyone could post fake customer messages; refuse rather
        # than accept unsigned webhooks.
        raise WebhookError("no app secret is configured, so the signature cannot be checked")
    if not header:
        raise WebhookError(f"the {SIGNATURE_HEADER} header is missing")
    if not header.startswith("sha256="):
        raise WebhookError(f"the {SIGNATURE_HEADER} header must start with 'sha256='")
    if not hmac.compare_digest(header.strip().lower(), sign(body, app_secret)):
        raise WebhookError(f"the {SIGNATURE_HEADER} signature does not match the body")


def parse(body: bytes, *, phone_number_id: str | None = None) -> list[EngineEvent]:
    """Contract events from a webhook body, in Meta's order. With *phone_number_id*,
    only changes for that business number are kept (one app may serve several).

    Unknown message types, status names and change fields are skipped, since Meta adds new ones
    without notice; a body that is not Meta's structure at all raises WebhookError.
    """
    events: list[EngineEvent] = []
    for number_id, value in _changes(body):
        if phone_number_id is None or number_id == phone_number_id:
            events.extend(_value_events(value))
    return events


def phone_number_ids(body: bytes) -> list[str]:
    """The business numbers a webhook body is about, so a controller can route it to
    the right session before parsing it for that session."""
    seen: list[str] = []
    for number_id, _ in _changes(body):
        if number_id and number_id not in seen:
            seen.append(number_id)
    return seen


def _changes(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    try:
        doc = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise WebhookError(f"the webhook body is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("entry"), list):
        raise WebhookError("the webhook body has no 'entry' list")
    out: list[tuple[str, dict[str, Any]]] = []
    for entry in doc["entry"]:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            raise WebhookError("a webhook entry has no 'changes' list")
        for change in changes:
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                raise WebhookError("a webhook change has no 'value' object")
            # Other fields (templates, account updates, …) are not conversations.
            if change.get("field", "messages") != "messages":
                continue
            value = change["value"]
            metadata = value.get("metadata")
            number_id = str(metadata.get("phone_number_id", "")) if isinstance(metadata, dict) else ""
            out.append((number_id, value))
    return out


def _value_events(value: dict[str, Any]) -> list[EngineEvent]:
    names: dict[str, str] = {}
    for contact in _list(value, "contacts"):
        if isinstance(contact, dict) and contact.get("wa_id"):
            profile = contact.get("profile")
            name = profile.get("name") if isinstance(profile, dict) else None
            if isinstance(name, str) and name:
                names[only_digits(str(contact["wa_id"]))] = name
    events: list[EngineEvent] = []
    for message in _list(value, "messages"):
        if not isinstance(message, dict):
            raise WebhookError("a webhook message is not an object")
        event = _message_event(message, names)
        if event is not None:
            events.append(event)
    for status in _list(value, "statuses"):
        if not isinstance(status, dict):
            raise WebhookError("a webhook status is not an object")
        ack = _status_event(status)
        if ack is not None:
            events.append(ack)
    return events


def _list(value: dict[str, Any], key: str) -> list[Any]:
    items = value.get(key, [])
    if not isinstance(items, list):
        raise WebhookError(f"'{key}' in a webhook change is not a list")
    return items


def _message_event(msg: dict[str, Any], names: dict[str, str]) -> EngineEvent | None:
    try:
        sender_digits = only_digits(str(msg["from"]))
        message_id = str(msg["id"])
        timestamp = float(msg["timestamp"])
        kind = str(msg.get("type", ""))
    except (KeyError, TypeError, ValueError) as exc:
        raise WebhookError(f"a webhook message lacks from, id or timestamp: {exc}") from exc
    if not sender_digits:
        raise WebhookError("a webhook message has no sender number")
    # Meta's wa_id and the "from" number may differ (some countries' number formats);
    # with a single contact in the change, that contact is the sender.
    name = names.get(sender_digits) or (next(iter(names.values())) if len(names) == 1 else None)
    peer = peer_from_digits(sender_digits, name)
    found = msg.get(kind)
    content: dict[str, Any] = found if isinstance(found, dict) else {}
    context = msg.get("context")
    quoted = str(context["id"]) if isinstance(context, dict) and context.get("id") else None
    common: dict[str, Any] = {"id": message_id, "chat": peer, "sender": peer, "timestamp": timestamp,
                              "quoted_id": quoted, "raw": msg}

    if kind == "text":
        return InboundMessage(type="TEXT", body=content.get("body"), **common)
    if kind in MEDIA_TYPES:
        media = _media(content)
        if media is None:
            return None
        media_kind: MessageKind = MEDIA_TYPES[kind]
        return InboundMessage(type=media_kind, media=media, body=content.get("caption"), **common)
    if kind == "location":
        try:
            location = Location(latitude=float(content["latitude"]), longitude=float(content["longitude"]),
                                name=content.get("name"), address=content.get("address"))
        except (KeyError, TypeError, ValueError):
            return None
        return InboundMessage(type="LOCATION", location=location, **common)
    if kind == "contacts":
        cards = msg.get("contacts")
        if not isinstance(cards, list) or not cards:
            return None
        return InboundMessage(type="CONTACT", vcard=contacts_to_vcard(cards), **common)
    if kind == "reaction":
        if not content.get("message_id"):
            return None
        # A reaction is reported as a Reaction event, not an InboundMessage: it changes
        # a message already stored rather than adding one. No emoji: it was removed.
        return Reaction(message_id=str(content["message_id"]), chat=peer, sender=peer,
                        emoji=str(content.get("emoji") or ""), timestamp=timestamp)
    if kind == "interactive":
        reply = content.get(str(content.get("type", "")))
        title = reply.get("title") if isinstance(reply, dict) else None
        if not title:
            return None
        return InboundMessage(type="TEXT", body=str(title), **common)
    if kind == "button":  # a quick-reply button on a template
        text = content.get("text") or content.get("payload")
        return InboundMessage(type="TEXT", body=str(text), **common) if text else None
    # unsupported, system, order, request_welcome, and types Meta adds later.
    return None


def _media(content: dict[str, Any]) -> Media | None:
    media_id = content.get("id")
    if not media_id:
        return None
    return Media(mime_type=str(content.get("mime_type") or "application/octet-stream"),
                 filename=content.get("filename"), sha256=content.get("sha256"), fetch=str(media_id))


def _status_event(status: dict[str, Any]) -> Ack | None:
    ack = ACKS.get(str(status.get("status", "")))
    if ack is None or not status.get("id") or not status.get("recipient_id"):
        return None
    error = None
    if ack == -1 and status.get("errors"):
        first = status["errors"][0] or {}
        detail = (first.get("error_data") or {}).get("details") or first.get("message") or ""
        error = f"{first.get('code', '')} {first.get('title', '')}: {detail}".strip(": ")
    return Ack(id=str(status["id"]), chat=peer_from_digits(str(status["recipient_id"])), ack=ack,
               error=error)


def contacts_to_vcard(cards: list[Any]) -> str:
    """Meta's contacts array as vCard 3.0 text (one card per contact), the form the
    other engines report shared contacts in."""
    out: list[str] = []
    for card in cards:
        if not isinstance(card, dict):
            continue
        found = card.get("name")
        name: dict[str, Any] = found if isinstance(found, dict) else {}
        formatted = name.get("formatted_name") or " ".join(
            p for p in (name.get("first_name"), name.get("last_name")) if p) or "Unknown"
        lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{_escape(formatted)}",
                 f"N:{_escape(name.get('last_name') or '')};{_escape(name.get('first_name') or '')};;;"]
        for phone in card.get("phones") or []:
            if not isinstance(phone, dict) or not phone.get("phone"):
                continue
            params = f";type={phone['type']}" if phone.get("type") else ""
            if phone.get("wa_id"):
                params += f";waid={only_digits(str(phone['wa_id']))}"
            lines.append(f"TEL{params}:{phone['phone']}")
        lines.append("END:VCARD")
        out.append("\r\n".join(lines))
    return "\r\n".join(out)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")

