from __future__ import annotations

from enum import StrEnum

from piccolo.columns import JSONB, Boolean, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from wacc.db.columns import Index, created_at, enum_column, id_column, org_fk, updated_at
from wacc.orgs.tables import Organization
from wacc.tags.tables import Tag
from wacc.users.tables import User


class Contact(Table, tablename="contact"):
    id = id_column()
    organization = org_fk(Organization)
    whatsapp_id = Varchar(length=64)
    # WhatsApp's hidden id for this person ("…@lid"), once known.
    lid = Varchar(length=64, null=True, default=None)
    name = Varchar(length=255, null=True, default=None)
    phone_number = Varchar(length=32)
    email = Varchar(length=254, null=True, default=None)
    profile_pic_url = Varchar(length=1024, null=True, default=None)
    is_blocked = Boolean(default=False)
    language = Varchar(length=16, null=True, default=None)
    timezone = Varchar(length=64, null=True, default=None)
    custom_fields = JSONB(default={})
    created_at = created_at()
    updated_at = updated_at()
    last_message_at = Timestamptz(null=True, default=None)


class ContactTag(Table, tablename="contact_tag"):
    id = id_column()
    contact = ForeignKey(Contact, on_delete=OnDelete.cascade, null=False)
    tag = ForeignKey(Tag, on_delete=OnDelete.cascade, null=False)


class ImportStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


class ContactImport(Table, tablename="contact_import"):
    """A CSV import: the uploaded file lives in the media store, a worker job reads it
    in a stream and records its progress here; rejected rows go to an error report."""

    id = id_column()
    organization = org_fk(Organization)
    user = ForeignKey(User, on_delete=OnDelete.set_null, null=True, default=None)
    status = enum_column(ImportStatus, ImportStatus.PENDING)
    filename = Varchar(length=255)
    file_key = Varchar(length=255)
    size = Integer(default=0)
    mapping = JSONB(default={})
    on_duplicate = Varchar(length=16, default="skip")
    default_region = Varchar(length=8, null=True, default=None)
    processed = Integer(default=0)
    created = Integer(default=0)
    updated = Integer(default=0)
    skipped = Integer(default=0)
    failed = Integer(default=0)
    # The first rejected rows, for the UI; the full report is a CSV in the media store.
    errors = JSONB(default=[])
    report_key = Varchar(length=255, null=True, default=None)
    error = Text(null=True, default=None)
    created_at = created_at()
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)


INDEXES = [
    Index(Contact, "organization", "lid"),
    Index(Contact, "organization", "whatsapp_id", unique=True),
    Index(ContactTag, "contact", "tag", unique=True),
    Index(Contact, "organization", "phone_number"),
    Index(ContactTag, "tag"),
    Index(ContactImport, "organization", "created_at"),
]
