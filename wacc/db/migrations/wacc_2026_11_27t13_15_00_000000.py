"""Full-text search over knowledge-base passages (wacc.ai.knowledge, docs/ai.md).

Hand-written like the message and contact search migration, and for the same reasons:
the engines index text differently and Piccolo's table diff sees neither index.

- PostgreSQL: a GIN expression index on ``to_tsvector('wacc_search', ...)`` of the
  passage, the configuration the full-text-search migration created (simple + unaccent
  when available). Queries repeat the expression exactly (wacc.ai.knowledge).
- SQLite: an FTS5 table with external content, kept in step by triggers; 'rebuild'
  indexes the passages that already exist.

The SQL is written out here, not imported, so this migration never changes with the code.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T13:15:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "knowledge-base full-text search"

POSTGRES = [
    """CREATE INDEX IF NOT EXISTS "ix_ai_knowledge_chunk_content_fts" ON "ai_knowledge_chunk"
        USING GIN (to_tsvector('wacc_search',
                               regexp_replace(coalesce("content", ''), '[[:punct:]]+', ' ', 'g')))""",
]

POSTGRES_BACKWARDS = [
    'DROP INDEX IF EXISTS "ix_ai_knowledge_chunk_content_fts"',
]

SQLITE = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS "ai_knowledge_chunk_fts" USING fts5(
        content, content='ai_knowledge_chunk', content_rowid='rowid',
        tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER IF NOT EXISTS "ai_knowledge_chunk_fts_insert" AFTER INSERT ON "ai_knowledge_chunk"
    BEGIN
        INSERT INTO ai_knowledge_chunk_fts(rowid, content) VALUES (new.rowid, new.content);
    END""",
    """CREATE TRIGGER IF NOT EXISTS "ai_knowledge_chunk_fts_delete" AFTER DELETE ON "ai_knowledge_chunk"
    BEGIN
        INSERT INTO ai_knowledge_chunk_fts(ai_knowledge_chunk_fts, rowid, content)
            VALUES ('delete', old.rowid, old.content);
    END""",
    """CREATE TRIGGER IF NOT EXISTS "ai_knowledge_chunk_fts_update"
    AFTER UPDATE OF content ON "ai_knowledge_chunk" BEGIN
        INSERT INTO ai_knowledge_chunk_fts(ai_knowledge_chunk_fts, rowid, content)
            VALUES ('delete', old.rowid, old.content);
        INSERT INTO ai_knowledge_chunk_fts(rowid, content) VALUES (new.rowid, new.content);
    END""",
    "INSERT INTO ai_knowledge_chunk_fts(ai_knowledge_chunk_fts) VALUES ('rebuild')",
]

SQLITE_BACKWARDS = [
    'DROP TRIGGER IF EXISTS "ai_knowledge_chunk_fts_insert"',
    'DROP TRIGGER IF EXISTS "ai_knowledge_chunk_fts_delete"',
    'DROP TRIGGER IF EXISTS "ai_knowledge_chunk_fts_update"',
    'DROP TABLE IF EXISTS "ai_knowledge_chunk_fts"',
]


async def _run(sqlite: list[str], postgres: list[str]) -> None:
    from piccolo.apps.migrations.tables import Migration

    engine = Migration._meta.db
    for statement in sqlite if engine.engine_type == "sqlite" else postgres:
        await engine.run_ddl(statement)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="wacc", description=DESCRIPTION)

    async def create():
        await _run(SQLITE, POSTGRES)

    async def drop():
        await _run(SQLITE_BACKWARDS, POSTGRES_BACKWARDS)

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
