"""Choosing an agent: round-robin rotates fairly, least-busy balances load, capacity is
respected, and nobody free leaves the conversation unassigned."""

from __future__ import annotations

import pytest

from tests.helpers import API, add_member
from tests.support.polling import until
from tests.support.whatsapp import simulate
from wacc.conversations import routing
from wacc.conversations.tables import ConversationAssignment


@pytest.fixture
def inbox(conversation_inbox):
    """An organization with a session and two conversations (tests/conftest.py)."""
    return conversation_inbox


async def _conversations(client, inbox, n: int) -> list[str]:
    for i in range(n - 2):
        await simulate(client, inbox["head"], inbox["sid"], "message",
                       phone=f"+1415555020{i}", body="hello", id=f"R{i}")

    async def all_there():
        r = await client.get(f"{API}/conversations", headers=inbox["head"])
        items = r.json()["items"]
        return len(items) == n and [i["id"] for i in items]

    return await until(all_there)


async def test_round_robin_least_busy_and_capacity(client, inbox, server):
    org, bus = inbox["org"], server.app.state["runtime"].bus
    owner = inbox["tokens"]["accessToken"]
    ana = (await add_member(client, owner, org, "AGENT", "ana@example.com"))["user"]["id"]
    bob = (await add_member(client, owner, org, "AGENT", "bob@example.com"))["user"]["id"]
    await add_member(client, owner, org, "VIEWER")  # never routed to
    ids = await _conversations(client, inbox, 5)

    # Round-robin: Ana, Bob, Ana, Bob — whoever waited longest goes next.
    chosen = [await routing.assign_next(org, cid, bus=bus) for cid in ids[:4]]
    assert chosen == [ana, bob, ana, bob]
    r = await client.get(f"{API}/conversations/{ids[0]}", headers=inbox["head"])
    assert r.json()["assignees"] == [ana]
    history = (await client.get(f"{API}/conversations/{ids[0]}/history",
                                headers=inbox["head"])).json()
    assert [(e["kind"], e["toValue"]) for e in history] == [("assigned", ana)]
    # Assigning again changes nothing.
    assert await routing.assign_next(org, ids[0], bus=bus, user_ids=[ana]) == ana
    assert await ConversationAssignment.count() == 4

    # Least-busy: Bob resolves one, so he has less on his plate.
    r = await client.get(f"{API}/conversations/{ids[1]}", headers=inbox["head"])
    await client.patch(f"{API}/conversations/{ids[1]}", headers=inbox["head"],
                       json={"status": "RESOLVED", "version": r.json()["version"]})
    assert await routing.choose(org, "least_busy") == bob

    # Capacity: both full at 2 open conversations (Bob now holds 1) → Bob, then nobody.
    r = await client.patch(f"{API}/organizations/{org}", headers=inbox["head"],
                           json={"settings": {"defaultAgentCapacity": 2}})
    assert r.status_code == 200, r.text
    assert await routing.assign_next(org, ids[4], bus=bus, strategy="least_busy") == bob
    assert await routing.choose(org) is None
    # A named list narrows the candidates; another organization's ids never match.
    assert await routing.choose(org, user_ids=["someone-else"]) is None
