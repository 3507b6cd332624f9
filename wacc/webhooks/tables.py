from __future__ import annotations

from enum import StrEnum

from piccolo.columns import (
    JSONB,
    Array,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from wacc.db.columns import EncryptedText, Index, created_at, enum_column, id_column, org_fk
from wacc.orgs.tables import Organization


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    RETRYING = "RETRYING"


class Webhook(Table, tablename="webhook"):
    id = id_column()
    organization = org_fk(Organization)
    name = Varchar(length=120)
    url = Varchar(length=2048)
    events = Array(base_column=Varchar(length=64), default=[])
    secret = EncryptedText(null=True, default=None)
    enabled = Boolean(default=True)
    retry_config = JSONB(null=True, default=None)
    created_at = created_at()


class WebhookDelivery(Table, tablename="webhook_delivery"):
    id = id_column()
    webhook = ForeignKey(Webhook, on_delete=OnDelete.cascade, null=False)
    event = Varchar(length=64)
    payload = JSONB(default={})
    response = JSONB(null=True, default=None)
    status_code = Integer(null=True, default=None)
    attempts = Integer(default=0)
    status = enum_column(DeliveryStatus, DeliveryStatus.PENDING)
    created_at = created_at()
    delivered_at = Timestamptz(null=True, default=None)


INDEXES = [
    Index(Webhook, "organization"),
    Index(WebhookDelivery, "webhook", "status", "created_at"),
]
