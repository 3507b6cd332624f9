from __future__ import annotations

from enum import StrEnum

from piccolo.columns import JSONB, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from wacc.contacts.tables import Contact
from wacc.db.columns import Index, created_at, enum_column, id_column, org_fk, updated_at
from wacc.orgs.tables import Organization
from wacc.sessions.tables import WhatsAppSession
from wacc.tags.tables import Tag
from wacc.users.tables import User


class ConversationStatus(StrEnum):
    OPEN = "OPEN"
    PENDING = "PENDING"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"
    SPAM = "SPAM"


class Priority(StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"


class Conversation(Table, tablename="conversation"):
    id = id_column()
    organization = org_fk(Organization)
    session = ForeignKey(WhatsAppSession, on_delete=OnDelete.cascade, null=False)
    contact = ForeignKey(Contact, on_delete=OnDelete.cascade, null=False)
    status = enum_column(ConversationStatus, ConversationStatus.OPEN)
    priority = enum_column(Priority, Priority.NORMAL)
    channel = Varchar(length=32, default="whatsapp")
    last_message_at = Timestamptz(default=TimestamptzNow())
    # Optimistic locking: an update names the version it read; a stale one gets 409.
    version = Integer(default=1)
    # Snoozed until then (the scheduler reopens it); null when not snoozed.
    snoozed_until = Timestamptz(null=True, default=None)
    created_at = created_at()
    updated_at = updated_at()


class ConversationAssignment(Table, tablename="conversation_assignment"):
    id = id_column()
    conversation = ForeignKey(Conversation, on_delete=OnDelete.cascade, null=False)
    user = ForeignKey(User, on_delete=OnDelete.cascade, null=False)
    assigned_at = created_at()
    assigned_by = Varchar(length=36, null=True, default=None)


class Note(Table, tablename="note"):
    id = id_column()
    conversation = ForeignKey(Conversation, on_delete=OnDelete.cascade, null=False)
    # A removed teammate's notes stay, unattributed.
    user = ForeignKey(User, on_delete=OnDelete.set_null, null=True)
    content = Text()
    # Ids of the teammates @mentioned (they get a notification).
    mentions = JSONB(default=[])
    created_at = created_at()
    updated_at = updated_at()


class ConversationEvent(Table, tablename="conversation_event"):
    """The conversation's history: status and priority changes, assignments, snoozes."""

    id = id_column()
    conversation = ForeignKey(Conversation, on_delete=OnDelete.cascade, null=False)
    user = ForeignKey(User, on_delete=OnDelete.set_null, null=True)
    kind = Varchar(length=32)  # status | priority | assigned | unassigned | snoozed | …
    from_value = Varchar(length=64, null=True, default=None)
    to_value = Varchar(length=64, null=True, default=None)
    created_at = created_at()


class ConversationRead(Table, tablename="conversation_read"):
    """How far each agent has read a conversation (for unread counts per agent)."""

    id = id_column()
    conversation = ForeignKey(Conversation, on_delete=OnDelete.cascade, null=False)
    user = ForeignKey(User, on_delete=OnDelete.cascade, null=False)
    last_read_at = Timestamptz()


class ConversationTag(Table, tablename="conversation_tag"):
    id = id_column()
    conversation = ForeignKey(Conversation, on_delete=OnDelete.cascade, null=False)
    tag = ForeignKey(Tag, on_delete=OnDelete.cascade, null=False)


INDEXES = [
    Index(ConversationEvent, "conversation", "created_at"),
    Index(ConversationRead, "conversation", "user", unique=True),
    Index(Conversation, "organization", "snoozed_until"),
    Index(ConversationAssignment, "conversation", "user", unique=True),
    Index(ConversationTag, "conversation", "tag", unique=True),
    Index(Conversation, "organization", "status", "last_message_at"),
    Index(Conversation, "session", "contact"),
    Index(Note, "conversation", "created_at"),
    Index(ConversationAssignment, "user"),
    # The inbox's order (newest activity first, id as tie-break) for every view that
    # has no status filter: without it each page sorts all of an organization's threads.
    Index(Conversation, "organization", "last_message_at", "id"),
]
