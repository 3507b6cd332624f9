"""The messages API beyond plain sends: DELETE /messages/:id revokes a sent message on
the customer's phone or cancels one not yet sent, a multipart upload sends a file, and
what cannot be done is refused with nothing changed."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import API, add_member, assert_error, bearer, register, register_other_org
from tests.support.polling import until
from tests.support.whatsapp import connected_session, simulate
from wacc.lib.clock import utcnow
from wacc.messages.tables import Message

CUSTOMER = "+14155550123"


async def _thread(client, head, wa):
    await wa()
    sid, _ = await connected_session(client, head)
    await simulate(client, head, sid, "message", phone=CUSTOMER, body="Hi", id="IN1")

    async def conversation():
        r = await client.get(f"{API}/conversations", headers=head)
        return r.json()["items"] and r.json()["items"][0]["id"]

    return sid, await until(conversation)


async def _sent(client, head, cid, body):
    r = await client.post(f"{API}/conversations/{cid}/messages", headers=head, json={"body": body})
    assert r.status_code == 201, r.text
    mid = r.json()["id"]

    async def sent():
        m = (await client.get(f"{API}/messages/{mid}", headers=head)).json()
        return m["status"] in ("SENT", "DELIVERED") and m

    return await until(sent)


async def test_revoke_sent_message_reaches_the_phone(client, wa, worker, server):
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    sid, cid = await _thread(client, head, wa)
    message = await _sent(client, head, cid, "Wrong price: 5 EUR")
    bus = server.app.state["runtime"].bus
    async with bus.subscribe(f"org:{tokens['user']['organizationId']}") as events:
        r = await client.delete(f"{API}/messages/{message['id']}", headers=head)
        assert r.status_code == 200, r.text
        revoked = r.json()["metadata"]["revoked"]
        assert revoked["body"] == "Wrong price: 5 EUR"
        assert revoked["byUser"] == tokens["user"]["id"]
        async for _, payload in events:
            if payload["type"] == "message:deleted":
                assert payload["messageId"] == message["id"]
                break
    outbox = (await client.get(f"{API}/whatsapp/sessions/{sid}/simulator/outbox",
                               headers=head, params={"to": CUSTOMER})).json()
    assert outbox[0]["revoked"] is True  # deleted on the customer's phone
    # Again: nothing more happens.
    again = await client.delete(f"{API}/messages/{message['id']}", headers=head)
    assert again.status_code == 200 and again.json()["metadata"]["revoked"] == revoked


async def test_revoke_pending_cancels_the_send(client, wa):
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    _, cid = await _thread(client, head, wa)
    # No worker runs: the message stays queued until revoked.
    r = await client.post(f"{API}/conversations/{cid}/messages", headers=head,
                          json={"body": "never mind"})
    mid = r.json()["id"]
    r = await client.delete(f"{API}/messages/{mid}", headers=head)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "FAILED" and r.json()["error"] == "revoked before it was sent"
    # A sender that picks it up later skips it.
    from wacc.messages import outbound

    row = await Message.select(Message.status).where(Message.id == mid).first()
    assert row["status"] == "FAILED"
    assert (await outbound.pending_for_session(r.json()["sessionId"])) == []


async def test_revoke_refusals_change_nothing(client, wa, worker, server):
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    _, cid = await _thread(client, head, wa)
    inbound = (await client.get(f"{API}/conversations/{cid}/messages", headers=head)).json()
    inbound_id = inbound["items"][0]["id"]
    assert_error(await client.delete(f"{API}/messages/{inbound_id}", headers=head),
                 400, "VALIDATION_ERROR")

    old = await _sent(client, head, cid, "Old news")
    await Message.update({Message.timestamp: utcnow() - timedelta(hours=61)}).where(
        Message.id == old["id"])
    error = assert_error(await client.delete(f"{API}/messages/{old['id']}", headers=head),
                         400, "VALIDATION_ERROR")
    assert "60 hours" in error["details"][0]["message"]

    viewer = await add_member(client, tokens["accessToken"], tokens["user"]["organizationId"],
                              "VIEWER")
    assert_error(await client.delete(f"{API}/messages/{old['id']}",
                                     headers=bearer(viewer["accessToken"])),
                 403, "AUTHORIZATION_ERROR")
    other = await register_other_org(server)
    assert_error(await client.delete(f"{API}/messages/{old['id']}",
                                     headers=bearer(other["accessToken"])), 404, "NOT_FOUND")
    assert_error(await client.delete(f"{API}/messages/nope", headers=head), 404, "NOT_FOUND")
    rows = await Message.select(Message.metadata).where(Message.id.is_in([inbound_id, old["id"]]))
    assert len(rows) == 2 and all("revoked" not in str(r["metadata"]) for r in rows)


async def test_media_upload_is_sent_and_limits_hold(client, wa, worker, server):
    """POST /conversations/:id/messages/media: a multipart file, typed by its MIME type,
    with a caption and a quoted reply; oversize, forbidden and empty uploads are refused."""
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    sid, cid = await _thread(client, head, wa)
    inbound_id = (await client.get(f"{API}/conversations/{cid}/messages",
                                   headers=head)).json()["items"][0]["id"]
    r = await client.post(f"{API}/conversations/{cid}/messages/media", headers=head,
                          files={"file": ("menu.pdf", b"%PDF-1.4 menu", "application/pdf")},
                          data={"caption": "Our menu", "replyTo": inbound_id})
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["type"] == "DOCUMENT" and sent["body"] == "Our menu"
    assert sent["mediaMimeType"] == "application/pdf"
    assert sent["metadata"]["media"] == {"filename": "menu.pdf", "size": 13}
    assert await server.app.state["runtime"].media.get(sent["mediaUrl"]) == b"%PDF-1.4 menu"

    async def on_phone():
        outbox = (await client.get(f"{API}/whatsapp/sessions/{sid}/simulator/outbox",
                                   headers=head, params={"to": CUSTOMER})).json()
        return outbox and outbox[0]

    delivered = await until(on_phone)
    assert delivered["media"] == {"mimeType": "application/pdf", "filename": "menu.pdf"}
    assert delivered["quotedId"] == "IN1"
    r = await client.post(f"{API}/conversations/{cid}/messages/media", headers=head,
                          files={"file": ("cat.png", b"\x89PNG...", "image/png")})
    assert r.status_code == 201 and r.json()["type"] == "IMAGE"

    before = await Message.count()
    limit = server.settings.media.max_bytes
    too_big = b"x" * (limit + 1)
    r = await client.post(f"{API}/conversations/{cid}/messages/media", headers=head,
                          files={"file": ("big.png", too_big, "image/png")})
    assert "limit" in assert_error(r, 400, "VALIDATION_ERROR")["details"][0]["message"]
    r = await client.post(f"{API}/conversations/{cid}/messages/media", headers=head,
                          files={"file": ("x.exe", b"MZ", "application/x-msdownload")})
    assert "not allowed" in assert_error(r, 400, "VALIDATION_ERROR")["details"][0]["message"]
    r = await client.post(f"{API}/conversations/{cid}/messages/media", headers=head,
                          data={"caption": "no file"})
    assert_error(r, 400, "VALIDATION_ERROR")
    r = await client.post(f"{API}/conversations/{cid}/messages/media", headers=head,
                          files={"file": ("a.png", b"x", "image/png")}, data={"type": "TEXT"})
    assert_error(r, 400, "VALIDATION_ERROR")
    other = await register_other_org(server)
    r = await client.post(f"{API}/conversations/{cid}/messages/media",
                          headers=bearer(other["accessToken"]),
                          files={"file": ("a.png", b"x", "image/png")})
    assert_error(r, 404, "NOT_FOUND")
    assert await Message.count() == before


async def test_a_message_type_is_one_of_the_uppercase_kinds(client, wa, worker, server):
    """The seed's MessageType enum is uppercase: "image" or "banana" is refused with 400 on
    every way a message enters through the API — a reply, a send to a phone, a new
    conversation, an upload and the simulator's customer phone — and nothing is stored
    (a lowercase "image" was stored as given and rendered as text)."""
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    sid, cid = await _thread(client, head, wa)
    before = await Message.count()
    for kind in ("image", "banana", "Text"):
        message = {"type": kind, "body": "x"}
        assert_error(await client.post(f"{API}/conversations/{cid}/messages", headers=head,
                                       json=message), 400, "VALIDATION_ERROR")
        assert_error(await client.post(f"{API}/whatsapp/sessions/{sid}/messages", headers=head,
                                       json={**message, "to": CUSTOMER}), 400, "VALIDATION_ERROR")
        assert_error(await client.post(f"{API}/conversations", headers=head, json={
            "sessionId": sid, "phone": "+14155550999", "message": message}),
            400, "VALIDATION_ERROR")
        assert_error(await client.post(f"{API}/conversations/{cid}/messages/media", headers=head,
                                       files={"file": ("a.png", b"\x89PNG", "image/png")},
                                       data={"type": kind}), 400, "VALIDATION_ERROR")
        r = await client.post(f"{API}/whatsapp/sessions/{sid}/simulator", headers=head, json={
            "action": "message", "payload": {"phone": CUSTOMER, "type": kind, "body": "x"}})
        assert "unknown message type" in assert_error(r, 400, "VALIDATION_ERROR")["message"]
    # A field the customer phone does not know is the caller's mistake too (it was a 503).
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/simulator", headers=head, json={
        "action": "message", "payload": {"phone": CUSTOMER, "colour": "red"}})
    assert "colour" in assert_error(r, 400, "VALIDATION_ERROR")["message"]
    assert await Message.count() == before
    # The uppercase kinds still arrive.
    await simulate(client, head, sid, "message", phone=CUSTOMER, type="IMAGE", body="photo",
                   media={"mimeType": "image/png", "data": "iVBORw0KGgo="}, id="IN2")
    assert await until(lambda: _stored_type("IN2")) == "IMAGE"


async def _stored_type(whatsapp_id: str) -> str | None:
    row = await Message.select(Message.type).where(
        Message.whatsapp_message_id == whatsapp_id).first()
    return row and row["type"]


async def test_a_large_media_upload_is_streamed_not_held_in_memory(client, wa, server, tmp_path):
    """A 15 MB video goes from the request to the media store in pieces (issue 14: uploads
    streamed to disk): the web process never holds the file whole."""
    import tracemalloc

    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    _, cid = await _thread(client, head, wa)
    path = tmp_path / "clip.mp4"
    with path.open("wb") as f:
        for i in range(15):
            f.write(bytes([i]) * (1024 * 1024))
    size = path.stat().st_size
    assert size < server.settings.media.max_bytes
    tracemalloc.start()
    try:
        with path.open("rb") as f:  # the client streams it too
            r = await client.post(f"{API}/conversations/{cid}/messages/media", headers=head,
                                  files={"file": ("clip.mp4", f, "video/mp4")})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.status_code == 201, r.text
    assert r.json()["type"] == "VIDEO" and r.json()["metadata"]["media"]["size"] == size
    assert peak < size / 4, f"peak {peak / 1e6:.1f} MB while uploading {size / 1e6:.1f} MB"
    stored = await server.app.state["runtime"].media.get(r.json()["mediaUrl"])
    assert stored == path.read_bytes()
