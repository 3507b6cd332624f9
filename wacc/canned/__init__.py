"""canned responses."""
