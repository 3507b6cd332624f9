"""The Cloud API engine wired into wacc: a session with encrypted credentials, Meta's
webhook (handshake, signature) reaching the pipeline once, replies sent through the
fake Graph API, status callbacks as acks, and the 24-hour window."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes.graph_api import (
    PHONE_NUMBER_ID,
    TOKEN,
    FakeGraphAPI,
    inbound,
    signed_webhook,
    status,
)
from tests.helpers import API, assert_error, bearer, register
from tests.support.polling import until
from wacc.messages.tables import Message
from wacc.sessions.tables import WhatsAppSession

APP_SECRET = "app-secret-for-tests"
VERIFY = "verify-me"
CUSTOMER = "16505551234"


@pytest.fixture
async def graph():
    async with FakeGraphAPI().serve() as fake:
        yield fake


@pytest.fixture
async def cloud(client, graph, wa):
    owner = bearer((await register(client))["accessToken"])
    await wa()
    r = await client.post(f"{API}/whatsapp/sessions", headers=owner, json={
        "name": "Cloud line", "engine": "cloud",
        "settings": {"base_url": graph.url, "phone_number_id": PHONE_NUMBER_ID},
        "credentials": {"access_token": TOKEN, "app_secret": APP_SECRET,
                        "verify_token": VERIFY},
    })
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert "credentials" not in r.json() and TOKEN not in r.text

    async def connected():
        s = (await client.get(f"{API}/whatsapp/sessions/{sid}", headers=owner)).json()
        return s["status"] == "CONNECTED" and s

    await until(connected)
    return owner, sid


async def test_credentials_are_encrypted_at_rest(cloud):
    _, sid = cloud
    row = await WhatsAppSession.select(WhatsAppSession.credentials).where(
        WhatsAppSession.id == sid).first()
    assert row["credentials"].startswith("v1.") and TOKEN not in row["credentials"]


async def test_webhook_handshake(client, cloud):
    _, sid = cloud
    url = f"{API}/whatsapp/sessions/{sid}/webhook"
    ok = await client.get(url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY,
                                       "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = await client.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "nope",
                                        "hub.challenge": "1"})
    assert_error(bad, 403, "AUTHORIZATION_ERROR")


async def test_inbound_once_reply_sent_and_acked(client, cloud, graph, worker):
    owner, sid = cloud
    url = f"{API}/whatsapp/sessions/{sid}/webhook"
    message = inbound("text", {"body": "Do you deliver?"}, sender=CUSTOMER, message_id="wamid.IN1")
    body, headers = graph.signed_webhook(APP_SECRET, messages=[message], profiles={CUSTOMER: "Dana"})
    for _ in range(3):  # Meta retries deliveries; each is stored once
        r = await client.post(url, content=body, headers=headers)
        assert r.status_code == 200, r.text
    assert await Message.count().where(Message.whatsapp_message_id == "wamid.IN1") == 1
    row = await Message.select().where(Message.whatsapp_message_id == "wamid.IN1").first()

    r = await client.post(f"{API}/conversations/{row['conversation']}/messages", headers=owner,
                          json={"body": "Yes, same day."})
    mid = r.json()["id"]

    async def sent():
        m = (await client.get(f"{API}/messages/{mid}", headers=owner)).json()
        return m["status"] == "SENT" and m

    m = await until(sent)
    assert [s["text"]["body"] for s in graph.sent()] == ["Yes, same day."]
    assert graph.sent()[0]["to"] == CUSTOMER
    body, headers = signed_webhook(APP_SECRET, statuses=[
        status(m["whatsappMessageId"], "delivered", recipient=CUSTOMER)])
    assert (await client.post(url, content=body, headers=headers)).status_code == 200
    m = (await client.get(f"{API}/messages/{mid}", headers=owner)).json()
    assert m["status"] == "DELIVERED"


async def test_forged_webhook_is_refused_and_stores_nothing(client, cloud):
    _, sid = cloud
    message = inbound("text", {"body": "spoof"}, sender=CUSTOMER, message_id="wamid.FAKE")
    body, headers = signed_webhook("wrong-secret", messages=[message])
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/webhook", content=body, headers=headers)
    assert_error(r, 401, "AUTHENTICATION_ERROR")
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/webhook", content=body,
                          headers={"Content-Type": "application/json"})
    assert_error(r, 401, "AUTHENTICATION_ERROR")
    assert await Message.count() == 0


async def test_outside_the_24_hour_window_only_templates_go_out(client, cloud, graph, worker):
    owner, sid = cloud
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/messages", headers=owner,
                          json={"to": "+" + CUSTOMER, "body": "Hello out of the blue"})
    mid = r.json()["id"]

    async def failed():
        m = (await client.get(f"{API}/messages/{mid}", headers=owner)).json()
        return m["status"] == "FAILED" and m

    m = await until(failed)
    # No message from this customer is stored: wacc cannot know the window, so the send
    # is attempted and Meta's 131047 decides.
    assert "24-hour" in m["error"] and "131047" in m["error"]
    assert [s["text"]["body"] for s in graph.sent()] == ["Hello out of the blue"]


async def test_a_failed_status_callback_keeps_metas_reason(client, cloud, graph, worker):
    owner, sid = cloud
    url = f"{API}/whatsapp/sessions/{sid}/webhook"
    body, headers = graph.signed_webhook(APP_SECRET, messages=[
        inbound("text", {"body": "hi"}, sender=CUSTOMER, message_id="wamid.IN9")])
    await client.post(url, content=body, headers=headers)
    row = await Message.select().where(Message.whatsapp_message_id == "wamid.IN9").first()
    r = await client.post(f"{API}/conversations/{row['conversation']}/messages", headers=owner,
                          json={"body": "will bounce"})
    mid = r.json()["id"]

    async def sent():
        m = (await client.get(f"{API}/messages/{mid}", headers=owner)).json()
        return m["status"] == "SENT" and m

    m = await until(sent)
    body, headers = signed_webhook(APP_SECRET, statuses=[status(
        m["whatsappMessageId"], "failed", recipient=CUSTOMER,
        errors=[{"code": 131026, "title": "Message undeliverable",
                 "error_data": {"details": "The recipient may not be a WhatsApp user."}}])])
    assert (await client.post(url, content=body, headers=headers)).status_code == 200
    m = (await client.get(f"{API}/messages/{mid}", headers=owner)).json()
    assert m["status"] == "FAILED" and "131026" in m["error"]


async def _customer_thread(client, graph, sid, message_id="wamid.IN1"):
    """The customer writes (a signed webhook, as Meta posts it); returns the thread id."""
    body, headers = graph.signed_webhook(APP_SECRET, messages=[
        inbound("text", {"body": "hi"}, sender=CUSTOMER, message_id=message_id)])
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/webhook", content=body, headers=headers)
    assert r.status_code == 200, r.text
    row = await Message.select().where(Message.whatsapp_message_id == message_id).first()
    return row["conversation"]


async def test_a_burst_retried_after_the_pair_rate_limit_keeps_its_order(client, cloud, graph, worker):
    owner, sid = cloud
    cid = await _customer_thread(client, graph, sid)
    ids = []

    async def sent(*wanted):
        rows = await Message.select(Message.status).where(Message.id.is_in(list(wanted)))
        return all(r["status"] == "SENT" for r in rows)

    for text in ("one", "two", "three"):
        r = await client.post(f"{API}/conversations/{cid}/messages", headers=owner, json={"body": text})
        ids.append(r.json()["id"])
        if text == "one":
            await until(lambda: sent(ids[0]), interval=0.25)
            # Meta refuses the next send with the pair rate limit (about one message every
            # 6 s to the same customer); "three" must not overtake "two" while it waits.
            graph.error_next(131056)

    await until(lambda: sent(*ids), timeout=60, interval=0.25)
    assert len(graph.sent()) >= 4  # "two" was refused once and retried
    assert [b["text"]["body"] for b in graph.accepted] == ["one", "two", "three"]


async def test_permission_errors_fail_a_message_and_only_190_logs_the_session_out(
        client, cloud, graph, worker, server):
    from wacc.bus import org_topic

    owner, sid = cloud
    cid = await _customer_thread(client, graph, sid)
    graph.error_next(10, status=403, message="(#10) Application does not have permission for this action")
    r = await client.post(f"{API}/conversations/{cid}/messages", headers=owner, json={"body": "a"})
    mid = r.json()["id"]

    async def failed():
        m = (await client.get(f"{API}/messages/{mid}", headers=owner)).json()
        return m["status"] == "FAILED" and m

    assert "(#10)" in (await until(failed))["error"]
    s = (await client.get(f"{API}/whatsapp/sessions/{sid}", headers=owner)).json()
    assert s["status"] == "CONNECTED"

    org = (await WhatsAppSession.select(WhatsAppSession.organization).where(
        WhatsAppSession.id == sid).first())["organization"]
    bus = server.app.state["runtime"].bus
    async with bus.subscribe(org_topic(org)) as events:
        graph.token = "EAAG-revoked"  # Meta now answers 401 with error 190
        await client.post(f"{API}/conversations/{cid}/messages", headers=owner, json={"body": "b"})

        async def logged_out():
            s = (await client.get(f"{API}/whatsapp/sessions/{sid}", headers=owner)).json()
            return s["status"] == "DISCONNECTED" and s

        s = await until(logged_out)
        assert "190" in s["lastError"] and "access token" in s["lastError"]
        while True:  # the alert on the bus, for the UI and webhooks
            _topic, event = await asyncio.wait_for(anext(events), 10)
            if event.get("type") == "session:status" and event.get("status") == "DISCONNECTED":
                assert "190" in event["error"]
                break


async def test_media_meta_would_refuse_is_a_400_and_nothing_is_stored(client, cloud, graph):
    owner, sid = cloud
    cid = await _customer_thread(client, graph, sid)
    before = await Message.count()
    r = await client.post(f"{API}/conversations/{cid}/messages/media", headers=owner,
                          files={"file": ("clip.mov", b"\x00\x00\x00\x14ftypqt  ", "video/quicktime")})
    body = assert_error(r, 400, "VALIDATION_ERROR")
    assert "video/quicktime" in body["details"][0]["message"]
    big = b"\x89PNG" + b"x" * (5 * 1024 * 1024)
    r = await client.post(f"{API}/conversations/{cid}/messages/media", headers=owner,
                          files={"file": ("big.png", big, "image/png")})
    assert "too large" in assert_error(r, 400, "VALIDATION_ERROR")["details"][0]["message"]
    assert await Message.count() == before
    assert graph.calls("POST", "/media") == []
