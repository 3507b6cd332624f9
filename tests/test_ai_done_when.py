"""Issue 6's "done when", as one story over real HTTP with the simulator and local fakes of
the providers' wire formats:

a customer's question is answered from the knowledge base within the budget; when the
first provider fails the second answers; when the customer asks for a human the
conversation is assigned round-robin and the AI stops; an automation tags and replies to
keyword messages, its runs are visible step by step, and a dry run shows its effect on
last week's messages."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import API
from tests.support.polling import until
from tests.support.responder import SENT, configure, customer_says, outbox, sent, settle
from wacc.conversations.tables import ConversationAssignment
from wacc.lib.clock import utcnow

# `shop` (tests/conftest.py): the fake providers and an organization with two agents, a
# simulator session, a knowledge-base article and an Anthropic provider.


async def test_the_whole_story(client, shop):
    head, fake = shop["head"], shop["fakes"]
    # A first provider that fails (OpenAI, priority 0) in front of the shop's Anthropic.
    r = await client.post(f"{API}/ai/providers", headers=head, json={
        "provider": "openai", "model": "gpt-4o-mini", "apiKey": fake.openai.key,
        "baseUrl": fake.openai.url + "/v1", "priority": 0})
    assert r.status_code == 201, r.text
    providers = (await client.get(f"{API}/ai/providers", headers=head)).json()
    anthropic = next(p for p in providers if p["provider"] == "ANTHROPIC")
    r = await client.patch(f"{API}/ai/providers/{anthropic['id']}", headers=head,
                           json={"priority": 10})
    assert r.status_code == 200, r.text
    # A budget: a daily spend cap and prices for both models.
    r = await client.patch(f"{API}/ai/settings", headers=head, json={
        "dailySpendCapUsd": 1.0,
        "prices": {"gpt-4o-mini": {"input": 0.15, "output": 0.6},
                   "claude-3-5-haiku-20241022": {"input": 0.8, "output": 4.0}}})
    assert r.status_code == 200, r.text
    await configure(client, shop)

    # 1. The question: OpenAI answers 500, Anthropic answers from the knowledge base.
    fake.openai.fail_next(5, status=500)
    await customer_says(client, shop, "How long does delivery to Germany take?", "S1")
    await sent(1)
    assert await outbox(client, shop) == [SENT]
    assert fake.openai.calls("/chat/completions"), "the first provider was tried"
    assert fake.anthropic.calls("/v1/messages"), "the second provider answered"
    usage = (await client.get(f"{API}/ai/usage", headers=head)).json()
    by_provider = {row["provider"].lower(): row for row in usage["items"]}
    assert by_provider["anthropic"]["completionTokens"] > 0
    assert by_provider["anthropic"]["failovers"] == 1  # it answered after a failover
    ai_settings = (await client.get(f"{API}/ai/settings", headers=head)).json()
    assert 0 < ai_settings["spentTodayUsd"] < ai_settings["dailySpendCapUsd"]  # within budget

    # 2. The customer asks for a human: assigned round-robin, and the AI stops.
    await customer_says(client, shop, "I want to talk to a human", "S2")

    async def assigned():
        return await ConversationAssignment.select().first()

    row = await until(assigned)
    assert row["user"] == shop["agents"][0]
    await settle(shop)
    calls_before = len(fake.anthropic.calls("/v1/messages"))
    await customer_says(client, shop, "Hello? Delivery to Germany?", "S3")
    await settle(shop)
    assert len(fake.anthropic.calls("/v1/messages")) == calls_before
    assert (await outbox(client, shop))[-1] == "A colleague will take over."

    # 3. An automation tags and replies to keyword messages, step by step in its log.
    tag = (await client.post(f"{API}/tags", headers=head, json={"name": "pricing"})).json()
    r = await client.post(f"{API}/automations", headers=head, json={
        "name": "Prices", "trigger": {"type": "message.received", "match": "keywords",
                                      "keywords": ["price"], "mode": "word"},
        "actions": [{"type": "add_tag", "tagId": tag["id"]},
                    {"type": "send_message", "text": "Our prices are on the menu."}]})
    assert r.status_code == 201, r.text
    automation = r.json()
    await customer_says(client, shop, "What is the price of a city bike?", "S4",
                        phone="+14155550177")

    async def finished():
        runs = (await client.get(f"{API}/automations/{automation['id']}/executions",
                                 headers=head)).json()
        return [x for x in runs["items"] if x["status"] == "COMPLETED"]

    run = (await until(finished, timeout=20))[0]
    detail = (await client.get(f"{API}/automations/{automation['id']}/executions/{run['id']}",
                               headers=head)).json()
    assert [(s["type"], s["outcome"]) for s in detail["logs"]][:2] == [
        ("add_tag", "done"), ("send_message", "done")]
    await settle(shop)
    # (The auto-responder, still on for this new customer, answers as well.)
    assert "Our prices are on the menu." in await outbox(client, shop, "+14155550177")
    tags = (await client.get(f"{API}/conversations/{run['conversationId']}",
                             headers=head)).json()["tags"]
    assert [t["name"] for t in tags] == ["pricing"]

    # 4. A dry run over last week's messages: the keyword message would fire, the others
    # not, and nothing is changed by trying.
    runs_before = len(await finished())
    since = (utcnow() - timedelta(days=7)).isoformat()
    r = await client.post(f"{API}/automations/{automation['id']}/dry-run", headers=head,
                          json={"since": since})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    fired = [i for i in items if i["triggered"] and i["conditionsMet"]]
    assert len(items) >= 4 and len(fired) == 1
    assert len(await finished()) == runs_before
