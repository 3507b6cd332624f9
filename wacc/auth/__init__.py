"""Authentication: register, login, tokens, two-factor."""
