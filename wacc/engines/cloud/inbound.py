"""One webhook change (one business number's ``value``) as contract events.

Every message Meta sends becomes something stored: the types wacc shows as they are;
orders, Flows replies and button presses as TEXT with their content in ``details``;
system notices, ``request_welcome``, ``unsupported`` and types Meta adds later as
UNSUPPORTED with Meta's raw type and error. A message that cannot be read at all (no
id, no sender) is reported as a problem and skipped, so it never costs its neighbours.
Shapes follow Meta's webhook reference and the captured payloads cited in
tests/cloud/fixtures/.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import msgspec

from wacc.engines.cloud.graph import WINDOW_CLOSED
from wacc.engines.cloud.peers import peer_from_digits, peer_from_user_id
from wacc.engines.cloud.vcards import contacts_to_vcard
from wacc.engines.contract import (
    Ack,
    Edited,
    EngineEvent,
    IdentityChanged,
    IdentityMapped,
    InboundMessage,
    Location,
    Media,
    MessageKind,
    Peer,
    Reaction,
    Revoked,
    SessionAlert,
)
from wacc.lib.text import only_digits

MEDIA_TYPES: dict[str, MessageKind] = {
    "image": "IMAGE", "video": "VIDEO", "audio": "AUDIO", "document": "DOCUMENT", "sticker": "STICKER",
}
# Status names Meta sends for our messages, as contract ack levels ("played": a voice
# message was listened to). Anything else (e.g. "deleted", "warning") is skipped.
ACKS = {"sent": 1, "delivered": 2, "read": 3, "played": 4, "failed": -1}
# Plain words for notices that have no text of their own.
NOTICES = {"request_welcome": "Opened the chat for the first time (request_welcome)"}


class BadMessage(Exception):
    """One message or status of a batch cannot be read; it is skipped and reported."""


@dataclass
class Parsed:
    """What one change holds: events in Meta's order, and what had to be skipped."""

    events: list[EngineEvent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Person:
    digits: str | None
    user_id: str | None
    name: str | None
    username: str | None


def value_events(value: dict[str, Any]) -> Parsed:
    out = Parsed()
    people = _people(value)
    errors = _list(value.get("errors"))
    for error in errors:
        # Meta's "errors" beside the messages: something went wrong for this number
        # (e.g. 131000 "Unsupported webhook payload"). Recorded, never dropped.
        out.events.append(SessionAlert(code=str(_get(error, "code") or "META_ERROR"),
                                       detail=f"Meta reported: {error_text(error)}"))
    for key, handler in (("messages", _message_events), ("statuses", _status_events),
                         ("message_echoes", _echo_events)):
        items = value.get(key, [])
        if not isinstance(items, list):
            out.problems.append(f"'{key}' in a webhook change is not a list")
            continue
        for item in items:
            try:
                if not isinstance(item, dict):
                    raise BadMessage(f"a webhook {key[:-1]} is not an object")
                out.events.extend(handler(item, people, errors))
            except (BadMessage, KeyError, TypeError, ValueError, AttributeError) as exc:
                ident = item.get("id") if isinstance(item, dict) else None
                out.problems.append(f"{key[:-1]} {ident or '(no id)'} skipped: {exc}")
    return out


def error_text(error: Any) -> str:
    """Meta's error object as one line: "131051 Message type unknown: <details>"."""
    if not isinstance(error, dict):
        return str(error)
    data = error.get("error_data")
    details = (data.get("details") if isinstance(data, dict) else None) or error.get("message") or ""
    return f"{error.get('code', '')} {error.get('title', '')}: {details}".strip(": ").strip()


# -- people ------------------------------------------------------------------------------


def _people(value: dict[str, Any]) -> list[_Person]:
    out = []
    for contact in value.get("contacts") or []:
        if not isinstance(contact, dict):
            continue
        profile = _dict(contact.get("profile"))
        username = str(profile["username"]) if profile.get("username") else None
        name = profile.get("name") or username
        digits = only_digits(str(contact.get("wa_id") or "")) or None
        out.append(_Person(digits=digits,
                           user_id=str(contact["user_id"]) if contact.get("user_id") else None,
                           name=str(name) if name else None, username=username))
    return out


def _username(msg: dict[str, Any], people: list[_Person]) -> str | None:
    user_id = msg.get("from_user_id")
    digits = only_digits(str(msg.get("from") or "")) or None
    for person in people:
        if (user_id and person.user_id == user_id) or (digits and person.digits == digits):
            return person.username
    return people[0].username if len(people) == 1 else None


def _sender(msg: dict[str, Any], people: list[_Person]) -> tuple[Peer, list[EngineEvent]]:
    """The customer a message is from, and an IdentityMapped when Meta names them by
    both phone and user id (so a contact first known by user id joins the phone one)."""
    digits = only_digits(str(msg["from"])) or None if msg.get("from") else None
    user_id = str(msg["from_user_id"]) if msg.get("from_user_id") else None
    exact = next((p for p in people if (digits and p.digits == digits)
                  or (user_id and p.user_id == user_id)), None)
    # Meta's wa_id and "from" may differ (some countries' number formats); with a
    # single contact in the change, that contact is the sender, for its name. Its ids
    # are only taken when the message names nobody itself: mapping a user id to the
    # wrong number would merge two customers.
    guess = exact or (people[0] if len(people) == 1 else None)
    name = guess.name if guess else None
    if digits is None and user_id is None and guess is not None:
        digits, user_id = guess.digits, guess.user_id
    elif exact is not None:
        digits, user_id = digits or exact.digits, user_id or exact.user_id
    if digits:
        peer = peer_from_digits(digits, name)
        mapped: list[EngineEvent] = []
        if user_id:
            mapped.append(IdentityMapped(lid=peer_from_user_id(user_id).wa_id, phone=f"+{digits}"))
        return peer, mapped
    if user_id:
        return peer_from_user_id(user_id, name), []
    raise BadMessage("no sender: neither 'from' nor 'from_user_id'")


# -- messages -----------------------------------------------------------------------------


def _message_events(msg: dict[str, Any], people: list[_Person],
                    value_errors: list[Any]) -> list[EngineEvent]:
    if not msg.get("id"):
        raise BadMessage("no message id")
    timestamp = float(msg["timestamp"])
    peer, events = _sender(msg, people)
    kind = str(msg.get("type") or "")
    found = msg.get(kind)
    content: dict[str, Any] = found if isinstance(found, dict) else {}
    context = _dict(msg.get("context"))
    details: dict[str, Any] = {}
    if isinstance(msg.get("referral"), dict):  # came from a click-to-WhatsApp ad
        details["referral"] = msg["referral"]
    username = _username(msg, people)
    if username:  # shown beside the profile name; users may change it, so not an id
        details["username"] = username
    if context.get("forwarded") or context.get("frequently_forwarded"):
        details["forwarded"] = "frequently" if context.get("frequently_forwarded") else True
    if isinstance(context.get("referred_product"), dict):  # "ask about this product"
        details["referred_product"] = context["referred_product"]
    if isinstance(msg.get("identity"), dict):  # Meta's security notice: the key changed
        details["identity"] = msg["identity"]
    common: dict[str, Any] = {"id": str(msg["id"]), "chat": peer, "sender": peer,
                              "timestamp": timestamp, "quoted_id": context.get("id") or None,
                              "raw": msg}

    def message(kind_: MessageKind, **fields: Any) -> list[EngineEvent]:
        extra = fields.pop("details", {})
        return [*events, InboundMessage(type=kind_, details={**details, **extra}, **common, **fields)]

    def unsupported(raw_type: str, body: str | None = None) -> list[EngineEvent]:
        errors = msg.get("errors") if isinstance(msg.get("errors"), list) else value_errors
        info: dict[str, Any] = {"type": raw_type}
        if errors:
            info["errors"] = errors
            info["error"] = error_text(errors[0])
        return message("UNSUPPORTED", body=body, details={"unsupported": info})

    if kind == "text":
        return message("TEXT", body=content.get("body"))
    if kind in MEDIA_TYPES:
        if not content.get("id"):
            return unsupported(kind)
        media = Media(mime_type=str(content.get("mime_type") or "application/octet-stream"),
                      filename=content.get("filename"), sha256=content.get("sha256"),
                      fetch=str(content["id"]))
        flags = {k: content[k] for k in ("voice", "animated") if k in content}
        return message(MEDIA_TYPES[kind], media=media, body=content.get("caption"),
                       details={"media": flags} if flags else {})
    if kind == "location":
        location = Location(latitude=float(content["latitude"]), longitude=float(content["longitude"]),
                            name=content.get("name"), address=content.get("address"))
        # Meta's "url" of a chosen place has no field in the contract's Location: kept
        # in details so the agent can still open the place.
        url = {"location": {"url": content["url"]}} if content.get("url") else {}
        return message("LOCATION", location=location, details=url)
    if kind == "contacts":
        cards = msg.get("contacts")
        if not isinstance(cards, list) or not cards:
            return unsupported(kind)
        return message("CONTACT", vcard=contacts_to_vcard(cards))
    if kind == "reaction":
        if not content.get("message_id"):
            raise BadMessage("a reaction names no message")
        # A reaction changes a message already stored rather than adding one. No
        # emoji: it was removed.
        return [*events, Reaction(message_id=str(content["message_id"]), chat=peer, sender=peer,
                                  emoji=str(content.get("emoji") or ""), timestamp=timestamp)]
    if kind == "interactive":
        return _interactive(content, message, unsupported)
    if kind == "button":  # a quick-reply button on a template
        text = content.get("text") or content.get("payload")
        if not text:
            return unsupported(kind)
        return message("TEXT", body=str(text), details={"button": content})
    if kind == "order":
        return message("TEXT", body=order_summary(content), details={"order": content})
    if kind == "edit":
        edited = content.get("message") if isinstance(content.get("message"), dict) else {}
        inner = edited.get(str(edited.get("type"))) if isinstance(edited, dict) else None
        inner = inner if isinstance(inner, dict) else {}
        body = inner.get("body") or inner.get("caption") or ""
        return [*events, Edited(id=str(content["original_message_id"]), chat=peer, body=str(body),
                                timestamp=timestamp)]
    if kind == "revoke":
        return [*events, Revoked(id=str(content["original_message_id"]), chat=peer, by=peer)]
    if kind == "system":
        return _system(content, peer, events, message, unsupported)
    if kind in NOTICES:
        return unsupported(kind, NOTICES[kind])
    raw_type = kind or "unknown"
    if kind == "unsupported" and content.get("type"):
        raw_type = f"unsupported:{content['type']}"
    return unsupported(raw_type)


def _interactive(content: dict[str, Any], message: Any, unsupported: Any) -> list[EngineEvent]:
    subtype = str(content.get("type") or "")
    reply = content.get(subtype) if isinstance(content.get(subtype), dict) else None
    if reply is None:
        return unsupported(f"interactive:{subtype}" if subtype else "interactive")  # type: ignore[no-any-return]
    if subtype == "nfm_reply":  # a Flows (or address) form was submitted
        raw = reply.get("response_json")
        try:
            response = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            response = raw
        flow = {"name": reply.get("name"), "body": reply.get("body"), "response": response}
        return message("TEXT", body=flow_summary(reply.get("body"), response),  # type: ignore[no-any-return]
                       details={"flow": flow})
    title = reply.get("title")
    if not title:
        return unsupported(f"interactive:{subtype}")  # type: ignore[no-any-return]
    return message("TEXT", body=str(title),  # type: ignore[no-any-return]
                   details={"interactive": {"type": subtype, **reply}})


def _system(content: dict[str, Any], peer: Peer, events: list[EngineEvent], message: Any,
            unsupported: Any) -> list[EngineEvent]:
    kind = str(content.get("type") or "")
    body = content.get("body")
    out = list(events)
    new: Peer | None = None
    if kind in ("user_changed_number", "customer_changed_number"):
        number = content.get("wa_id") or content.get("new_wa_id")
        if number and only_digits(str(number)):
            new = peer_from_digits(str(number), peer.name)
        elif content.get("user_id"):
            # A username customer's new number is not shown (Meta omits wa_id), but a
            # new number means a new user id, which Meta sends: follow that instead.
            new = peer_from_user_id(str(content["user_id"]), peer.name)
    elif kind == "user_changed_user_id" and content.get("user_id"):
        new = peer_from_user_id(str(content["user_id"]), peer.name)
    if new is not None and new.wa_id != peer.wa_id:
        out.append(IdentityChanged(old=peer, new=new))
        # The notice lands in the thread of the number the person uses now.
        notice = unsupported(f"system:{kind}", str(body) if body else None)
        return out + [_rechat(e, new) for e in notice if isinstance(e, InboundMessage)]
    return out + [e for e in unsupported(f"system:{kind or 'unknown'}", str(body) if body else None)
                  if isinstance(e, InboundMessage)]


def _rechat(event: InboundMessage, peer: Peer) -> InboundMessage:
    return msgspec.structs.replace(event, chat=peer, sender=peer)


def order_summary(order: dict[str, Any]) -> str:
    """"Order: 3 x HAMBURGER at 30 ILS, 2 x SODA at 10 ILS" and the customer's note;
    the items themselves stay in the message's details."""
    items = _list(order.get("product_items"))
    parts = []
    for item in items:
        if isinstance(item, dict):
            price = f" at {item['item_price']} {item.get('currency') or ''}".rstrip() \
                if "item_price" in item else ""
            parts.append(f"{item.get('quantity', 1)} x {item.get('product_retailer_id', '?')}{price}")
    text = f"Order: {', '.join(parts)}" if parts else "Order"
    note = order.get("text")
    return f"{text}\n{note}" if note else text


def flow_summary(body: Any, response: Any) -> str:
    """A form's answers as text the agent can read; the flow token is not an answer."""
    if isinstance(response, dict):
        answers = [f"{k}: {v}" for k, v in response.items() if k != "flow_token"]
        if answers:
            return "Form response: " + "; ".join(answers)
    return str(body or "Form response")


def _echo_events(echo: dict[str, Any], people: list[_Person],
                 value_errors: list[Any]) -> list[EngineEvent]:
    """A message the business sent from the WhatsApp Business app on a coexistence
    number (``smb_message_echoes``): stored as sent by the business (``from_me``) in
    the customer's chat, named by ``to`` / ``to_user_id``."""
    as_customer = {**echo, "from": echo.get("to"), "from_user_id": echo.get("to_user_id")}
    business = peer_from_digits(str(echo["from"])) if only_digits(str(echo.get("from") or "")) else None
    out: list[EngineEvent] = []
    for event in _message_events(as_customer, people, value_errors):
        if isinstance(event, InboundMessage):
            event = msgspec.structs.replace(event, from_me=True, sender=business or event.sender,
                                            raw=echo)
        elif isinstance(event, Reaction):
            event = msgspec.structs.replace(event, sender=business or event.sender)
        elif isinstance(event, Revoked):
            event = msgspec.structs.replace(event, by=business or event.by)
        out.append(event)
    return out


# -- statuses ------------------------------------------------------------------------------


def _status_events(status: dict[str, Any], people: list[_Person],
                   value_errors: list[Any]) -> list[EngineEvent]:
    ack = ACKS.get(str(status.get("status", "")))
    if ack is None:
        return []
    if not status.get("id"):
        raise BadMessage("a status names no message")
    if status.get("recipient_id"):
        chat = peer_from_digits(str(status["recipient_id"]))
    elif status.get("recipient_user_id"):  # sent to a user id: Meta omits recipient_id
        chat = peer_from_user_id(str(status["recipient_user_id"]))
    else:
        raise BadMessage("a status names no recipient")
    error = None
    if ack == -1:
        errors = status.get("errors") if isinstance(status.get("errors"), list) else []
        error = error_text(errors[0]) if errors else None
        if errors and str(_get(errors[0], "code")) == "131047":
            # Meta often accepts the send and reports the closed window afterwards as
            # this status: the message reads the same as when /messages refuses it.
            error = f"{WINDOW_CLOSED} — {error}"
    return [Ack(id=str(status["id"]), chat=chat, ack=ack, error=error)]


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
