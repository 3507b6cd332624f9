"""Multi-column indexes and unique constraints (see wacc.db.columns.Index).

Written out as DDL so this migration never changes when the code does; a later
index gets a migration of its own (python -m wacc.devtools index-migration).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T14:25:45:406571"
VERSION = "1.38.0"
DESCRIPTION = "multi-column indexes"

STATEMENTS = [
    'CREATE INDEX IF NOT EXISTS "ix_conversation_organization_last_message_at_id" ON "conversation" ("organization", "last_message_at", "id")',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="wacc", description=DESCRIPTION)

    async def create_indexes():
        from piccolo.apps.migrations.tables import Migration

        for statement in STATEMENTS:
            await Migration._meta.db.run_ddl(statement)

    manager.add_raw(create_indexes)
    return manager
