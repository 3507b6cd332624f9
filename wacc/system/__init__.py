"""The appliance itself: role heartbeats and health."""
