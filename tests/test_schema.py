"""The data model: every seed model and enum, migrations in step with the tables,
declared indexes present, unique constraints enforced, SQLite in WAL mode."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.support.env import backend
from wacc.db import migrations
from wacc.db.engine import bound_engine, is_sqlite
from wacc.schema import ALL_INDEXES, ALL_TABLES, APP_CONFIG

SEED_MODELS = {
    "User", "Organization", "WhatsAppSession", "Contact", "Conversation", "Message",
    "ConversationAssignment", "Note", "Tag", "ContactTag", "ConversationTag", "CustomField",
    "Segment", "ContactSegment", "Automation", "AutomationExecution", "AiProvider",
    "AiKnowledgeBase", "Broadcast", "BroadcastRecipient", "Webhook", "WebhookDelivery",
    "AnalyticsEvent", "ApiKey", "ActivityLog",
}

SEED_ENUMS = {
    "wacc.security.roles.Role": ["OWNER", "ADMIN", "MANAGER", "AGENT", "VIEWER"],
    "wacc.orgs.tables.Plan": ["FREE", "STARTER", "PROFESSIONAL", "ENTERPRISE"],
    "wacc.sessions.tables.SessionStatus": ["CONNECTED", "DISCONNECTED", "QR_READY", "LOADING", "FAILED"],
    "wacc.conversations.tables.ConversationStatus": ["OPEN", "PENDING", "RESOLVED", "CLOSED", "SPAM"],
    "wacc.conversations.tables.Priority": ["LOW", "NORMAL", "HIGH", "URGENT"],
    "wacc.messages.tables.MessageDirection": ["INBOUND", "OUTBOUND"],
    "wacc.messages.tables.MessageType": ["TEXT", "IMAGE", "VIDEO", "AUDIO", "DOCUMENT", "STICKER",
                                         "LOCATION", "CONTACT", "POLL", "REACTION"],
    "wacc.messages.tables.MessageStatus": ["PENDING", "SENT", "DELIVERED", "READ", "FAILED"],
    "wacc.automations.tables.ExecutionStatus": ["RUNNING", "COMPLETED", "FAILED", "CANCELLED"],
    "wacc.ai.tables.AiProviderType": ["OPENAI", "ANTHROPIC", "GEMINI", "CUSTOM"],
    "wacc.broadcasts.tables.BroadcastStatus": ["DRAFT", "SCHEDULED", "SENDING", "SENT", "FAILED",
                                               "CANCELLED"],
    "wacc.broadcasts.tables.RecipientStatus": ["PENDING", "SENT", "DELIVERED", "READ", "FAILED"],
    "wacc.webhooks.tables.DeliveryStatus": ["PENDING", "SUCCESS", "FAILED", "RETRYING"],
    "wacc.customfields.tables.FieldType": ["TEXT", "NUMBER", "EMAIL", "PHONE", "DATE", "SELECT",
                                       "MULTISELECT", "URL"],
}

# Values wacc adds after the seed's own, each for a reason an issue gave.
ENUM_EXTENSIONS = {
    # WhatsApp sends types wacc cannot show; they are stored, never dropped or guessed.
    "wacc.messages.tables.MessageType": ["UNSUPPORTED"],
}


def test_every_seed_model_has_a_table():
    names = {t.__name__ for t in ALL_TABLES}
    assert names >= SEED_MODELS, SEED_MODELS - names


@pytest.mark.parametrize("path", sorted(SEED_ENUMS))
def test_seed_enums(path):
    import importlib

    module, name = path.rsplit(".", 1)
    enum = getattr(importlib.import_module(module), name)
    assert [e.value for e in enum] == SEED_ENUMS[path] + ENUM_EXTENSIONS.get(path, [])


async def test_migrations_match_the_tables():
    """Piccolo's auto-migration finds nothing to do: the committed migrations are current."""
    from piccolo.apps.migrations.commands.new import AutoMigrationManager

    os.environ.setdefault("PICCOLO_CONF", "wacc.piccolo_conf")
    statements = await AutoMigrationManager(auto_input="y").get_alter_statements(APP_CONFIG)
    pending = [s for alter in statements for s in alter.statements]
    assert pending == [], "run: PICCOLO_CONF=wacc.piccolo_conf piccolo migrations new wacc --auto"


def test_every_declared_index_is_in_a_migration():
    from wacc.devtools import migrated_index_statements

    missing = [i.name for i in ALL_INDEXES if i.ddl() not in migrated_index_statements()]
    assert not missing, f"run: python -m wacc.devtools index-migration ({missing})"


async def _index_names() -> set[str]:
    from wacc.system.tables import RoleHeartbeat

    if is_sqlite(bound_engine()):
        rows = await RoleHeartbeat.raw("SELECT name FROM sqlite_master WHERE type='index'")
    else:
        rows = await RoleHeartbeat.raw("SELECT indexname AS name FROM pg_indexes")
    return {r["name"] for r in rows}


async def test_declared_indexes_exist_in_the_database(client):
    names = await _index_names()
    missing = [i.name for i in ALL_INDEXES if i.name not in names]
    assert not missing


async def test_composite_unique_is_enforced(client):
    from tests.helpers import register
    from wacc.tags.tables import Tag

    owner = await register(client)
    org = owner["user"]["organizationId"]
    await Tag.insert(Tag(organization=org, name="vip"))
    with pytest.raises(Exception) as info:
        await Tag.insert(Tag(organization=org, name="vip"))
    assert "unique" in str(info.value).lower()
    assert await Tag.count().where(Tag.organization == org) == 1


async def test_sqlite_uses_wal(client):
    if backend() != "sqlite":
        pytest.skip("WAL is a SQLite setting; this run is on PostgreSQL")
    from wacc.system.tables import RoleHeartbeat

    rows = await RoleHeartbeat.raw("PRAGMA journal_mode")
    assert rows[0]["journal_mode"] == "wal"


def test_a_start_knows_when_nothing_is_left_to_migrate(server, database_url, tmp_path):
    """`wacc run` skips the migration process when the database has every shipped
    migration (wacc.db.pending), and runs it when one is missing."""
    from wacc.db.pending import committed_ids, pending_count

    shipped = committed_ids()
    assert len(shipped) == len(list(Path(migrations.__file__).parent.glob("wacc_*.py")))
    assert pending_count(database_url) == 0  # the suite's database is migrated
    assert pending_count(f"sqlite:///{tmp_path / 'new.db'}") == len(shipped)
    empty = tmp_path / "other.db"
    sqlite3.connect(empty).execute("CREATE TABLE migration (name TEXT, app_name TEXT)")
    assert pending_count(f"sqlite:///{empty}") == len(shipped)
