"""The Cloud API engine wired into wacc: a session with encrypted credentials, Meta's
webhook (handshake, signature) reaching the pipeline once, replies sent through the
fake Graph API, status callbacks as acks, and the 24-hour window."""

from __future__ import annotations

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
from tests.test_whatsapp import until
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
