"""Updates that arrive before their message (issue 14 item 5): a reaction, edit, revoke or
receipt is kept, bounded by age and count, and applied when the message is stored or its
send is recorded, through the simulator engine over the real API and database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.helpers import API, bearer, register
from tests.support.polling import until
from tests.support.whatsapp import CUSTOMER, connected_session, simulate
from wacc.bus import org_topic
from wacc.engines.contract import Ack, Peer
from wacc.lib.clock import utcnow
from wacc.messages import early, outbound, updates
from wacc.messages.tables import EarlyUpdate, Message
from wacc.sessions.inbound import SessionRef

CUSTOMER_WA = "14155550123@c.us"


@pytest.fixture
async def owner(client):
    tokens = await register(client)
    return bearer(tokens["accessToken"])


async def meta_of(wa_id):
    row = await Message.select().where(Message.whatsapp_message_id == wa_id).output(
        load_json=True).first()
    return row and row["metadata"]


async def test_reaction_edit_and_revoke_before_the_message_are_applied_when_it_comes(
        client, owner, wa):
    await wa()
    sid, _ = await connected_session(client, owner)
    await simulate(client, owner, sid, "react", phone=CUSTOMER, message_id="LATE-1", emoji="👍")
    await simulate(client, owner, sid, "edit", phone=CUSTOMER, message_id="LATE-1",
                   body="See you at 5")
    await simulate(client, owner, sid, "react", phone=CUSTOMER, message_id="LATE-2", emoji="❤️")
    await simulate(client, owner, sid, "revoke", phone=CUSTOMER, message_id="LATE-2")
    assert await EarlyUpdate.count().where(EarlyUpdate.session == sid) == 4

    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="See you at 4", id="LATE-1")
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="oops", id="LATE-2")

    async def applied():
        one, two = await meta_of("LATE-1"), await meta_of("LATE-2")
        return one and two and "edits" in one and "revoked" in two and (one, two)

    one, two = await until(applied)
    row = await Message.select(Message.body).where(Message.whatsapp_message_id == "LATE-1").first()
    assert row["body"] == "See you at 5"
    assert one["edits"][0]["body"] == "See you at 4"
    assert one["reactions"] == {CUSTOMER_WA: "👍"}
    assert two["reactions"] == {CUSTOMER_WA: "❤️"} and two["revoked"]["body"] == "oops"
    # Applied once: nothing kept, and a replay of the message changes nothing.
    assert await EarlyUpdate.count().where(EarlyUpdate.session == sid) == 0
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="See you at 4", id="LATE-1")
    assert (await meta_of("LATE-1"))["reactionHistory"] == one["reactionHistory"]

    # The conversation shows it as a customer would see it.
    conv = (await client.get(f"{API}/conversations", headers=owner)).json()["items"][0]
    listed = (await client.get(f"{API}/conversations/{conv['id']}/messages", headers=owner)).json()
    bodies = {m["whatsappMessageId"]: m["body"] for m in listed["items"]}
    assert bodies["LATE-1"] == "See you at 5"


async def test_a_kept_update_expires_and_the_store_is_bounded(client, owner, wa, monkeypatch):
    await wa()
    sid, _ = await connected_session(client, owner)
    await simulate(client, owner, sid, "react", phone=CUSTOMER, message_id="OLD-1", emoji="👍")
    # A day later the message has not come: its reaction is no longer applied.
    await EarlyUpdate.update({EarlyUpdate.created_at: utcnow() - early.KEEP - timedelta(minutes=1)},
                             force=True)
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="hello", id="OLD-1")
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="marker", id="OLD-2")
    assert (await meta_of("OLD-1")).get("reactions") is None

    monkeypatch.setattr(early, "MAX_PER_SESSION", 3)
    for n in range(5):
        await simulate(client, owner, sid, "react", phone=CUSTOMER, message_id=f"NEVER-{n}",
                       emoji="👍")
    kept = await EarlyUpdate.select(EarlyUpdate.whatsapp_message_id).where(
        EarlyUpdate.session == sid).order_by(EarlyUpdate.created_at)
    # The oldest go first; the expired one was pruned on the way.
    assert [r["whatsapp_message_id"] for r in kept] == ["NEVER-2", "NEVER-3", "NEVER-4"]


async def test_a_receipt_before_the_send_is_recorded_moves_the_message_on(client, owner, wa, server):
    """The engine's read receipt can beat the send call's answer with the message's id."""
    await wa()
    sid, _ = await connected_session(client, owner)
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="Hi", id="IN-1")
    conv = (await client.get(f"{API}/conversations", headers=owner)).json()["items"][0]
    r = await client.post(f"{API}/conversations/{conv['id']}/messages", headers=owner,
                          json={"type": "TEXT", "body": "Hello!"})
    assert r.status_code == 201, r.text
    row = await Message.select().where(Message.id == r.json()["id"]).first()
    org = row["organization"]
    ref = SessionRef(sid, org)
    bus = server.app.state["runtime"].bus
    async with bus.subscribe(org_topic(org)) as events:
        # Read (3) arrives while wacc still waits for the send's answer: kept.
        assert not await updates.ack(bus, ref, Ack(id="OUT-77", chat=Peer(wa_id=CUSTOMER_WA), ack=3))
        assert await EarlyUpdate.count().where(EarlyUpdate.whatsapp_message_id == "OUT-77") == 1
        await outbound._record_sent(bus, row, "OUT-77")
        statuses = []
        async with asyncio.timeout(10):  # a missed event fails the test, never hangs it
            async for _, payload in events:
                if payload.get("type") == "message:ack" and payload["messageId"] == row["id"]:
                    statuses.append(payload["status"])
                if "READ" in statuses:
                    break
        assert statuses == ["SENT", "READ"]
    done = await Message.select().where(Message.id == row["id"]).first()
    assert (done["whatsapp_message_id"], done["status"], done["ack_status"]) == ("OUT-77", "READ", 3)
    assert await EarlyUpdate.count() == 0
