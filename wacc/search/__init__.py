"""Full-text search over messages and contacts, on PostgreSQL and SQLite alike."""
