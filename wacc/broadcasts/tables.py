from __future__ import annotations

from enum import StrEnum

from piccolo.columns import JSONB, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from wacc.contacts.tables import Contact
from wacc.db.columns import Index, created_at, enum_column, id_column, org_fk
from wacc.orgs.tables import Organization
from wacc.segments.tables import Segment


class BroadcastStatus(StrEnum):
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class RecipientStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    READ = "READ"
    FAILED = "FAILED"


class Broadcast(Table, tablename="broadcast"):
    id = id_column()
    organization = org_fk(Organization)
    name = Varchar(length=120)
    message = Text()
    media_url = Varchar(length=1024, null=True, default=None)
    segment = ForeignKey(Segment, on_delete=OnDelete.set_null, null=True)
    scheduled_for = Timestamptz(null=True, default=None)
    status = enum_column(BroadcastStatus, BroadcastStatus.DRAFT)
    stats = JSONB(null=True, default=None)
    created_at = created_at()
    sent_at = Timestamptz(null=True, default=None)


class BroadcastRecipient(Table, tablename="broadcast_recipient"):
    id = id_column()
    broadcast = ForeignKey(Broadcast, on_delete=OnDelete.cascade, null=False)
    contact = ForeignKey(Contact, on_delete=OnDelete.cascade, null=False)
    status = enum_column(RecipientStatus, RecipientStatus.PENDING)
    sent_at = Timestamptz(null=True, default=None)
    delivered_at = Timestamptz(null=True, default=None)
    read_at = Timestamptz(null=True, default=None)
    error = Text(null=True, default=None)


INDEXES = [
    Index(Broadcast, "organization", "status", "scheduled_for"),
    Index(BroadcastRecipient, "broadcast", "status"),
]
