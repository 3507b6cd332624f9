"""Helpers for the cloud tests that run the whole of wacc (API, `wa` manager, pipeline,
database) against the fake Graph API: a connected cloud session and signed posts."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.fakes.graph_api import TOKEN, FakeGraphAPI, signature
from tests.helpers import API
from tests.support.polling import until

APP_SECRET = "app-secret-for-tests"
VERIFY = "verify-me"


async def cloud_session(client: httpx.AsyncClient, owner: dict[str, str], graph: FakeGraphAPI,
                        name: str = "Cloud line", app_secret: str = APP_SECRET) -> str:
    """A cloud session on *graph*'s number, connected (the `wa` manager must run)."""
    r = await client.post(f"{API}/whatsapp/sessions", headers=owner, json={
        "name": name, "engine": "cloud",
        "settings": {"base_url": graph.url, "phone_number_id": graph.phone_number_id},
        "credentials": {"access_token": TOKEN, "app_secret": app_secret, "verify_token": VERIFY},
    })
    assert r.status_code == 201, r.text
    sid = str(r.json()["id"])

    async def connected() -> bool:
        s = (await client.get(f"{API}/whatsapp/sessions/{sid}", headers=owner)).json()
        return bool(s["status"] == "CONNECTED")

    await until(connected)
    return sid


def signed(body: dict[str, Any] | bytes, app_secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    """Meta's bytes for *body* and the headers Meta sends with them."""
    raw = body if isinstance(body, bytes) else json.dumps(
        body, separators=(",", ":"), ensure_ascii=True).encode()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": signature(raw, app_secret)}


def now_ts(body: dict[str, Any]) -> dict[str, Any]:
    """The body with its messages written now (the fixtures are from 2023): the reply
    window is open, as after any fresh customer message."""
    for entry in body["entry"]:
        for change in entry["changes"]:
            for message in change["value"].get("messages", []):
                message["timestamp"] = str(int(time.time()))
    return body
