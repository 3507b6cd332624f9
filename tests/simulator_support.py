"""Driving a simulator session over the real API (groups, history and resume tests)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import API
from tests.support import polling


async def until(check: Any, timeout: float = 15.0, interval: float = 0.05) -> Any:
    """tests.support.polling.until with more time (simulator sessions pair first)."""
    return await polling.until(check, timeout, interval)

async def session_in(client: httpx.AsyncClient, head: dict[str, str], sid: str,
                     status: str) -> dict[str, Any]:
    async def reached() -> Any:
        s = (await client.get(f"{API}/whatsapp/sessions/{sid}", headers=head)).json()
        return s["status"] == status and s

    result: dict[str, Any] = await until(reached)
    return result


async def new_session(client: httpx.AsyncClient, head: dict[str, str], **extra: Any) -> str:
    """A simulator session showing its QR code (not scanned yet)."""
    r = await client.post(f"{API}/whatsapp/sessions", headers=head,
                          json={"name": "Front desk", "engine": "simulator", **extra})
    assert r.status_code == 201, r.text
    sid: str = r.json()["id"]
    await session_in(client, head, sid, "QR_READY")
    return sid


async def simulate(client: httpx.AsyncClient, head: dict[str, str], sid: str, action: str,
                   **payload: Any) -> Any:
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/simulator", headers=head,
                          json={"action": action, "payload": payload})
    assert r.status_code == 200, r.text
    return r.json()


async def connected_session(client: httpx.AsyncClient, head: dict[str, str], **extra: Any) -> str:
    sid = await new_session(client, head, **extra)
    await simulate(client, head, sid, "scan")
    await session_in(client, head, sid, "CONNECTED")
    return sid


async def org_id(client: httpx.AsyncClient, head: dict[str, str]) -> str:
    r = await client.get(f"{API}/organizations", headers=head)
    assert r.status_code == 200, r.text
    return str(r.json()[0]["id"])


async def set_org_settings(client: httpx.AsyncClient, head: dict[str, str], **settings: Any) -> Any:
    oid = await org_id(client, head)
    r = await client.patch(f"{API}/organizations/{oid}", headers=head, json={"settings": settings})
    assert r.status_code == 200, r.text
    return r.json()
