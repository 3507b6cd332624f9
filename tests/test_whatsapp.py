"""WhatsApp through the simulator engine, end to end over the real API: a session pairs,
a customer message arrives once (even replayed), the reply is sent once, acks arrive."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest

from tests.helpers import API, assert_error, bearer, register
from tests.support.polling import until
from tests.support.whatsapp import CUSTOMER, connected_session, simulate
from wacc.contacts.tables import Contact
from wacc.conversations.tables import Conversation
from wacc.messages.tables import Message
from wacc.sessions.rpc import rpc_of


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
    stored = await server.app.state["runtime"].media.get(by_type["IMAGE"]["media_url"])
    assert stored == b"\x89PNG fake image bytes"
    assert by_type["DOCUMENT"]["metadata"]["media"]["filename"] == "menu.pdf"
    assert by_type["LOCATION"]["metadata"]["location"]["latitude"] == 52.52
    assert "FN:Bob" in by_type["CONTACT"]["metadata"]["vcard"]
    assert by_type["POLL"]["metadata"]["poll"]["options"] == ["Pizza", "Sushi"]
    assert by_type["REACTION"]["metadata"]["reactionTo"] == "WAMID-X"



async def _conversation_of(phone):
    contact = await Contact.select().where(Contact.phone_number == phone).first()
    return await Conversation.select().where(Conversation.contact == contact["id"]).first()


async def test_edits_revokes_and_reactions_keep_history(client, owner, wa):
    await wa()
    sid, _ = await connected_session(client, owner)
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="Ths is a typo", id="E1")
    for _ in range(2):  # replays change nothing
        await simulate(client, owner, sid, "edit", phone=CUSTOMER, message_id="E1",
                       body="This is a typo")
    await simulate(client, owner, sid, "react", phone=CUSTOMER, message_id="E1", emoji="❤️")
    await simulate(client, owner, sid, "react", phone=CUSTOMER, message_id="E1", emoji="")
    await simulate(client, owner, sid, "revoke", phone=CUSTOMER, message_id="E1")
    row = await Message.select().where(Message.whatsapp_message_id == "E1").output(
        load_json=True).first()
    meta = row["metadata"]
    assert row["body"] == "This is a typo"
    edits = meta["edits"]
    assert edits[0]["body"] == "Ths is a typo"
    assert [h["emoji"] for h in meta["reactionHistory"]] == ["❤️", ""]
    assert meta["reactions"] == {}
    assert meta["revoked"]["body"] == "This is a typo"
    assert len(edits) <= 2 and edits[0]["body"] == "Ths is a typo"


async def test_out_of_order_messages_are_listed_by_whatsapp_time(client, owner, wa):
    await wa()
    sid, _ = await connected_session(client, owner)
    now = time.time()
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="second", id="O2",
                   timestamp=now)
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="first", id="O1",
                   timestamp=now - 60)
    cid = (await _conversation_of(CUSTOMER))["id"]
    page = (await client.get(f"{API}/conversations/{cid}/messages", headers=owner)).json()
    assert [m["body"] for m in page["items"]] == ["second", "first"]  # newest first


async def test_resolved_conversation_reopens_on_a_new_message(client, owner, wa):
    await wa()
    sid, _ = await connected_session(client, owner)
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="one", id="R1")
    conversation = await _conversation_of(CUSTOMER)
    await Conversation.update({Conversation.status: "RESOLVED"}).where(
        Conversation.id == conversation["id"])
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="two", id="R2")
    after = await Conversation.select().where(Conversation.id == conversation["id"]).first()
    assert after["status"] == "OPEN" and after["version"] == conversation["version"] + 1
    assert await Conversation.count() == 1


async def test_hidden_lid_ids_become_the_same_contact(client, owner, wa):
    await wa()
    sid, _ = await connected_session(client, owner)
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="via phone", id="L1")
    await simulate(client, owner, sid, "message", phone="", lid="987654321@lid",
                   body="via lid", id="L2")
    assert await Contact.count() == 2  # not known to be one person yet
    await simulate(client, owner, sid, "identity", lid="987654321@lid", phone=CUSTOMER)
    assert await Contact.count() == 1  # merged: one person, one contact
    contact = await Contact.select().first()
    assert contact["lid"] == "987654321@lid"
    assert await Message.count().where(Message.conversation.contact == contact["id"]) == 2
    await simulate(client, owner, sid, "message", phone="", lid="987654321@lid",
                   body="lid again", id="L3")
    assert await Contact.count() == 1


async def test_send_while_disconnected_waits_and_goes_out_once_after_reconnect(
    client, owner, wa, worker
):
    await wa()
    sid, _ = await connected_session(client, owner)
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="hello", id="D1")
    cid = (await _conversation_of(CUSTOMER))["id"]
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/disconnect", headers=owner)
    assert r.json()["desiredState"] == "DISCONNECTED"

    async def stopped():
        s = (await client.get(f"{API}/whatsapp/sessions/{sid}", headers=owner)).json()
        return s["status"] == "DISCONNECTED"

    await until(stopped)
    r = await client.post(f"{API}/conversations/{cid}/messages", headers=owner,
                          json={"body": "queued while offline"})
    mid = r.json()["id"]

    async def waited():
        m = (await client.get(f"{API}/messages/{mid}", headers=owner)).json()
        return m["error"] and "offline" in m["error"] and m

    m = await until(waited)
    assert m["status"] == "PENDING"  # queued, not lost, not failed
    await client.post(f"{API}/whatsapp/sessions/{sid}/connect", headers=owner)

    async def sent():
        m = (await client.get(f"{API}/messages/{mid}", headers=owner)).json()
        return m["status"] in ("SENT", "DELIVERED") and m

    await until(sent, timeout=20)
    outbox = (await client.get(f"{API}/whatsapp/sessions/{sid}/simulator/outbox",
                               headers=owner)).json()
    assert [o["body"] for o in outbox] == ["queued while offline"]


async def test_remote_logout_is_not_retried(client, owner, wa):
    await wa()
    sid, _ = await connected_session(client, owner)
    await simulate(client, owner, sid, "logout")

    async def logged_out():
        s = (await client.get(f"{API}/whatsapp/sessions/{sid}", headers=owner)).json()
        return s["status"] == "DISCONNECTED" and s

    s = await until(logged_out)
    assert s["desiredState"] == "DISCONNECTED" and "LOGGED_OUT" in s["lastError"]
    await asyncio.sleep(1.5)  # the manager ticks; it must not start the session again
    s = (await client.get(f"{API}/whatsapp/sessions/{sid}", headers=owner)).json()
    assert s["status"] == "DISCONNECTED"


async def test_qr_as_string_and_png_and_live_events(client, owner, wa):
    r = await client.post(f"{API}/whatsapp/sessions", headers=owner,
                          json={"name": "QR test", "connect": False})
    sid = r.json()["id"]
    events = []

    async def listen():
        async with client.stream("GET", f"{API}/whatsapp/sessions/events", headers=owner) as resp:
            async for line in resp.aiter_lines():
                if line.startswith("event:"):
                    events.append(line.split(":", 1)[1].strip())
                if "session:qr" in events:
                    return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.2)
    await wa()
    await client.post(f"{API}/whatsapp/sessions/{sid}/connect", headers=owner)
    await asyncio.wait_for(listener, 10)
    assert "session:qr" in events
    qr = (await client.get(f"{API}/whatsapp/sessions/{sid}/qr", headers=owner)).json()
    assert qr["status"] == "QR_READY" and qr["qr"].startswith("wacc-simulator:")
    png = await client.get(f"{API}/whatsapp/sessions/{sid}/qr", headers=owner,
                           params={"format": "png"})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"

    async def first_event():  # a UI that connects now gets the current QR at once
        async with client.stream("GET", f"{API}/whatsapp/sessions/events", headers=owner) as resp:
            async for line in resp.aiter_lines():
                if line.startswith("data:"):
                    return json.loads(line.split(":", 1)[1])

    snapshot = await asyncio.wait_for(first_event(), 10)
    assert snapshot["type"] == "session:qr" and snapshot["snapshot"] is True
    assert snapshot["qr"] == qr["qr"]


async def test_a_second_wa_process_takes_over_when_the_first_dies(client, owner, wa):
    from wacc.sessions.tables import SessionLease

    first = await wa(lease_seconds=3)
    sid, _ = await connected_session(client, owner)
    lease = await SessionLease.select().where(SessionLease.session == sid).first()
    assert lease["node_id"] == first.node_id
    second = await wa(lease_seconds=3)
    await asyncio.sleep(1.2)
    assert (await SessionLease.select().where(SessionLease.session == sid).first())[
        "node_id"] == first.node_id  # a live holder keeps it
    first.task.cancel()  # the process dies: no release, no more renewals
    await asyncio.gather(first.task, return_exceptions=True)

    async def taken_over():
        row = await SessionLease.select().where(SessionLease.session == sid).first()
        return row and row["node_id"] == second.node_id

    await until(taken_over, timeout=15)

    async def connected_again():
        s = (await client.get(f"{API}/whatsapp/sessions/{sid}", headers=owner)).json()
        return s["status"] == "CONNECTED"

    await until(connected_again)  # the simulator remembers it was paired: no new QR
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="still here", id="T1")
    assert await Message.count().where(Message.whatsapp_message_id == "T1") == 1


async def test_bad_input(client, owner, wa, server):
    import uuid

    missing = str(uuid.uuid4())
    assert_error(await client.get(f"{API}/whatsapp/sessions/{missing}", headers=owner), 404,
                 "NOT_FOUND")
    r = await client.post(f"{API}/whatsapp/sessions", headers=owner,
                          json={"name": "x", "engine": "nokia"})
    err = assert_error(r, 400, "VALIDATION_ERROR")
    assert "simulator" in err["details"][0]["message"]
    await wa()
    sid, _ = await connected_session(client, owner)
    before = await Message.count()
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/messages", headers=owner,
                          json={"to": "not-a-number", "body": "hi"})
    assert_error(r, 400, "VALIDATION_ERROR")
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/messages", headers=owner, json={
        "to": CUSTOMER, "type": "DOCUMENT",
        "media": {"mimeType": "application/x-msdownload",
                  "data": base64.b64encode(b"MZ...").decode()}})
    assert "not allowed" in assert_error(r, 400, "VALIDATION_ERROR")["details"][0]["message"]
    limit = server.settings.media.max_bytes
    big = base64.b64encode(b"x" * (limit + 1)).decode()
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/messages", headers=owner, json={
        "to": CUSTOMER, "type": "IMAGE", "media": {"mimeType": "image/png", "data": big}})
    assert r.status_code in (400, 413), r.status_code
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/messages", headers=owner,
                          json={"to": CUSTOMER, "type": "TEXT"})
    assert_error(r, 400, "VALIDATION_ERROR")
    assert await Message.count() == before


def test_malformed_engine_events_are_refused_clearly():
    import msgspec

    from wacc.engines.contract import decode_event

    for raw in (b"{", b'{"kind":"nope"}', b'{"kind":"message","id":1}', b'{"kind":"ack"}'):
        with pytest.raises(msgspec.ValidationError if raw != b"{" else msgspec.DecodeError):
            decode_event(raw)


async def test_typing_indicator_before_a_reply_when_asked(client, owner, wa, worker, server):
    await wa()
    sid, _ = await connected_session(client, owner, settings={"typing_indicator": True,
                                                               "send_jitter_seconds": 0.2})
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="hi", id="TY1")
    cid = (await _conversation_of(CUSTOMER))["id"]
    r = await client.post(f"{API}/conversations/{cid}/messages", headers=owner,
                          json={"body": "Typing first"})
    mid = r.json()["id"]

    async def sent():
        m = (await client.get(f"{API}/messages/{mid}", headers=owner)).json()
        return m["status"] in ("SENT", "DELIVERED")

    await until(sent)
    log = await rpc_of(server.app.state["runtime"]).call(sid, "typing_log")
    assert [e["on"] for e in log] == [True, False]
    outbox = await rpc_of(server.app.state["runtime"]).call(sid, "outbox")
    assert log[0]["at"] < outbox[0]["timestamp"]


async def test_blocking_is_recorded_on_the_contact(client, owner, wa, server):
    await wa()
    sid, _ = await connected_session(client, owner)
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="spam spam", id="B1")
    rpc = rpc_of(server.app.state["runtime"])
    await rpc.call(sid, "set_blocked", peer={"wa_id": "14155550123@c.us"}, blocked=True)
    contact = await Contact.select().where(Contact.phone_number == CUSTOMER).first()
    assert contact["is_blocked"] is True
    await rpc.call(sid, "set_blocked", peer={"wa_id": "14155550123@c.us"}, blocked=False)
    contact = await Contact.select().where(Contact.phone_number == CUSTOMER).first()
    assert contact["is_blocked"] is False


async def test_embedded_bus_survives_its_table_being_emptied(server):
    """SQLite reuses ids in an emptied table; the reader must not wait for ids it passed."""
    from wacc.bus import DatabaseBus
    from wacc.bus.tables import BusEvent

    if server.settings.redis.url:
        pytest.skip("this run's bus is Redis pub/sub; the table bus is the embedded one")
    bus = DatabaseBus(poll_seconds=0.01)
    try:
        async with bus.subscribe("t") as events:
            for i in range(3):
                await bus.publish("t", {"n": i})
            assert [(await anext(events))[1]["n"] for _ in range(3)] == [0, 1, 2]
            await BusEvent.delete(force=True)
            await bus.publish("t", {"n": 99})
            _topic, payload = await asyncio.wait_for(anext(events), 5)
            assert payload == {"n": 99}
    finally:
        await bus.close()
