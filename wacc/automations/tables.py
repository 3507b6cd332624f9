from __future__ import annotations

from enum import StrEnum

from piccolo.columns import JSONB, Boolean, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
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
    # The inbound-webhook trigger's secret, hashed (the URL carries it once, at creation).
    webhook_token_hash = Varchar(length=128, null=True, default=None)
    version = Integer(default=1)
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
    organization = ForeignKey(Organization, on_delete=OnDelete.cascade, null=True,
                              default=None)
    trigger = Varchar(length=64, default="")
    # What started the run (the message, conversation or payload), and a key that is
    # unique per automation so one event never starts the same automation twice.
    event = JSONB(null=True, default=None)
    event_key = Varchar(length=200, null=True, default=None)
    # Where a run resumes, and the variables it carries. A RUNNING run with a
    # ``resume_at`` is paused by a "wait" step until then.
    step = Integer(default=0)
    state = JSONB(null=True, default=None)
    resume_at = Timestamptz(null=True, default=None)
    depth = Integer(default=0)


INDEXES = [
    Index(Automation, "organization", "enabled"),
    Index(AutomationExecution, "automation", "started_at"),
    Index(AutomationExecution, "automation", "event_key", unique=True),
    Index(AutomationExecution, "status", "resume_at"),
    Index(Automation, "webhook_token_hash"),
]
