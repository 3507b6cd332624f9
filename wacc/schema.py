"""Composition root for the data model: every feature's tables, in one Piccolo app.

Tables live in their feature packages; they share one migration history (in
wacc/db/migrations) because they reference each other (everything belongs to an
Organization), and one history keeps SQLite and PostgreSQL in step.
"""

from __future__ import annotations

from pathlib import Path

from piccolo.conf.apps import AppConfig
from piccolo.table import Table

from wacc.ai import tables as ai
from wacc.analytics import tables as analytics
from wacc.apikeys import tables as apikeys
from wacc.audit import tables as audit
from wacc.auth import tables as auth
from wacc.automations import tables as automations
from wacc.broadcasts import tables as broadcasts
from wacc.bus import tables as bus
from wacc.canned import tables as canned
from wacc.contacts import tables as contacts
from wacc.conversations import tables as conversations
from wacc.customfields import tables as customfields
from wacc.db.columns import Index
from wacc.messages import tables as messages
from wacc.orgs import tables as orgs
from wacc.outbox import tables as outbox
from wacc.segments import tables as segments
from wacc.sessions import tables as sessions
from wacc.system import tables as system
from wacc.tags import tables as tags
from wacc.users import tables as users
from wacc.webhooks import tables as webhooks

_MODULES = [
    orgs, users, auth, apikeys, audit, sessions, tags, canned, customfields, contacts, segments,
    conversations, messages, automations, ai, broadcasts, webhooks,
    analytics, system, bus, outbox,
]

ALL_TABLES: list[type[Table]] = [
    value
    for module in _MODULES
    for value in vars(module).values()
    if isinstance(value, type) and issubclass(value, Table) and value is not Table
    and value.__module__ == module.__name__
]

ALL_INDEXES: list[Index] = [index for module in _MODULES for index in getattr(module, "INDEXES", [])]

MIGRATIONS_DIR = Path(__file__).parent / "db" / "migrations"

APP_CONFIG = AppConfig(
    app_name="wacc",
    migrations_folder_path=str(MIGRATIONS_DIR),
    table_classes=ALL_TABLES,
    migration_dependencies=[],
    commands=[],
)
