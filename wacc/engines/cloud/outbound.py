"""What wacc asks to send, as the JSON Meta's messages endpoint expects. Pure functions:
no HTTP here, so every shape is testable on its own.

Media is the exception that needs a round trip (upload first, then send by id), so the
builders take the uploaded media id as an argument instead of uploading themselves.
"""

from __future__ import annotations

from typing import Any

from wacc.engines.cloud.peers import recipient_digits
from wacc.engines.contract import OutboundMessage, PermanentEngineError
from wacc.lib import vcard

# Meta lets a business send free-form messages for 24 hours after the customer's last
# message; after that only approved templates go through (error 131047).
WINDOW_SECONDS = 24 * 60 * 60

MEDIA_KINDS = {"IMAGE": "image", "VIDEO": "video", "AUDIO": "audio", "DOCUMENT": "document",
               "STICKER": "sticker"}
# Audio and stickers take no caption; Meta rejects the field on them.
CAPTIONED = frozenset({"image", "video", "document"})
PHONE_TYPES = ("CELL", "MAIN", "IPHONE", "HOME", "WORK")


def window_open(last_inbound_ts: float | None, now: float) -> bool:
    """Whether the 24-hour customer service window is open at *now*, given when the
    customer last wrote (seconds since the epoch; None: never, as far as we know).

    A timestamp slightly in the future (clock skew between Meta and us) counts as
    open. Exactly 24 hours later the window is closed: Meta counts the same way, and
    erring towards "closed" costs a template, erring the other way a failed send.
    """
    if last_inbound_ts is None:
        return False
    return now - last_inbound_ts < WINDOW_SECONDS


def is_template(message: OutboundMessage) -> bool:
    return message.template is not None


def message_body(message: OutboundMessage, media_id: str | None = None) -> dict[str, Any]:
    """The request body for ``POST /{phone_number_id}/messages``; raises
    PermanentEngineError for anything Meta would refuse to take. *media_id* is the
    uploaded media's id; without it a media message is only checked, so the engine
    can refuse a bad message before uploading anything."""
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": recipient_digits(message.to),
    }
    kind, content = _content(message, media_id)
    body["type"] = kind
    body[kind] = content
    # A reaction already names its message; everything else may quote one.
    if message.quoted_id and kind != "reaction":
        body["context"] = {"message_id": message.quoted_id}
    return body


def _content(message: OutboundMessage, media_id: str | None) -> tuple[str, Any]:
    if message.template is not None:
        return "template", template_object(message.template)
    if message.interactive is not None:
        if not isinstance(message.interactive.get("type"), str):
            raise PermanentEngineError("an interactive message needs a 'type' (button, list, …)",
                                       code="BAD_MESSAGE")
        return "interactive", message.interactive
    kind = message.type
    if kind == "TEXT":
        if not message.body:
            raise PermanentEngineError("a text message needs a body", code="BAD_MESSAGE")
        # Link previews stay off: the preview is fetched by WhatsApp from the link,
        # which an agent pasting a URL may not expect.
        return "text", {"preview_url": False, "body": message.body}
    if kind in MEDIA_KINDS:
        meta_kind = MEDIA_KINDS[kind]
        if message.media_path is None and (message.media is None or message.media.data is None):
            raise PermanentEngineError(f"a {meta_kind} message needs media_path or media.data",
                                       code="BAD_MESSAGE")
        media: dict[str, Any] = {"id": media_id} if media_id else {}
        if message.body and meta_kind in CAPTIONED:
            media["caption"] = message.body
        if meta_kind == "document":
            filename = (message.media.filename if message.media else None) or (
                message.media_path.name if message.media_path else None)
            if filename:
                media["filename"] = filename
        return meta_kind, media
    if kind == "LOCATION":
        if message.location is None:
            raise PermanentEngineError("a location message needs a location", code="BAD_MESSAGE")
        loc = message.location
        location: dict[str, Any] = {"latitude": loc.latitude, "longitude": loc.longitude}
        if loc.name:
            location["name"] = loc.name
        if loc.address:
            location["address"] = loc.address
        return "location", location
    if kind == "CONTACT":
        if not message.vcard:
            raise PermanentEngineError("a contact message needs a vCard", code="BAD_MESSAGE")
        return "contacts", vcard_to_contacts(message.vcard)
    if kind == "REACTION":
        if not message.reaction_to:
            raise PermanentEngineError("a reaction needs reaction_to", code="BAD_MESSAGE")
        # The emoji travels in ``body``; an empty one removes our reaction.
        return "reaction", {"message_id": message.reaction_to, "emoji": message.body or ""}
    if kind == "POLL":
        raise PermanentEngineError(
            "polls are not supported by the WhatsApp Cloud API; send an interactive list "
            "or buttons instead", code="UNSUPPORTED")
    raise PermanentEngineError(f"message type {kind!r} is not supported by the Cloud API",
                               code="UNSUPPORTED")


def template_object(template: dict[str, Any]) -> dict[str, Any]:
    """The template as given, checked for what Meta always needs. A bare language
    code ("en_US") is accepted as a convenience and wrapped as Meta expects."""
    name = template.get("name")
    language = template.get("language")
    if not isinstance(name, str) or not name:
        raise PermanentEngineError("a template needs a 'name'", code="BAD_MESSAGE")
    if isinstance(language, str) and language:
        template = {**template, "language": {"code": language}}
    elif not (isinstance(language, dict) and language.get("code")):
        raise PermanentEngineError("a template needs a 'language' with a 'code'", code="BAD_MESSAGE")
    return template


# -- vCard --------------------------------------------------------------------------------


def vcard_to_contacts(text: str) -> list[dict[str, Any]]:
    """Meta's ``contacts`` array from one or more vCards: the name (FN, else N) and the
    phone numbers (TEL, with WhatsApp's ``waid`` parameter when present). Other
    fields are dropped; Meta needs none of them."""
    contacts = [_contact(card) for card in vcard.parse(text)]
    if not contacts:
        raise PermanentEngineError("the vCard is empty", code="BAD_MESSAGE")
    return contacts


def _contact(card: vcard.Card) -> dict[str, Any]:
    first, last = card.first_name, card.last_name
    formatted = card.formatted_name or " ".join(p for p in (first, last) if p)
    if not formatted:
        raise PermanentEngineError("the vCard has no name (FN or N)", code="BAD_MESSAGE")
    # Meta wants formatted_name plus at least one other name part.
    name_obj: dict[str, str] = {"formatted_name": formatted}
    if first:
        name_obj["first_name"] = first
    if last:
        name_obj["last_name"] = last
    if not first and not last:
        name_obj["first_name"] = formatted
    phones: list[dict[str, str]] = []
    for tel in card.phones:
        phone: dict[str, str] = {"phone": tel.number}
        kind = next((t for t in PHONE_TYPES if t in tel.types), None)
        if kind:
            phone["type"] = kind
        if tel.waid:
            phone["wa_id"] = tel.waid
        phones.append(phone)
    contact: dict[str, Any] = {"name": name_obj}
    if phones:
        contact["phones"] = phones
    return contact
