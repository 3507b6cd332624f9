"""Shared by the HTTP-level Cloud API tests: a connected cloud session on a fake Graph
API, and a customer's message posted to its webhook as Meta posts it."""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.graph_api import PHONE_NUMBER_ID, TOKEN, FakeGraphAPI, inbound
from tests.helpers import API, bearer, register
from tests.support import polling
from wacc.messages.tables import Message

APP_SECRET = "app-secret-for-tests"
VERIFY = "verify-me"


async def until(check: Any, timeout: float = 10.0, interval: float = 0.1) -> Any:
    """tests.support.polling.until, polling half as often (the cloud tests ask the API)."""
    return await polling.until(check, timeout, interval)

async def cloud_session(client: Any, graph: FakeGraphAPI, wa: Any) -> tuple[dict[str, str], str]:
    """The owner's headers and a CONNECTED cloud session's id."""
    owner = bearer((await register(client))["accessToken"])
    await wa()
    r = await client.post(f"{API}/whatsapp/sessions", headers=owner, json={
        "name": "Cloud line", "engine": "cloud",
        "settings": {"base_url": graph.url, "phone_number_id": PHONE_NUMBER_ID},
        "credentials": {"access_token": TOKEN, "app_secret": APP_SECRET, "verify_token": VERIFY},
    })
    assert r.status_code == 201, r.text
    sid = r.json()["id"]

    async def connected() -> bool:
        s = (await client.get(f"{API}/whatsapp/sessions/{sid}", headers=owner)).json()
        return s["status"] == "CONNECTED"

    await until(connected, interval=0.25)
    return owner, sid


async def customer_writes(client: Any, graph: FakeGraphAPI, sid: str, sender: str, *,
                          message_id: str, ago: float = 60.0, text: str = "hi") -> str:
    """*sender* wrote *ago* seconds ago (a signed webhook POST); returns the conversation id."""
    body, headers = graph.signed_webhook(APP_SECRET, messages=[
        inbound("text", {"body": text}, sender=sender, message_id=message_id,
                timestamp=time.time() - ago)])
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/webhook", content=body, headers=headers)
    assert r.status_code == 200, r.text
    row = await Message.select(Message.conversation).where(
        Message.whatsapp_message_id == message_id).first()
    assert row is not None
    return str(row["conversation"])
