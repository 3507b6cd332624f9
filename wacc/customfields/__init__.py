"""Custom field definitions for contacts, and validation of contacts' values."""
