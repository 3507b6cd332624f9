"""Multi-column indexes and unique constraints (see wacc.db.columns.Index).

Written out as DDL so this migration never changes when the code does; a later
index gets a migration of its own (python -m wacc.devtools index-migration).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T18:55:35:125854"
VERSION = "1.38.0"
DESCRIPTION = "multi-column indexes"

STATEMENTS = [
    'CREATE INDEX IF NOT EXISTS "ix_early_update_session_whatsapp_message_id" ON "early_update" ("session", "whatsapp_message_id")',
    'CREATE INDEX IF NOT EXISTS "ix_early_update_created_at" ON "early_update" ("created_at")',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="wacc", description=DESCRIPTION)

    async def create_indexes():
        from piccolo.apps.migrations.tables import Migration

        for statement in STATEMENTS:
            await Migration._meta.db.run_ddl(statement)

    manager.add_raw(create_indexes)
    return manager
