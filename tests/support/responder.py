"""The auto-responder's shop (tests/conftest.py `shop`): configuring it, a customer
writing to it, and waiting for the worker's answers."""

from __future__ import annotations

import asyncio

from tests.helpers import API
from tests.support.polling import until
from tests.support.whatsapp import simulate
from wacc.messages.tables import Message

CUSTOMER, OTHER_CUSTOMER = "+14155550123", "+14155550124"
ARTICLE = ("# Delivery\n\nDelivery to Germany takes three to five business days with DHL.\n\n"
           "# Returns\n\nUnused bikes can be returned within 30 days.")
ANSWER = "Delivery to Germany takes three to five business days [1]."
# What the customer's phone shows: the citation marker stays in the message's metadata.
SENT = "Delivery to Germany takes three to five business days."


async def configure(client, shop, **changes):
    body = {"enabled": True, "systemPrompt": "You answer for {{org.name}}. The customer is "
            "{{contact.name}}.", "handoffMessage": "A colleague will take over."}
    body.update(changes)
    r = await client.put(f"{API}/whatsapp/sessions/{shop['sid']}/ai-responder",
                         headers=shop["head"], json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def outbox(client, shop, phone=CUSTOMER):
    r = await client.get(f"{API}/whatsapp/sessions/{shop['sid']}/simulator/outbox",
                         headers=shop["head"], params={"to": phone})
    return [m["body"] for m in r.json()]


async def sent(count: int) -> None:
    """Wait until *count* outbound messages have left (checked in the database, so the
    simulator's outbox is asked once, not polled into the rate limit)."""

    async def done():
        rows = await Message.select(Message.whatsapp_message_id).where(
            Message.direction == "OUTBOUND")
        return len([r for r in rows if not r["whatsapp_message_id"].startswith("pending:")]) == count

    await until(done)


async def settle(shop) -> None:
    """Let the worker finish every queued job (events, sends)."""
    huey = shop["worker"].huey

    async def idle():
        return huey.pending_count() == 0

    await until(idle)
    await asyncio.sleep(0.6)
    await until(idle)


async def customer_says(client, shop, body, msg_id, phone=CUSTOMER):
    await simulate(client, shop["head"], shop["sid"], "message", phone=phone, body=body,
                   id=msg_id, name="Carla Customer")

    async def stored():
        return await Message.select().where(Message.whatsapp_message_id == msg_id).first()

    return await until(stored)
