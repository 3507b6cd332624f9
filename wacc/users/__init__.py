"""Team members and invites."""
