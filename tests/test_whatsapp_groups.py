"""Groups, status updates and channels through the simulator engine over the real API,
and resuming a session that stopped with QR_TIMEOUT (issue 11 items 5 and 3)."""

from __future__ import annotations

import pytest

from tests.helpers import API, PASSWORD, assert_error, bearer, register
from tests.simulator_support import (
    connected_session,
    new_session,
    org_id,
    session_in,
    set_org_settings,
    simulate,
    until,
)
from tests.ui_support import ui_login
from wacc.contacts.tables import Contact
from wacc.conversations.tables import Conversation
from wacc.messages.tables import Message

# A group id as WhatsApp Web gives it (wa-js `WPP.whatsapp.Wid`, server "g.us"; group
# ids of groups made since 2022 are "1203…" followed by the creation time).
GROUP = "120363041234567890@g.us"
ANA, BEN = "+14155550101", "+14155550102"


@pytest.fixture
async def owner(client):
    tokens = await register(client)
    return bearer(tokens["accessToken"])


async def test_groups_are_ignored_by_default(client, owner, wa):
    await wa()
    oid = await org_id(client, owner)
    org = (await client.get(f"{API}/organizations/{oid}", headers=owner)).json()
    assert org["settings"]["ignoreGroups"] is True
    sid = await connected_session(client, owner)
    await simulate(client, owner, sid, "message", phone=ANA, name="Ana", group=GROUP,
                   subject="Shop team", body="who has the keys?", id="G-IGNORED")
    await simulate(client, owner, sid, "message", phone=BEN, body="hello", id="DIRECT-1")
    await until(lambda: Message.exists().where(Message.whatsapp_message_id == "DIRECT-1"))
    assert not await Message.exists().where(Message.whatsapp_message_id == "G-IGNORED")
    assert not await Contact.exists().where(Contact.whatsapp_id == GROUP)


async def test_a_group_is_a_conversation_of_its_own_when_not_ignored(client, owner, wa, worker):
    await wa()
    await set_org_settings(client, owner, ignoreGroups=False)
    sid = await connected_session(client, owner)
    await simulate(client, owner, sid, "message", phone=ANA, name="Ana Alves", group=GROUP,
                   subject="Shop team", body="who has the keys?", id="G-1")
    await simulate(client, owner, sid, "message", phone=BEN, name="Ben Bauer", group=GROUP,
                   subject="Shop team", body="I do", id="G-2")
    await until(lambda: Message.exists().where(Message.whatsapp_message_id == "G-2"))
    group = await Contact.select().where(Contact.whatsapp_id == GROUP).first()
    assert group["name"] == "Shop team" and group["phone_number"] == ""
    # The participants are not contacts of their own: the group is the peer.
    assert not await Contact.exists().where(Contact.phone_number.is_in([ANA, BEN]))
    threads = await Conversation.select().where(Conversation.contact == group["id"])
    assert len(threads) == 1
    cid = threads[0]["id"]
    listed = (await client.get(f"{API}/conversations/{cid}/messages", headers=owner)).json()
    by_id = {m["whatsappMessageId"]: m["metadata"] for m in listed["items"]}
    assert by_id["G-1"]["senderName"] == "Ana Alves" and by_id["G-1"]["senderPhone"] == ANA
    assert by_id["G-2"]["senderName"] == "Ben Bauer" and by_id["G-2"]["group"] is True

    # The subject follows a rename.
    await simulate(client, owner, sid, "message", phone=ANA, name="Ana Alves", group=GROUP,
                   subject="Shop team (Lyon)", body="renamed", id="G-3")
    await until(lambda: Message.exists().where(Message.whatsapp_message_id == "G-3"))
    assert (await Contact.select(Contact.name).where(Contact.id == group["id"]).first())[
        "name"] == "Shop team (Lyon)"

    # Each inbound bubble in the inbox names its writer.
    await ui_login(client, "owner@example.com", PASSWORD)
    page = (await client.get(f"/ui/inbox/conversation/{cid}/messages")).text
    assert page.index("Ana Alves") < page.index("who has the keys?") < page.index(
        "Ben Bauer") < page.index("I do")

    # A reply goes to the group, not to a participant.
    r = await client.post(f"{API}/conversations/{cid}/messages", headers=owner,
                          json={"body": "Thanks both", "idempotencyKey": "group-reply-1"})
    assert r.status_code == 201, r.text
    mid = r.json()["id"]

    async def sent():
        m = (await client.get(f"{API}/messages/{mid}", headers=owner)).json()
        return m["status"] in ("SENT", "DELIVERED") and m

    await until(sent)
    outbox = (await client.get(f"{API}/whatsapp/sessions/{sid}/simulator/outbox",
                               headers=owner)).json()
    assert [(m["to"], m["body"]) for m in outbox] == [(GROUP, "Thanks both")]


@pytest.mark.parametrize("chat", ["status@broadcast", "120363099999999999@newsletter",
                                  "1733600000@broadcast"])
async def test_status_updates_channels_and_broadcast_lists_never_become_conversations(
        client, owner, wa, chat):
    await wa()
    await set_org_settings(client, owner, ignoreGroups=False)  # even with groups on
    sid = await connected_session(client, owner)
    await simulate(client, owner, sid, "message", phone=ANA, name="Ana", chat=chat,
                   body="my holiday photos", id="FEED-1")
    await simulate(client, owner, sid, "message", phone=BEN, body="after", id="AFTER-1")
    await until(lambda: Message.exists().where(Message.whatsapp_message_id == "AFTER-1"))
    assert not await Message.exists().where(Message.whatsapp_message_id == "FEED-1")
    assert not await Contact.exists().where(Contact.whatsapp_id == chat)
    assert not await Contact.exists().where(Contact.phone_number == ANA)
    assert await Conversation.count() == 1


async def test_ignore_groups_setting_api_and_page(client, owner):
    oid = await org_id(client, owner)
    r = await client.patch(f"{API}/organizations/{oid}", headers=owner,
                           json={"settings": {"ignoreGroups": "yes"}})
    assert_error(r, 400, "VALIDATION_ERROR")
    changed = await set_org_settings(client, owner, ignoreGroups=False, timezone="Europe/Paris")
    assert changed["settings"]["ignoreGroups"] is False
    kept = await set_org_settings(client, owner, timezone="UTC")  # a PATCH keeps the rest
    assert kept["settings"]["ignoreGroups"] is False
    await ui_login(client, "owner@example.com", PASSWORD)
    page = (await client.get("/settings/organization")).text
    box = page[page.index('name="settings.ignoreGroups"') - 40:
               page.index('name="settings.ignoreGroups"') + 60]
    assert "checked" not in box
    await set_org_settings(client, owner, ignoreGroups=True)
    page = (await client.get("/settings/organization")).text
    box = page[page.index('name="settings.ignoreGroups"'):
               page.index('name="settings.ignoreGroups"') + 60]
    assert "checked" in box


async def test_qr_timeout_is_resumed_with_one_call_without_deleting_the_session(
        client, owner, wa):
    await wa()
    sid = await new_session(client, owner, settings={"max_qr": 2})
    await simulate(client, owner, sid, "message", phone=ANA, body="kept", offline=True)
    await simulate(client, owner, sid, "qr")  # the second code, unscanned
    await simulate(client, owner, sid, "qr")  # a third would exceed max_qr: QR_TIMEOUT
    stopped = await session_in(client, owner, sid, "DISCONNECTED")
    assert stopped["lastError"].startswith("QR_TIMEOUT")
    assert stopped["desiredState"] == "DISCONNECTED"  # not retried by itself
    await ui_login(client, "owner@example.com", PASSWORD)
    detail = (await client.get(f"/sessions/{sid}")).text
    assert "Nobody scanned the QR code in time" in detail
    listing = (await client.get("/ui/sessions/rows")).text
    assert f"/api/v1/whatsapp/sessions/{sid}/connect" in listing  # the one click

    r = await client.post(f"{API}/whatsapp/sessions/{sid}/connect", headers=owner)
    assert r.status_code == 200, r.text
    again = await session_in(client, owner, sid, "QR_READY")
    assert again["id"] == sid
    qr = (await client.get(f"{API}/whatsapp/sessions/{sid}/qr", headers=owner)).json()
    assert qr["qr"].endswith(":1")  # codes count from one again
    await simulate(client, owner, sid, "scan")
    connected = await session_in(client, owner, sid, "CONNECTED")
    assert connected["lastError"] is None
    sessions = (await client.get(f"{API}/whatsapp/sessions", headers=owner)).json()
    assert [s["id"] for s in sessions] == [sid]
