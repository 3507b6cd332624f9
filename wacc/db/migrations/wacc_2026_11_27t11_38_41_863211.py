"""Multi-column indexes and unique constraints (see wacc.db.columns.Index).

Written out as DDL so this migration never changes when the code does; a later
index gets a migration of its own (python -m wacc.devtools index-migration).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T11:38:41:863211"
VERSION = "1.38.0"
DESCRIPTION = "multi-column indexes"

STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS "ux_canned_response_organization_shortcut" ON "canned_response" ("organization", "shortcut")',
    'CREATE INDEX IF NOT EXISTS "ix_conversation_event_conversation_created_at" ON "conversation_event" ("conversation", "created_at")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ux_conversation_read_conversation_user" ON "conversation_read" ("conversation", "user")',
    'CREATE INDEX IF NOT EXISTS "ix_conversation_organization_snoozed_until" ON "conversation" ("organization", "snoozed_until")',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="wacc", description=DESCRIPTION)

    async def create_indexes():
        from piccolo.apps.migrations.tables import Migration

        for statement in STATEMENTS:
            await Migration._meta.db.run_ddl(statement)

    manager.add_raw(create_indexes)
    return manager
