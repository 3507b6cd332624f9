"""Live updates over a WebSocket: events, typing and presence."""
