"""Meta's rules the fake Graph API enforces: error titles and JSON shape, the upload
type list, per-kind media limits and the checks on a send's type-specific object.
Split from graph_api.py (which serves them) to keep each file readable; every rule
names its source."""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Response

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
# What POST /{phone-number-id}/media takes, in the order Meta lists it when refusing
# another type (a captured real error: "(#100) Param file must be a file with one of the
# following types: …. Received file of type 'application/octet-stream'.").
UPLOAD_TYPES = (
    "text/plain", "video/mp4", "video/3gpp", "image/jpeg", "image/png", "image/webp",
    "audio/aac", "audio/mp4", "audio/mpeg", "audio/amr", "audio/ogg", "audio/opus",
    "application/vnd.ms-powerpoint", "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/pdf", "application/vnd.ms-excel",
)
MB = 1024 * 1024
# Meta's "Supported media types" table: the types each kind takes and its largest file
# (stickers: 100 KB static, 500 KB animated). Media outside them fails with 131053.
KIND_LIMITS: dict[str, tuple[tuple[str, ...], int]] = {
    "image": (("image/jpeg", "image/png"), 5 * MB),
    "video": (("video/mp4", "video/3gpp"), 16 * MB),
    "audio": (("audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg", "audio/opus"), 16 * MB),
    "document": (UPLOAD_TYPES, 100 * MB),
    "sticker": (("image/webp",), 500 * 1024),
}
STATIC_STICKER_MAX = 100 * 1024
CAPTIONED = ("image", "video", "document")
INTERACTIVE_TYPES = ("button", "list", "cta_url", "product", "product_list", "flow",
                     "location_request_message")

# Meta's error titles for the codes tests provoke, with the details Meta adds.
META_ERRORS: dict[int, tuple[str, str]] = {
    1: ("An unknown error has occurred.", ""),
    100: ("(#100) Invalid parameter", "Parameter value is not valid"),
    130429: ("(#130429) Rate limit hit", "Cloud API message throughput has been reached."),
    131026: ("(#131026) Message undeliverable",
             "Unable to deliver message. The recipient may not be a WhatsApp user."),
    131047: ("(#131047) Re-engagement message",
             "Message failed to send because more than 24 hours have passed since the "
             "customer last replied to this number."),
    # Titles and details as Meta's error-code reference words them.
    131048: ("(#131048) Spam rate limit hit",
             "Message failed to send because there are restrictions on how many messages can "
             "be sent from this phone number. This may be because too many previous messages "
             "were blocked or flagged as spam."),
    131053: ("(#131053) Media upload error", "Unable to upload the media used in the message."),
    131056: ("(#131056) (Business Account, Consumer Account) pair rate limit hit",
             "Message failed to send because there were too many messages sent from this "
             "phone number to the same phone number in a short period of time."),
    # Captured real answers (HTTP 400 / 404): the details name what did not match.
    132000: ("(#132000) Number of parameters does not match the expected number of params", ""),
    132001: ("(#132001) Template name does not exist in the translation", ""),
    190: ("Invalid OAuth access token - Cannot parse access token", ""),
}


class MetaError(Exception):
    def __init__(self, status: int, code: int, message: str | None = None, details: str = "",
                 kind: str = "OAuthException", subcode: int | None = None) -> None:
        title, default_details = META_ERRORS.get(code, (f"(#{code}) Error", ""))
        super().__init__(message or title)
        self.status, self.code, self.kind, self.subcode = status, code, kind, subcode
        self.message = message or title
        self.details = details or default_details

    def response(self) -> Response[Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.kind, "code": self.code,
                                 "fbtrace_id": "A" + secrets.token_hex(10)}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        return Response(content={"error": error}, status_code=self.status)


def invalid(details: str) -> MetaError:
    return MetaError(400, 100, details=details)


def check_content(kind: str, content: Any, media: dict[str, Any]) -> None:
    """Meta's checks on the type-specific object of a send."""
    if kind == "contacts":
        if not isinstance(content, list) or not content:
            raise invalid("contacts must be a non-empty list")
        for contact in content:
            name = contact.get("name") if isinstance(contact, dict) else None
            if not isinstance(name, dict) or not name.get("formatted_name"):
                raise invalid("contacts[].name.formatted_name is required")
            if not any(name.get(k) for k in ("first_name", "last_name", "middle_name", "suffix", "prefix")):
                raise invalid("contacts[].name needs at least one of first_name, last_name, …")
        return
    if not isinstance(content, dict):
        raise invalid(f"the '{kind}' object is required for type {kind}")
    if kind == "text":
        text = content.get("body")
        if not isinstance(text, str) or not text or len(text) > 4096:
            raise invalid("text.body is required (at most 4096 characters)")
        if not isinstance(content.get("preview_url", False), bool):
            raise invalid("text.preview_url must be a boolean")
    elif kind in MEDIA_TYPES:
        if ("id" in content) == ("link" in content):
            raise invalid(f"{kind} needs exactly one of id or link")
        if "id" in content and content["id"] not in media:
            raise MetaError(400, 131053, "(#131053) Media upload error", "Media id not found")
        if "caption" in content and kind not in CAPTIONED:
            raise invalid(f"{kind} does not take a caption")
    elif kind == "location":
        if not all(isinstance(content.get(k), int | float) for k in ("latitude", "longitude")):
            raise invalid("location.latitude and location.longitude are required numbers")
    elif kind == "reaction":
        if not isinstance(content.get("message_id"), str) or not isinstance(content.get("emoji"), str):
            raise invalid("reaction.message_id and reaction.emoji are required")
    elif kind == "template":
        language = content.get("language")
        if not content.get("name") or not (isinstance(language, dict) and language.get("code")):
            raise invalid("template.name and template.language.code are required")
    elif kind == "interactive":
        if content.get("type") not in INTERACTIVE_TYPES or not isinstance(content.get("action"), dict):
            raise invalid("interactive.type and interactive.action are required")
    else:
        raise invalid(f"type '{kind}' is not a valid message type")


def animated_webp(data: bytes) -> bool:
    # WebP's extended header (VP8X) carries an animation flag (Google's WebP container spec).
    return (len(data) > 20 and data[:4] == b"RIFF" and data[8:12] == b"WEBP"
            and data[12:16] == b"VP8X" and bool(data[20] & 0x02))
