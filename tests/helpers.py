"""Small helpers for talking to the API like a client would."""

from __future__ import annotations

import re
from typing import Any

import httpx

API = "/api/v1"
PASSWORD = "correct horse battery"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The seed's error format, with the expected status and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details", "requestId", "timestamp"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    assert error["requestId"] == response.headers["x-request-id"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", error["timestamp"])
    assert "Traceback" not in response.text
    return error


async def register(
    client: httpx.AsyncClient, email: str = "owner@example.com", org: str = "Acme",
    name: str = "Olivia Owner", password: str = PASSWORD,
) -> dict[str, Any]:
    r = await client.post(f"{API}/auth/register", json={
        "organizationName": org, "name": name, "email": email, "password": password,
    })
    assert r.status_code == 201, r.text
    return r.json()


async def login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> dict[str, Any]:
    r = await client.post(f"{API}/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


async def add_member(
    client: httpx.AsyncClient, admin_token: str, org_id: str, role: str,
    email: str | None = None,
) -> dict[str, Any]:
    """Invite a teammate with *role*, accept the invite, and sign them in."""
    email = email or f"{role.lower()}@example.com"
    r = await client.post(
        f"{API}/organizations/{org_id}/users", headers=bearer(admin_token),
        json={"email": email, "name": f"{role.title()} Person", "role": role},
    )
    assert r.status_code == 201, r.text
    token = r.json()["inviteUrl"].rsplit("/", 1)[1]
    r = await client.post(f"{API}/auth/invites/accept", json={"token": token, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return await login(client, email)
