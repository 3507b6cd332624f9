"""Multi-column indexes and unique constraints (see wacc.db.columns.Index).

Written out as DDL so this migration never changes when the code does; a later
index gets a migration of its own (python -m wacc.devtools index-migration).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T13:02:04:587102"
VERSION = "1.38.0"
DESCRIPTION = "multi-column indexes"

STATEMENTS = [
    # Providers are now told apart by name (an organization may have two of one type).
    'DROP INDEX IF EXISTS "ux_ai_provider_organization_provider"',
    'UPDATE "ai_provider" SET "name" = LOWER("provider") || \'-\' || "id" WHERE "name" = \'\'',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ux_automation_execution_automation_event_key" ON "automation_execution" ("automation", "event_key")',
    'CREATE INDEX IF NOT EXISTS "ix_automation_execution_status_resume_at" ON "automation_execution" ("status", "resume_at")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ux_ai_provider_organization_name" ON "ai_provider" ("organization", "name")',
    'CREATE INDEX IF NOT EXISTS "ix_ai_provider_organization_priority" ON "ai_provider" ("organization", "priority")',
    'CREATE INDEX IF NOT EXISTS "ix_ai_knowledge_chunk_article_ordinal" ON "ai_knowledge_chunk" ("article", "ordinal")',
    'CREATE INDEX IF NOT EXISTS "ix_ai_knowledge_chunk_organization" ON "ai_knowledge_chunk" ("organization")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ux_ai_responder_session" ON "ai_responder" ("session")',
    'CREATE INDEX IF NOT EXISTS "ix_ai_usage_organization_created_at" ON "ai_usage" ("organization", "created_at")',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="wacc", description=DESCRIPTION)

    async def create_indexes():
        from piccolo.apps.migrations.tables import Migration

        for statement in STATEMENTS:
            await Migration._meta.db.run_ddl(statement)

    manager.add_raw(create_indexes)
    return manager
