"""The inbox composer on a Cloud API session, over real HTTP with the session cookie:
it shows the time left in the 24-hour reply window and, once it is closed, says so and
offers an approved template instead of free text; the template goes out, free text to a
closed window fails with WhatsApp's reason."""

from __future__ import annotations

import re

import pytest

from tests.cloud_support import cloud_session, customer_writes, until
from tests.fakes.graph_api import FakeGraphAPI
from tests.helpers import API, PASSWORD
from tests.ui_support import ui_login
from wacc.messages.tables import Message

HOUR = 3600.0


@pytest.fixture
async def graph():
    async with FakeGraphAPI().serve() as fake:
        yield fake


async def test_the_composer_shows_the_window_and_offers_a_template(client, graph, wa, worker):
    owner, sid = await cloud_session(client, graph, wa)
    recent = await customer_writes(client, graph, sid, "16505551234", message_id="wamid.R",
                                   ago=HOUR)
    old = await customer_writes(client, graph, sid, "16505559876", message_id="wamid.O",
                                ago=25 * HOUR)
    await ui_login(client, "owner@example.com", PASSWORD)

    page = (await client.get(f"/inbox/{recent}")).text
    left = re.search(r'id="reply-window-left">(\d+) h (\d+) min<', page)
    assert left and (int(left[1]), int(left[2])) in ((22, 59), (23, 0)), page[:200]
    assert 'data-state="open"' in page
    assert re.search(r'<fieldset id="template-send"[^>]*hidden', page)

    page = (await client.get(f"/inbox/{old}")).text
    assert 'data-state="closed"' in page and "reply window is closed" in page
    assert re.search(r'<fieldset id="template-send" class="template-send" >', page)
    assert 'data-action="send-template"' in page
    assert "Reply window closed: send a template below" in page

    # What the template form posts; and free text, which WhatsApp would refuse.
    template = {"name": "hello_world", "language": {"code": "en_US"}}
    sent = await client.post(f"{API}/conversations/{old}/messages", headers=owner,
                             json={"body": "Template hello_world (en_US)", "template": template})
    refused = await client.post(f"{API}/conversations/{old}/messages", headers=owner,
                                json={"body": "Are you there?"})
    assert sent.status_code == refused.status_code == 201

    async def settled():
        rows = await Message.select(Message.id, Message.status, Message.error).where(
            Message.id.is_in([sent.json()["id"], refused.json()["id"]]))
        states = {r["id"]: r for r in rows}
        return all(r["status"] != "PENDING" for r in rows) and states

    states = await until(settled, interval=0.25)
    assert states[sent.json()["id"]]["status"] == "SENT"
    assert states[refused.json()["id"]]["status"] == "FAILED"
    assert "24-hour" in states[refused.json()["id"]]["error"]
    assert [b["type"] for b in graph.accepted] == ["template"]


async def test_no_window_on_a_customer_without_stored_messages(client, graph, wa):
    owner, sid = await cloud_session(client, graph, wa)
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/messages", headers=owner,
                          json={"to": "+16505550000", "body": "Hello"})
    assert r.status_code == 201, r.text
    await ui_login(client, "owner@example.com", PASSWORD)
    page = (await client.get(f"/inbox/{r.json()['conversationId']}")).text
    assert 'data-state="unknown"' in page and "No message from this customer is stored" in page
