"""The bundled web UI: Jinja2 pages rendered on the server, live over the WebSocket.

Pages read through the features' services as the signed-in user; every change a page
makes goes through the public JSON API (/api/v1) with the session cookie and the CSRF
header, so the UI has exactly the validation, permissions and audit trail of the API.
See docs/ui.md.
"""
