"""Sends a crash interrupted are resolved within a minute (issue 14 item 5): a claim held
by a worker that no longer beats is queued again where the engine finds a repeated send
by its key (the simulator, WhatsApp Web), and failed in words where it cannot (the Cloud
API); a claim whose worker is alive is left alone. Real database, queue and engines."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.cloud_support import cloud_session, customer_writes
from tests.fakes.graph_api import FakeGraphAPI
from tests.helpers import API, bearer, register
from tests.support.polling import until
from tests.support.whatsapp import CUSTOMER, connected_session, simulate
from wacc.lib.clock import utcnow
from wacc.messages import outbound
from wacc.messages.tables import Message
from wacc.system import services as system

DEAD = "worker-box:999999"  # a worker that crashed: no heartbeat


@pytest.fixture
async def owner(client):
    return bearer((await register(client))["accessToken"])


@pytest.fixture
async def graph():
    async with FakeGraphAPI().serve() as fake:
        yield fake


async def claimed_by(message_id: str, process: str, ago: timedelta) -> None:
    """What a worker leaves behind when it dies between claiming a send and its answer."""
    await Message.update({Message.claimed_at: utcnow() - ago, Message.claimed_by: process}).where(
        Message.id == message_id)


async def queued_reply(client, head, conversation_id: str, body: str) -> str:
    r = await client.post(f"{API}/conversations/{conversation_id}/messages", headers=head,
                          json={"type": "TEXT", "body": body})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def sweep(server) -> int:
    rt = server.app.state["runtime"]
    return await outbound.sweep_interrupted(rt.bus, rt.engines, heartbeat_seconds=10)


async def test_a_crashed_workers_send_goes_out_once_and_a_live_ones_is_left(
        client, owner, wa, server):
    await wa()
    sid, _ = await connected_session(client, owner)
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="Open today?", id="IN-1")
    conv = (await client.get(f"{API}/conversations", headers=owner)).json()["items"][0]["id"]
    # No worker yet: the replies wait PENDING, as they would behind a busy queue.
    crashed = await queued_reply(client, owner, conv, "Yes, until 6.")
    busy = await queued_reply(client, owner, conv, "And tomorrow too.")
    await claimed_by(crashed, DEAD, timedelta(seconds=45))
    # A live worker (it beats) still waiting on the engine: not touched.
    await system.beat("worker")
    await claimed_by(busy, system.process_id(), timedelta(seconds=45))
    # Too young to judge, even from a dead worker: its heartbeat may only be late.
    young = await queued_reply(client, owner, conv, "See you!")
    await claimed_by(young, DEAD, timedelta(seconds=5))

    assert await sweep(server) == 1
    rows = {r["id"]: r for r in await Message.select().where(Message.conversation == conv)}
    assert rows[crashed]["claimed_at"] is None and rows[crashed]["status"] == "PENDING"
    assert rows[busy]["claimed_by"] == system.process_id()
    assert rows[young]["claimed_by"] == DEAD


async def test_the_requeued_send_reaches_the_customer_once(client, owner, wa, server, worker):
    await wa()
    sid, _ = await connected_session(client, owner)
    await simulate(client, owner, sid, "message", phone=CUSTOMER, body="Hi", id="IN-2")
    conv = (await client.get(f"{API}/conversations", headers=owner)).json()["items"][0]["id"]
    mid = await queued_reply(client, owner, conv, "Hello!")

    async def sent():
        row = await Message.select().where(Message.id == mid).first()
        return row["status"] in ("SENT", "DELIVERED", "READ") and row

    first = await until(sent, timeout=30)
    # The worker died after the engine sent it but before wacc recorded that: the row is
    # claimed and PENDING again, as the crash left it.
    await Message.update({Message.status: "PENDING", Message.claimed_at: utcnow() - timedelta(
        minutes=1), Message.claimed_by: DEAD, Message.whatsapp_message_id: f"pending:{mid}",
        Message.ack_status: None}).where(Message.id == mid)
    assert await sweep(server) == 1
    again = await until(sent, timeout=30)
    # The engine recognised its key: the same WhatsApp message, not a second one.
    assert again["whatsapp_message_id"] == first["whatsapp_message_id"]
    assert await Message.count().where(Message.conversation == conv) == 2


async def test_a_cloud_send_a_crash_interrupted_fails_in_words(client, graph, wa, server):
    head, sid = await cloud_session(client, graph, wa)
    conv = await customer_writes(client, graph, sid, "16505551234", message_id="wamid.IN3")
    mid = await queued_reply(client, head, conv, "Your order shipped.")
    await claimed_by(mid, DEAD, timedelta(seconds=45))
    assert await sweep(server) == 1
    row = await Message.select().where(Message.id == mid).first()
    assert row["status"] == "FAILED"
    assert "interrupted during sending" in row["error"] and "check the phone" in row["error"]
    assert graph.sent() == []  # nothing went to Meta: at most once
