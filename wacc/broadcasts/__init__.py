"""broadcasts."""
