"""What the engine asks the in-page adapter to do, and what its refusals mean.

Pure functions: an :class:`OutboundMessage` becomes the JSON argument of the adapter's
``send`` action, and an adapter error ``{code, message}`` becomes the contract's
Transient/Permanent error. wa-js names its errors in snake_case (``msg_not_found``);
the adapter upper-cases them.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from wacc.engines.contract import (
    EngineError,
    NotConnectedError,
    OutboundMessage,
    Peer,
    PermanentEngineError,
    TransientEngineError,
)
from wacc.lib import vcard
from wacc.lib.text import only_digits

FILE_TYPES = frozenset({"IMAGE", "VIDEO", "AUDIO", "DOCUMENT", "STICKER"})

# Refusals that say the request itself is wrong: sending it again cannot succeed.
PERMANENT_CODES = frozenset({
    "UNSUPPORTED", "BAD_MESSAGE", "ALREADY_AUTHENTICATED", "INVALID_WID", "INVALIDWID",
    "CHAT_NOT_FOUND", "CONTACT_NOT_FOUND", "MSG_NOT_FOUND", "MESSAGE_NOT_FOUND", "INCORRECT_TYPE",
    "INVALID_QUOTED_MSG", "QUOTED_MSG_CAN_NOT_REPLY", "FILE_TOO_LARGE", "MSG_EXPIRED",
    "MESSAGE_KEY_IS_NOT_FROM_ME", "MESSAGE_KEY_REMOTE_ID_IS_NOT_SAME_OF_CHAT",
    "MESSAGE_NOT_CONTAINS_MEDIA", "NOT_IN_CHAT", "SEND_REQUIRED_PARAMS", "EDIT_MESSAGE_ERROR",
    "CANNOT_GET_CODE_FOR_ALREADY_AUTHENTICATED", "SEND_THE_PHONE_NUMBER_TO_CONNECT",
    "GROUP_YOU_ARE_RESTRICTED_MEMBER",
    # Thrown on the send path of wa-js 4.6.0 too (src/chat/functions/sendRawMessage.ts,
    # prepareRawMessage.ts, getQuotedMsgKey.ts, src/group/functions/ensureGroup.ts):
    # a community's parent group, a channel, a bad mention, a reply to nothing.
    "CAN_NOT_SEND_MESSAGE_TO_THIS_GROUPTYPE", "TYPE_NOT_VALID_FOR_NEWSLETTER",
    "MENTIONED_IS_NOT_USER", "MENTIONED_LIST_IS_NOT_ARRAY", "MESSAGE_NOT_HAVE_A_REPLY",
    "NOT_A_GROUP", "GROUP_YOU_ARE_NOT_ADMIN",
    # The adapter's own: deleting for everyone a message we may not (not ours, not admin).
    "NOT_ALLOWED",
})


def adapter_error(code: str, message: str) -> EngineError:
    if code == "NOT_READY":
        return NotConnectedError(message, code=code)
    if code in PERMANENT_CODES:
        return PermanentEngineError(message, code=code)
    return TransientEngineError(message, code=code)


def chat_id(peer: Peer) -> str:
    """WhatsApp's id for *peer*: its wa_id, or "<digits>@c.us" from a phone number."""
    if peer.wa_id:
        return peer.wa_id
    digits = only_digits(peer.phone or "")
    if not digits:
        raise PermanentEngineError("the recipient has no WhatsApp id and no phone", code="BAD_RECIPIENT")
    return f"{digits}@c.us"


def whatsapp_message_id(session_id: str, idempotency_key: str) -> str:
    """A WhatsApp message id derived from wacc's idempotency key: a retried send
    carries the same id, and the adapter returns the message already sent instead of
    sending it twice. "3EB0" + 20 hex digits is the shape of WhatsApp Web's own ids."""
    digest = hashlib.sha256(f"{session_id}\0{idempotency_key}".encode()).hexdigest()
    return "3EB0" + digest[:20].upper()


def send_payload(message: OutboundMessage) -> dict[str, Any]:
    """The adapter's ``send`` argument for *message* (media read and base64-encoded)."""
    if message.template is not None or message.interactive is not None:
        raise PermanentEngineError(
            "templates and interactive messages exist only on the Cloud API", code="UNSUPPORTED"
        )
    payload: dict[str, Any] = {"to": chat_id(message.to), "type": message.type}
    if message.quoted_id:
        payload["quoted_id"] = message.quoted_id
    if message.body is not None:
        payload["body"] = message.body

    kind = message.type
    if kind == "TEXT":
        if not message.body:
            raise PermanentEngineError("a text message needs a body", code="BAD_MESSAGE")
    elif kind in FILE_TYPES:
        payload["media"] = _media(message)
    elif kind == "LOCATION":
        if message.location is None:
            raise PermanentEngineError("a location message needs a location", code="BAD_MESSAGE")
        payload["location"] = {
            "latitude": message.location.latitude,
            "longitude": message.location.longitude,
            "name": message.location.name,
            "address": message.location.address,
        }
    elif kind == "CONTACT":
        if not message.vcard:
            raise PermanentEngineError("a contact message needs a vCard", code="BAD_MESSAGE")
        payload["contacts"] = vcard_contacts(message.vcard)
    elif kind == "POLL":
        if message.poll is None or len(message.poll.options) < 2:
            raise PermanentEngineError("a poll needs a question and two options or more", code="BAD_MESSAGE")
        payload["poll"] = {
            "question": message.poll.question,
            "options": list(message.poll.options),
            "selectable_count": message.poll.selectable_count,
        }
    elif kind == "REACTION":
        if not message.reaction_to:
            raise PermanentEngineError("a reaction needs reaction_to", code="BAD_MESSAGE")
        payload["reaction_to"] = message.reaction_to
    else:
        raise PermanentEngineError(f"cannot send {kind} messages", code="UNSUPPORTED")
    return payload


def _media(message: OutboundMessage) -> dict[str, Any]:
    media = message.media
    data = media.data if media is not None else None
    if data is None and message.media_path is not None:
        data = Path(message.media_path).read_bytes()
    if not data:
        raise PermanentEngineError(f"a {message.type.lower()} message needs its file", code="BAD_MESSAGE")
    filename = media.filename if media else None
    if filename is None and message.media_path is not None:
        filename = message.media_path.name
    return {
        "data": base64.b64encode(data).decode("ascii"),
        "mime_type": (media.mime_type if media else None) or "application/octet-stream",
        "filename": filename,
    }


# -- vCard ---------------------------------------------------------------------------------


def vcard_contacts(text: str) -> list[dict[str, str]]:
    """The contacts wa-js's sendVCardContactMessage takes (``{id, name}``), from the
    vCard's FN and TEL lines. wa-js writes the vCard itself from a WhatsApp id, so only
    the name and the number survive; a card without a phone number is refused."""
    contacts: list[dict[str, str]] = []
    for card in vcard.parse(text):
        phone = card.phones[0] if card.phones else None
        number = (phone.waid or only_digits(phone.number)) if phone else ""
        if not number:
            raise PermanentEngineError("a vCard has no phone number", code="BAD_MESSAGE")
        contacts.append({"id": f"{number}@c.us", "name": card.formatted_name or f"+{number}"})
    if not contacts:
        raise PermanentEngineError("the vCard holds no contact", code="BAD_MESSAGE")
    return contacts
