from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from wacc.conversations.schemas import ConversationOut
from wacc.http.schemas import Input, Output

Body = Annotated[str, msgspec.Meta(max_length=4096)]
Key = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[\w.:-]+$")]


class MediaIn(Input):
    mime_type: Annotated[str, msgspec.Meta(max_length=128)]
    data: str  # base64
    filename: Annotated[str, msgspec.Meta(max_length=255)] | None = None


class LocationIn(Input):
    latitude: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    longitude: Annotated[float, msgspec.Meta(ge=-180, le=180)]
    name: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    address: Annotated[str, msgspec.Meta(max_length=255)] | None = None


class PollIn(Input):
    question: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    options: Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=100)]],
                       msgspec.Meta(min_length=2, max_length=12)]
    selectable_count: Annotated[int, msgspec.Meta(ge=1, le=12)] = 1


class MessageSend(Input):
    type: Literal["TEXT", "IMAGE", "VIDEO", "AUDIO", "DOCUMENT", "STICKER", "LOCATION",
                  "CONTACT", "POLL", "REACTION"] = "TEXT"
    body: Body | None = None
    media: MediaIn | None = None
    location: LocationIn | None = None
    vcard: Annotated[str, msgspec.Meta(max_length=8192)] | None = None
    poll: PollIn | None = None
    reply_to: Annotated[str, msgspec.Meta(max_length=64)] | None = None  # our message id
    reaction_to: Annotated[str, msgspec.Meta(max_length=64)] | None = None  # our message id
    idempotency_key: Key | None = None
    template: dict[str, Any] | None = None  # Cloud API engine only


class SendToPhone(MessageSend, kw_only=True):
    to: Annotated[str, msgspec.Meta(min_length=3, max_length=32)]


class ConversationStart(Input):
    """Start a conversation (or write into the open one) with a contact, by id or by
    phone number, through a session."""

    session_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    message: MessageSend
    contact_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    phone: Annotated[str, msgspec.Meta(min_length=3, max_length=32)] | None = None


class MessageOut(Output):
    id: str
    conversation_id: str
    session_id: str
    whatsapp_message_id: str | None
    direction: str
    type: str
    body: str | None
    media_url: str | None
    media_mime_type: str | None
    metadata: dict[str, Any]
    status: str
    ack_status: int | None
    error: str | None
    timestamp: datetime
    created_at: datetime


class MessagePage(Output):
    items: list[MessageOut]
    next_cursor: str | None


class ConversationStarted(Output):
    conversation: ConversationOut
    message: MessageOut
    new_conversation: bool  # False: the open conversation with this contact was reused
