"""Database infrastructure: engines, columns shared by all tables, migrations."""
