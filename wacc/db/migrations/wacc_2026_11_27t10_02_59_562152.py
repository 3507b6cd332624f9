"""Multi-column indexes and unique constraints (see wacc.db.columns.Index).

Written out as DDL so this migration never changes when the code does; a later
index gets a migration of its own (python -m wacc.devtools index-migration).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T10:02:59:562152"
VERSION = "1.38.0"
DESCRIPTION = "multi-column indexes"

STATEMENTS = [
    'CREATE INDEX IF NOT EXISTS "ix_app_user_organization" ON "app_user" ("organization")',
    'CREATE INDEX IF NOT EXISTS "ix_invite_organization_email" ON "invite" ("organization", "email")',
    'CREATE INDEX IF NOT EXISTS "ix_refresh_token_user_revoked_at" ON "refresh_token" ("user", "revoked_at")',
    'CREATE INDEX IF NOT EXISTS "ix_api_key_organization" ON "api_key" ("organization")',
    'CREATE INDEX IF NOT EXISTS "ix_activity_log_organization_timestamp" ON "activity_log" ("organization", "timestamp")',
    'CREATE INDEX IF NOT EXISTS "ix_activity_log_user_timestamp" ON "activity_log" ("user", "timestamp")',
    'CREATE INDEX IF NOT EXISTS "ix_whatsapp_session_organization" ON "whatsapp_session" ("organization")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ux_tag_organization_name" ON "tag" ("organization", "name")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ux_contact_organization_whatsapp_id" ON "contact" ("organization", "whatsapp_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ux_contact_tag_contact_tag" ON "contact_tag" ("contact", "tag")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ux_custom_field_organization_key" ON "custom_field" ("organization", "key")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ux_contact_segment_contact_segment" ON "contact_segment" ("contact", "segment")',
    'CREATE INDEX IF NOT EXISTS "ix_contact_organization_phone_number" ON "contact" ("organization", "phone_number")',
    'CREATE INDEX IF NOT EXISTS "ix_segment_organization" ON "segment" ("organization")',
    'CREATE INDEX IF NOT EXISTS "ix_contact_tag_tag" ON "contact_tag" ("tag")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ux_conversation_assignment_conversation_user" ON "conversation_assignment" ("conversation", "user")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ux_conversation_tag_conversation_tag" ON "conversation_tag" ("conversation", "tag")',
    'CREATE INDEX IF NOT EXISTS "ix_conversation_organization_status_last_message_at" ON "conversation" ("organization", "status", "last_message_at")',
    'CREATE INDEX IF NOT EXISTS "ix_conversation_session_contact" ON "conversation" ("session", "contact")',
    'CREATE INDEX IF NOT EXISTS "ix_note_conversation_created_at" ON "note" ("conversation", "created_at")',
    'CREATE INDEX IF NOT EXISTS "ix_conversation_assignment_user" ON "conversation_assignment" ("user")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ux_message_session_whatsapp_message_id" ON "message" ("session", "whatsapp_message_id")',
    'CREATE INDEX IF NOT EXISTS "ix_message_conversation_timestamp" ON "message" ("conversation", "timestamp")',
    'CREATE INDEX IF NOT EXISTS "ix_message_session_timestamp" ON "message" ("session", "timestamp")',
    'CREATE INDEX IF NOT EXISTS "ix_message_organization_timestamp" ON "message" ("organization", "timestamp")',
    'CREATE INDEX IF NOT EXISTS "ix_automation_organization_enabled" ON "automation" ("organization", "enabled")',
    'CREATE INDEX IF NOT EXISTS "ix_automation_execution_automation_started_at" ON "automation_execution" ("automation", "started_at")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ux_ai_provider_organization_provider" ON "ai_provider" ("organization", "provider")',
    'CREATE INDEX IF NOT EXISTS "ix_ai_knowledge_base_organization_category" ON "ai_knowledge_base" ("organization", "category")',
    'CREATE INDEX IF NOT EXISTS "ix_broadcast_organization_status_scheduled_for" ON "broadcast" ("organization", "status", "scheduled_for")',
    'CREATE INDEX IF NOT EXISTS "ix_broadcast_recipient_broadcast_status" ON "broadcast_recipient" ("broadcast", "status")',
    'CREATE INDEX IF NOT EXISTS "ix_webhook_organization" ON "webhook" ("organization")',
    'CREATE INDEX IF NOT EXISTS "ix_webhook_delivery_webhook_status_created_at" ON "webhook_delivery" ("webhook", "status", "created_at")',
    'CREATE INDEX IF NOT EXISTS "ix_analytics_event_organization_event_type_timestamp" ON "analytics_event" ("organization", "event_type", "timestamp")',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="wacc", description=DESCRIPTION)

    async def create_indexes():
        from piccolo.apps.migrations.tables import Migration

        for statement in STATEMENTS:
            await Migration._meta.db.run_ddl(statement)

    manager.add_raw(create_indexes)
    return manager
