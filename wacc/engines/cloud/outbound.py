"""What wacc asks to send, as the JSON Meta's messages endpoint expects. Pure functions:
no HTTP here, so every shape is testable on its own.

Media is the exception that needs a round trip (upload first, then send by id), so the
builders take the uploaded media id as an argument instead of uploading themselves.
"""

from __future__ import annotations

from typing import Any

from wacc.engines.cloud.peers import recipient_fields
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

MB = 1024 * 1024
# What Meta accepts per media kind: MIME types and the largest file, from Meta's
# "Supported media types" reference (Cloud API > Media; the same table is in AWS End User
# Messaging's "Supported media file types and sizes in WhatsApp"). The upload endpoint
# refuses any other type with "(#100) Param file must be a file with one of the following
# types: text/plain, video/mp4, video/3gpp, image/jpeg, image/png, image/webp, audio/aac,
# audio/mp4, audio/mpeg, audio/amr, audio/ogg, audio/opus, application/vnd.ms-powerpoint,
# application/msword, …docx, …pptx, …xlsx, application/pdf, application/vnd.ms-excel"
# (a captured real answer). Sizes in binary megabytes.
DOCUMENT_TYPES = frozenset({
    "text/plain", "application/pdf", "application/msword", "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
})
MEDIA_LIMITS: dict[str, tuple[frozenset[str], int]] = {
    "image": (frozenset({"image/jpeg", "image/png"}), 5 * MB),
    "video": (frozenset({"video/mp4", "video/3gpp"}), 16 * MB),
    # audio/ogg only with the OPUS codec (Meta: "base audio/ogg not supported"): the
    # browser's voice notes are OPUS; we cannot tell the codec from the type alone.
    "audio": (frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg",
                         "audio/opus"}), 16 * MB),
    "document": (DOCUMENT_TYPES, 100 * MB),
    "sticker": (frozenset({"image/webp"}), 100 * 1024),  # static; animated below
}
ANIMATED_STICKER_MAX = 500 * 1024


def is_animated_webp(data: bytes) -> bool:
    """A WebP with the animation flag set in its extended (VP8X) header."""
    return (len(data) > 20 and data[:4] == b"RIFF" and data[8:12] == b"WEBP"
            and data[12:16] == b"VP8X" and bool(data[20] & 0x02))


def media_kind(message_type: str, mime_type: str) -> str:
    """Meta's kind for a media message: a WebP image goes as a sticker (Meta takes
    image/webp only as a sticker; as an image it refuses it)."""
    kind = MEDIA_KINDS[message_type]
    if kind == "image" and mime_type.lower() == "image/webp":
        return "sticker"
    return kind


def check_media(message_type: str, mime_type: str, data: bytes, size: int | None = None) -> str | None:
    """Why Meta would refuse this file (type or size), or None when it is fine. *data* may
    be the file's first bytes only when its *size* is given (an upload kept on disk)."""
    if message_type not in MEDIA_KINDS:
        return None
    mime = mime_type.split(";", 1)[0].strip().lower()
    kind = media_kind(message_type, mime)
    types, limit = MEDIA_LIMITS[kind]
    if mime not in types:
        allowed = ", ".join(sorted(types))
        return f"WhatsApp does not accept {mime or 'this file type'} as {kind} (accepted: {allowed})"
    if kind == "sticker" and is_animated_webp(data):
        limit = ANIMATED_STICKER_MAX
    size = len(data) if size is None else size
    if size > limit:
        shown = f"{limit // MB} MB" if limit >= MB else f"{limit // 1024} KB"
        return f"the file is too large for a WhatsApp {kind}: {size} bytes, at most {shown}"
    return None


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
        **recipient_fields(message.to),
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
        mime = (message.media.mime_type if message.media else "") or ""
        meta_kind = media_kind(kind, mime)
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
