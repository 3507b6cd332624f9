"""Security infrastructure: roles and permissions, passwords, tokens, crypto, limits."""
