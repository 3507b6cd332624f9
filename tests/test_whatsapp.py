"""WhatsApp through the simulator engine, end to end over the real API: a session pairs,
a customer message arrives once (even replayed), the reply is sent once, acks arrive."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest

from tests.helpers import API, assert_error, bearer, register
from wacc.contacts.tables import Contact
from wacc.conversations.tables import Conversation
from wacc.messages.tables import Message

CUSTOMER = "+14155550123"


async def until(check, timeout: float = 10.0, interval: float = 0.05):
    """Poll an async check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check.__name__}")
        await asyncio.sleep(interval)


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


@pytest.fixture
async def owner(client):
    tokens = await register(client)
    return bearer(tokens["accessToken"])


async def test_pair_receive_once_reply_once_acks(client, owner, wa, worker):
    await wa()
    sid, session = await connected_session(client, owner)
    assert session["phoneNumber"].startswith("+1555")
    for _ in range(5):  # a replayed event never creates a second message
        await simulate(client, owner, sid, "message", phone=CUSTOMER, body="Hi, are you open?",
                       id="WAMID-1", name="Carla Customer")
    assert await Message.count().where(Message.whatsapp_message_id == "WAMID-1") == 1
    contact = await Contact.select().where(Contact.phone_number == CUSTOMER).first()
    assert contact["name"] == "Carla Customer" and contact["whatsapp_id"] == "14155550123@c.us"
    conversation = await Conversation.select().where(Conversation.contact == contact["id"]).first()
    cid = conversation["id"]

    r = await client.post(f"{API}/conversations/{cid}/messages", headers=owner,
                          json={"body": "Yes, until 6pm!", "idempotencyKey": "reply-1"})
    assert r.status_code == 201, r.text
    mid = r.json()["id"]
    assert r.json()["status"] == "PENDING"
    again = await client.post(f"{API}/conversations/{cid}/messages", headers=owner,
                              json={"body": "Yes, until 6pm!", "idempotencyKey": "reply-1"})
    assert again.status_code == 200 and again.json()["id"] == mid

    async def delivered():
        m = (await client.get(f"{API}/messages/{mid}", headers=owner)).json()
        return m["status"] == "DELIVERED" and m

    message = await until(delivered)
    assert message["whatsappMessageId"].startswith("SIM") and message["ackStatus"] == 2
    outbox = (await client.get(f"{API}/whatsapp/sessions/{sid}/simulator/outbox",
                               headers=owner, params={"to": CUSTOMER})).json()
    assert [m["body"] for m in outbox] == ["Yes, until 6pm!"]  # sent exactly once

    await simulate(client, owner, sid, "read", phone=CUSTOMER)

    async def read():
        m = (await client.get(f"{API}/messages/{mid}", headers=owner)).json()
        return m["status"] == "READ"

    await until(read)
    page = (await client.get(f"{API}/conversations/{cid}/messages", headers=owner)).json()
    assert [m["direction"] for m in page["items"]] == ["OUTBOUND", "INBOUND"]


async def test_every_message_type_arrives(client, owner, wa, server):
    await wa()
    sid, _ = await connected_session(client, owner)
    image = base64.b64encode(b"\x89PNG fake image bytes").decode()
    cases = [
        {"type": "TEXT", "body": "hello"},
        {"type": "IMAGE", "body": "a photo", "media": {"mimeType": "image/png", "data": image}},
        {"type": "VIDEO", "media": {"mimeType": "video/mp4", "data": image}},
        {"type": "AUDIO", "media": {"mimeType": "audio/ogg", "data": image}},
        {"type": "DOCUMENT", "media": {"mimeType": "application/pdf", "data": image,
                                        "filename": "menu.pdf"}},
        {"type": "STICKER", "media": {"mimeType": "image/webp", "data": image}},
        {"type": "LOCATION", "location": {"latitude": 52.52, "longitude": 13.405,
                                          "name": "Office"}},
        {"type": "CONTACT", "vcard": "BEGIN:VCARD\nFN:Bob\nTEL:+4930123\nEND:VCARD"},
        {"type": "POLL", "poll": {"question": "Lunch?", "options": ["Pizza", "Sushi"]}},
        {"type": "REACTION", "body": "👍", "reaction_to": "WAMID-X"},
    ]
    for i, case in enumerate(cases):
        await simulate(client, owner, sid, "message", phone=CUSTOMER, id=f"T{i}", **case)
    rows = await Message.select().where(Message.session == sid).order_by(Message.timestamp).output(
        load_json=True)
    assert [r["type"] for r in rows] == [c["type"] for c in cases]
    by_type = {r["type"]: r for r in rows}
    assert by_type["IMAGE"]["media_url"] and by_type["IMAGE"]["media_mime_type"] == "image/png"
    stored = server.app.state["runtime"].media.path(by_type["IMAGE"]["media_url"])
    assert stored.read_bytes() == b"\x89PNG fake image bytes"
    assert by_type["DOCUMENT"]["metadata"]["media"]["filename"] == "menu.pdf"
    assert by_type["LOCATION"]["metadata"]["location"]["latitude"] == 52.52
    assert "FN:Bob" in by_type["CONTACT"]["metadata"]["vcard"]
    assert by_type["POLL"]["metadata"]["poll"]["options"] == ["Pizza", "Sushi"]
    assert by_type["REACTION"]["metadata"]["reactionTo"] == "WAMID-X"

