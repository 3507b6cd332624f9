from __future__ import annotations

from enum import StrEnum

from piccolo.columns import JSONB, Boolean, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from wacc.contacts.tables import Contact
from wacc.conversations.tables import Conversation
from wacc.db.columns import Index, created_at, enum_column, id_column, org_fk, updated_at
from wacc.orgs.tables import Organization


class ExecutionStatus(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class Automation(Table, tablename="automation"):
    id = id_column()
    organization = org_fk(Organization)
    name = Varchar(length=120)
    description = Text(null=True, default=None)
    enabled = Boolean(default=True)
    trigger = JSONB(default={})
    actions = JSONB(default=[])
    conditions = JSONB(null=True, default=None)
    stats = JSONB(null=True, default=None)
    created_at = created_at()
    updated_at = updated_at()


class AutomationExecution(Table, tablename="automation_execution"):
    id = id_column()
    automation = ForeignKey(Automation, on_delete=OnDelete.cascade, null=False)
    contact = ForeignKey(Contact, on_delete=OnDelete.set_null, null=True)
    conversation = ForeignKey(Conversation, on_delete=OnDelete.set_null, null=True)
    status = enum_column(ExecutionStatus, ExecutionStatus.RUNNING)
    started_at = created_at()
    completed_at = Timestamptz(null=True, default=None)
    error = Text(null=True, default=None)
    logs = JSONB(null=True, default=None)


INDEXES = [
    Index(Automation, "organization", "enabled"),
    Index(AutomationExecution, "automation", "started_at"),
]
