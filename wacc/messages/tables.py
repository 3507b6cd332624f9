from __future__ import annotations

from enum import StrEnum

from piccolo.columns import (
    JSONB,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from wacc.conversations.tables import Conversation
from wacc.db.columns import Index, created_at, enum_column, id_column, org_fk
from wacc.orgs.tables import Organization
from wacc.sessions.tables import WhatsAppSession


class MessageDirection(StrEnum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


class MessageType(StrEnum):
    TEXT = "TEXT"
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    AUDIO = "AUDIO"
    DOCUMENT = "DOCUMENT"
    STICKER = "STICKER"
    LOCATION = "LOCATION"
    CONTACT = "CONTACT"
    POLL = "POLL"
    REACTION = "REACTION"
    # Not in the seed: a message WhatsApp delivered in a form wacc cannot show (a new or
    # unknown type). Stored, never dropped and never guessed as TEXT; the engine's raw
    # type and error are kept in the message's metadata.
    UNSUPPORTED = "UNSUPPORTED"


class MessageStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    READ = "READ"
    FAILED = "FAILED"


class Message(Table, tablename="message"):
    id = id_column()
    # Denormalised from the conversation so tenancy filters need no join.
    organization = org_fk(Organization)
    conversation = ForeignKey(Conversation, on_delete=OnDelete.cascade, null=False)
    session = ForeignKey(WhatsAppSession, on_delete=OnDelete.cascade, null=False)
    # Unique per session, not globally: two sessions can see the same WhatsApp id.
    whatsapp_message_id = Varchar(length=128)
    direction = enum_column(MessageDirection, MessageDirection.INBOUND)
    type = enum_column(MessageType, MessageType.TEXT)
    body = Text(null=True, default=None)
    media_url = Varchar(length=1024, null=True, default=None)
    media_mime_type = Varchar(length=128, null=True, default=None)
    metadata = JSONB(null=True, default=None)
    status = enum_column(MessageStatus, MessageStatus.PENDING)
    ack_status = Integer(null=True, default=None)
    timestamp = Timestamptz()
    created_at = created_at()
    is_ai_generated = Boolean(default=False)
    ai_provider = Varchar(length=40, null=True, default=None)
    ai_model = Varchar(length=120, null=True, default=None)
    ai_prompt_tokens = Integer(null=True, default=None)
    ai_completion_tokens = Integer(null=True, default=None)
    # Outbound only: a caller-chosen key, unique per organization, so a retried API call
    # or job never creates or sends a second message.
    idempotency_key = Varchar(length=128, null=True, default=None)
    # Set when a sender takes the message; never cleared by a crash, so an interrupted
    # send is not repeated (at most once beats twice on WhatsApp).
    claimed_at = Timestamptz(null=True, default=None)
    # Which process claimed it (host:pid, as its role heartbeat names it): a claim whose
    # process stopped beating was interrupted by a crash (wacc.messages.outbound).
    claimed_by = Varchar(length=200, null=True, default=None)
    error = Text(null=True, default=None)


class EarlyUpdate(Table, tablename="early_update"):
    """An ack, edit, revoke or reaction that arrived before the message it is about
    (wacc.messages.early): WhatsApp and Meta do not promise order. Kept for a day at most
    and applied when the message is stored or its send is recorded."""

    id = id_column()
    session = ForeignKey(WhatsAppSession, on_delete=OnDelete.cascade, null=False)
    # The WhatsApp id of the message the update is about.
    whatsapp_message_id = Varchar(length=128)
    # The engine event as it arrived (wacc.engines.contract, msgspec JSON).
    event = Text()
    created_at = created_at()


INDEXES = [
    Index(EarlyUpdate, "session", "whatsapp_message_id"),
    Index(EarlyUpdate, "created_at"),
    Index(Message, "organization", "idempotency_key", unique=True),
    Index(Message, "session", "whatsapp_message_id", unique=True),
    Index(Message, "conversation", "timestamp"),
    Index(Message, "session", "timestamp"),
    Index(Message, "organization", "timestamp"),
]
