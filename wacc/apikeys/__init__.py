"""API keys for programmatic access."""
