"""A connected simulator session and customers writing through it, over the real API."""

from __future__ import annotations

from tests.helpers import API
from tests.support.polling import until

CUSTOMER = "+14155550123"
# Two customers of the inbox tests (Carla is CUSTOMER).
CARLA = "+14155550123"
DAN = "+14155550124"


async def connected_session(client, head, **extra):
    r = await client.post(f"{API}/whatsapp/sessions", headers=head,
                          json={"name": "Front desk", "engine": "simulator", **extra})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]

    async def qr_ready():
        s = (await client.get(f"{API}/whatsapp/sessions/{sid}", headers=head)).json()
        return s["status"] == "QR_READY" and s

    await until(qr_ready)
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/simulator", headers=head,
                          json={"action": "scan"})
    assert r.status_code == 200, r.text

    async def is_connected():
        s = (await client.get(f"{API}/whatsapp/sessions/{sid}", headers=head)).json()
        return s["status"] == "CONNECTED" and s

    return sid, await until(is_connected)


async def simulate(client, head, sid, action, **payload):
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/simulator", headers=head,
                          json={"action": action, "payload": payload})
    assert r.status_code == 200, r.text
    return r.json()
