"""Helpers for HTTP-level tests of the web UI: sign in with the cookie like a browser."""

from __future__ import annotations

import re

import httpx

_CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


async def ui_login(client: httpx.AsyncClient, email: str, password: str) -> str:
    """Sign *client* in through /ui/login (it keeps the cookie); returns the CSRF token
    a page would carry, for the X-CSRF-Token header of writes."""
    response = await client.post("/ui/login", json={"email": email, "password": password},
                                 headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    page = await client.get("/profile")
    match = _CSRF.search(page.text)
    assert match, f"no CSRF token on the page ({page.status_code})"
    return match.group(1)


async def browse_as(client: httpx.AsyncClient, email: str, password: str) -> str:
    """ui_login, then ask for pages as a browser does (Accept: text/html)."""
    token = await ui_login(client, email, password)
    client.headers["Accept"] = "text/html"
    return token


def csrf_headers(token: str) -> dict[str, str]:
    return {"X-CSRF-Token": token, "Accept": "application/json"}
