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


# -- runtimes and a second organization (auth, team, API key and audit suites) -------


def runtime_of(server: Any) -> Any:
    """The running app's Runtime (settings, keyring, limiter, mailer)."""
    return server.app.state["runtime"]


def with_settings(rt: Any, **sections: dict[str, Any]) -> Any:
    """A copy of Runtime *rt* with some settings changed, e.g. ``auth={"open_signup": True}``.

    The mailer is rebuilt, so ``smtp={...}`` takes effect; the limiter is shared."""
    import dataclasses

    from wacc.mail import Mailer

    settings = rt.settings
    for name, changes in sections.items():
        section = dataclasses.replace(getattr(settings, name), **changes)
        settings = dataclasses.replace(settings, **{name: section})
    return dataclasses.replace(rt, settings=settings, mailer=Mailer(settings.smtp))


async def register_other_org(
    server: Any, email: str = "gary@globex.example", org: str = "Globex",
    name: str = "Gary Other",
) -> dict[str, Any]:
    """A second organization, made the way open sign-up makes one; returns the same
    camelCase JSON as POST /auth/register."""
    import msgspec

    from wacc.auth import services as auth
    from wacc.auth.schemas import RegisterIn

    rt = with_settings(runtime_of(server), auth={"open_signup": True})
    data = RegisterIn(organization_name=org, name=name, email=email, password=PASSWORD)
    tokens = await auth.register(rt, data, auth.Client(ip="127.0.0.1"))
    return msgspec.to_builtins(tokens)
