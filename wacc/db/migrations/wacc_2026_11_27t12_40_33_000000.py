"""Full-text search over message bodies and contacts (see wacc.search and docs/search.md).

Hand-written, not generated: the two engines index text in different ways, and neither
is visible to Piccolo's table diff.

- PostgreSQL: GIN expression indexes on ``to_tsvector('wacc_search', ...)``. The
  ``wacc_search`` configuration is 'simple' (lower-casing, no stemming and no stop
  words: chats mix languages, and stemming for one language mangles the others) plus
  ``unaccent`` when that extension can be installed. ASCII punctuation becomes spaces
  before parsing, so an e-mail or URL is split into words as SQLite splits it. Queries
  must repeat these expressions exactly (wacc.search.query) for the indexes to be used.
- SQLite: FTS5 tables with external content (the text is not stored twice), kept in step
  by triggers; 'rebuild' indexes the rows that already exist.

The SQL is written out here, not imported, so this migration never changes with the code.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T12:40:33:000000"
VERSION = "1.38.0"
DESCRIPTION = "full-text search"

POSTGRES = [
    # Accent folding is a bonus: without the extension (or the right to install it),
    # search still works, accent-sensitively.
    """DO $$ BEGIN
        CREATE EXTENSION IF NOT EXISTS unaccent;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'unaccent unavailable: full-text search will be accent-sensitive';
    END $$""",
    """DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'wacc_search') THEN
            CREATE TEXT SEARCH CONFIGURATION wacc_search (COPY = simple);
            IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'unaccent') THEN
                ALTER TEXT SEARCH CONFIGURATION wacc_search
                    ALTER MAPPING FOR word, numword, hword, hword_part, hword_numpart, numhword
                    WITH unaccent, simple;
            END IF;
        END IF;
    END $$""",
    """CREATE INDEX IF NOT EXISTS "ix_message_body_fts" ON "message" USING GIN (
        to_tsvector('wacc_search', regexp_replace(coalesce("body", ''), '[[:punct:]]+', ' ', 'g')))""",
    """CREATE INDEX IF NOT EXISTS "ix_contact_name_email_fts" ON "contact" USING GIN (
        to_tsvector('wacc_search', regexp_replace(coalesce("name", '') || ' ' || coalesce("email", ''),
                                                  '[[:punct:]]+', ' ', 'g')))""",
]

POSTGRES_BACKWARDS = [
    'DROP INDEX IF EXISTS "ix_contact_name_email_fts"',
    'DROP INDEX IF EXISTS "ix_message_body_fts"',
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS wacc_search",
]

# remove_diacritics 2 folds accents on every Latin letter (1 misses some composed forms).
SQLITE = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS "message_fts" USING fts5(
        body, content='message', content_rowid='rowid',
        tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER IF NOT EXISTS "message_fts_insert" AFTER INSERT ON "message" BEGIN
        INSERT INTO message_fts(rowid, body) VALUES (new.rowid, new.body);
    END""",
    """CREATE TRIGGER IF NOT EXISTS "message_fts_delete" AFTER DELETE ON "message" BEGIN
        INSERT INTO message_fts(message_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
    END""",
    """CREATE TRIGGER IF NOT EXISTS "message_fts_update" AFTER UPDATE OF body ON "message" BEGIN
        INSERT INTO message_fts(message_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
        INSERT INTO message_fts(rowid, body) VALUES (new.rowid, new.body);
    END""",
    "INSERT INTO message_fts(message_fts) VALUES ('rebuild')",
    """CREATE VIRTUAL TABLE IF NOT EXISTS "contact_fts" USING fts5(
        name, email, content='contact', content_rowid='rowid',
        tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER IF NOT EXISTS "contact_fts_insert" AFTER INSERT ON "contact" BEGIN
        INSERT INTO contact_fts(rowid, name, email) VALUES (new.rowid, new.name, new.email);
    END""",
    """CREATE TRIGGER IF NOT EXISTS "contact_fts_delete" AFTER DELETE ON "contact" BEGIN
        INSERT INTO contact_fts(contact_fts, rowid, name, email)
            VALUES ('delete', old.rowid, old.name, old.email);
    END""",
    """CREATE TRIGGER IF NOT EXISTS "contact_fts_update" AFTER UPDATE OF name, email ON "contact"
    BEGIN
        INSERT INTO contact_fts(contact_fts, rowid, name, email)
            VALUES ('delete', old.rowid, old.name, old.email);
        INSERT INTO contact_fts(rowid, name, email) VALUES (new.rowid, new.name, new.email);
    END""",
    "INSERT INTO contact_fts(contact_fts) VALUES ('rebuild')",
]

SQLITE_BACKWARDS = [
    'DROP TRIGGER IF EXISTS "message_fts_insert"',
    'DROP TRIGGER IF EXISTS "message_fts_delete"',
    'DROP TRIGGER IF EXISTS "message_fts_update"',
    'DROP TABLE IF EXISTS "message_fts"',
    'DROP TRIGGER IF EXISTS "contact_fts_insert"',
    'DROP TRIGGER IF EXISTS "contact_fts_delete"',
    'DROP TRIGGER IF EXISTS "contact_fts_update"',
    'DROP TABLE IF EXISTS "contact_fts"',
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
