"""The auto-responder end to end: a customer writes through the simulator, the worker
answers from the knowledge base through a fake provider, and the answer reaches the
customer's phone; hand-offs assign round-robin and silence it, as does an agent's reply,
closed hours or a repeated event. Its configuration API: validation, roles, tenancy."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from tests.helpers import API, PASSWORD, add_member, assert_error, bearer, register
from tests.support.polling import until
from tests.support.responder import (
    CUSTOMER,
    OTHER_CUSTOMER,
    SENT,
    configure,
    customer_says,
    outbox,
    sent,
    settle,
)
from tests.support.tenancy import second_org
from tests.support.whatsapp import simulate
from tests.ui_support import ui_login
from wacc import events
from wacc.ai.responder import services as responder
from wacc.ai.tables import AiUsage
from wacc.conversations.tables import ConversationAssignment, ConversationEvent
from wacc.messages.tables import Message


async def test_a_customer_question_is_answered_from_the_knowledge_base(client, shop):
    await configure(client, shop)
    inbound = await customer_says(client, shop, "How long does delivery to Germany take?", "Q1")

    await sent(1)
    assert await outbox(client, shop) == [SENT]
    reply = await Message.select().where(
        (Message.conversation == inbound["conversation"]) & (Message.direction == "OUTBOUND")
    ).first()
    assert reply["is_ai_generated"] is True and reply["ai_provider"] == "anthropic"
    assert reply["ai_prompt_tokens"] > 0 and reply["ai_completion_tokens"] == 10
    meta = reply["metadata"] if isinstance(reply["metadata"], dict) else __import__(
        "json").loads(reply["metadata"])
    assert meta["citations"] == [{"articleId": shop["article"]["id"],
                                  "chunkId": meta["citations"][0]["chunkId"], "title": "Shipping"}]
    call = shop["fakes"].anthropic.calls("/v1/messages")[-1].json
    system = call["system"] if isinstance(call["system"], str) else " ".join(
        b["text"] for b in call["system"])
    assert "You answer for Acme. The customer is Carla Customer." in system
    assert "DHL" in system and "Unused bikes" not in system  # the passage that answers
    usage = await AiUsage.select().where(AiUsage.message_id == reply["id"]).first()
    assert usage["purpose"] == "reply" and usage["outcome"] == "ok"
    assert await ConversationAssignment.count() == 0
    # The inbox labels the AI's reply, as it names the agent who sent one (issue 16).
    await ui_login(client, "owner@example.com", PASSWORD)
    bubble = (await client.get(f"/ui/inbox/messages/{reply['id']}",
                               headers={"Accept": "text/html"})).text
    assert 'data-sent-by="ai"' in bubble and "AI reply</p>" in bubble


async def test_asking_for_a_human_assigns_round_robin_and_silences_the_ai(client, shop):
    await configure(client, shop)
    first = await customer_says(client, shop, "Can I talk to a human please?", "H1")
    second = await customer_says(client, shop, "Ich möchte einen Mitarbeiter sprechen",
                                 "H2", phone=OTHER_CUSTOMER)

    async def both_assigned():
        rows = await ConversationAssignment.select().order_by(ConversationAssignment.assigned_at)
        return len(rows) == 2 and rows

    rows = await until(both_assigned)
    owners = {r["conversation"]: r["user"] for r in rows}
    assert owners == {first["conversation"]: shop["agents"][0],
                      second["conversation"]: shop["agents"][1]}
    await settle(shop)
    assert await outbox(client, shop) == ["A colleague will take over."]
    assert await outbox(client, shop, OTHER_CUSTOMER) == ["A colleague will take over."]
    handoffs = await ConversationEvent.select(ConversationEvent.to_value).where(
        ConversationEvent.kind == "ai_handoff")
    assert sorted(h["to_value"] for h in handoffs) == ["handoff_requested"] * 2
    assert shop["fakes"].anthropic.calls("/v1/messages") == []  # no model was asked

    # The AI stays out of those conversations from now on.
    await customer_says(client, shop, "How long does delivery to Germany take?", "H3")
    await settle(shop)
    assert await outbox(client, shop) == ["A colleague will take over."]
    assert shop["fakes"].anthropic.calls("/v1/messages") == []


async def test_knowledge_base_only_says_nothing_it_does_not_know(client, shop):
    await configure(client, shop, knowledgeBaseOnly=True, handoffMessage=None)
    inbound = await customer_says(client, shop, "Do you sell parrots?", "K1")

    async def assigned():
        return await ConversationAssignment.select().first()

    assert (await until(assigned))["user"] == shop["agents"][0]
    await settle(shop)
    assert await outbox(client, shop) == []  # no invented answer, no message at all
    assert shop["fakes"].anthropic.calls("/v1/messages") == []
    event = await ConversationEvent.select().where(ConversationEvent.kind == "ai_handoff").first()
    assert (event["conversation"], event["to_value"]) == (inbound["conversation"], "no_knowledge")

    # Passages found, but the model says they do not answer: handed over as well.
    shop["fakes"].anthropic.reply = "HANDOFF"
    await configure(client, shop, knowledgeBaseOnly=True)
    await customer_says(client, shop, "Does DHL deliver to Germany on Sundays?", "K2",
                        phone=OTHER_CUSTOMER)

    async def second():
        return await ConversationAssignment.count() == 2

    await until(second)
    await settle(shop)
    assert await outbox(client, shop, OTHER_CUSTOMER) == ["A colleague will take over."]
    assert len(shop["fakes"].anthropic.calls("/v1/messages")) == 1
    rows = await ConversationAssignment.select().order_by(ConversationAssignment.assigned_at)
    assert [r["user"] for r in rows] == shop["agents"]  # round-robin


async def test_an_agent_reply_stops_the_ai_until_the_conversation_is_resolved(client, shop):
    await configure(client, shop)
    inbound = await customer_says(client, shop, "How long does delivery to Germany take?", "A1")
    cid = inbound["conversation"]

    await sent(1)
    assert await outbox(client, shop) == [SENT]
    r = await client.post(f"{API}/conversations/{cid}/messages", headers=shop["head"],
                          json={"body": "Hi, Olivia here. Let me check your order."})
    assert r.status_code == 201
    await customer_says(client, shop, "And delivery to Germany for returns?", "A2")
    await settle(shop)
    assert await outbox(client, shop) == [SENT, "Hi, Olivia here. Let me check your order."]
    assert await ConversationAssignment.count() == 0  # silent, not handed over

    # Resolved: the next question is the AI's again.
    version = (await client.get(f"{API}/conversations/{cid}", headers=shop["head"])).json()["version"]
    r = await client.patch(f"{API}/conversations/{cid}", headers=shop["head"],
                           json={"status": "RESOLVED", "version": version})
    assert r.status_code == 200, r.text
    await customer_says(client, shop, "Back again: delivery to Germany?", "A3")

    await sent(3)
    assert (await outbox(client, shop))[-1:] == [SENT]


async def test_closed_hours_keywords_and_low_confidence(client, shop):
    closed = await configure(client, shop, businessHours={"timezone": "Europe/Berlin", "days": {}})
    assert closed["openNow"] is False
    await customer_says(client, shop, "How long does delivery to Germany take?", "B1")
    await settle(shop)
    assert await outbox(client, shop) == [] and await ConversationAssignment.count() == 0

    always = {"timezone": "Pacific/Auckland",
              "days": {d: [["00:00", "24:00"]] for d in responder.DAYS}}
    opened = await configure(client, shop, businessHours=always, handoffKeywords=["invoice"],
                             minConfidence=0.9)
    assert opened["openNow"] is True
    await customer_says(client, shop, "I need my INVOICE", "B2", phone=OTHER_CUSTOMER)
    await customer_says(client, shop, "delivery?", "B3")

    async def both():
        return await ConversationEvent.count().where(ConversationEvent.kind == "ai_handoff") == 2

    await until(both)
    assert await ConversationAssignment.count() == 2
    reasons = {e["conversation"]: e["to_value"] for e in await ConversationEvent.select().where(
        ConversationEvent.kind == "ai_handoff")}
    assert sorted(reasons.values()) == ["handoff_keyword", "low_confidence"]
    assert shop["fakes"].anthropic.calls("/v1/messages") == []


async def test_the_same_event_twice_answers_once(client, shop, server):
    await configure(client, shop)
    inbound = await customer_says(client, shop, "How long does delivery to Germany take?", "D1")

    await sent(1)
    event = events.event("message.received", shop["org"], messageId=inbound["id"],
                         conversationId=inbound["conversation"], contactId="x",
                         sessionId=shop["sid"], type="TEXT", body=inbound["body"], fromMe=False,
                         newContact=False, newConversation=False)
    runtime = server.app.state["runtime"]
    assert await events.deliver(runtime, [event, event]) == 2
    assert await responder.answer(runtime, event) == "answered"  # seen: nothing done
    await settle(shop)
    assert await outbox(client, shop) == [SENT]
    assert len(shop["fakes"].anthropic.calls("/v1/messages")) == 1
    # A message from the business's phone is never answered.
    mine = {**event, "fromMe": True}
    assert await responder.answer(runtime, mine) == "ignored"


def test_handoff_phrases_keywords_and_business_hours():
    ask = responder.handoff_request
    assert ask("Can I speak to a HUMAN?", []) == "handoff_requested"
    assert ask("Je voudrais parler à un conseiller", []) == "handoff_requested"
    assert ask("Quiero hablar con un agente", []) == "handoff_requested"
    assert ask("That was humane of you", []) is None  # whole words only
    assert ask("Where is my invoice?", ["Invoice"]) == "handoff_keyword"
    assert ask("LATE   delivery!!", ["Late delivery"]) == "handoff_keyword"
    assert ask("delivery was late", ["Late delivery"]) is None

    hours = {"timezone": "Europe/Berlin", "days": {"mon": [["09:00", "12:00"], ["13:00", "24:00"]]}}
    monday = datetime(2026, 11, 30, tzinfo=UTC)  # Berlin is UTC+1 in winter
    assert responder.open_at(hours, monday.replace(hour=8, minute=30))
    assert not responder.open_at(hours, monday.replace(hour=11, minute=30))  # lunch
    assert responder.open_at(hours, monday.replace(hour=22, minute=59))
    assert not responder.open_at(hours, monday.replace(hour=23, minute=0))  # Tuesday there
    assert not responder.open_at(hours, monday.replace(day=29, hour=10))  # Sunday
    assert responder.open_at(None, monday)


# -- configuration ------------------------------------------------------------------------


async def test_configuration_is_validated_per_session(client, owner_only):
    head, sid, token, org = owner_only
    r = await client.get(f"{API}/whatsapp/sessions/{sid}/ai-responder", headers=head)
    assert r.status_code == 200
    assert r.json()["enabled"] is False and r.json()["updatedAt"] is None
    url = f"{API}/whatsapp/sessions/{sid}/ai-responder"
    good = {"enabled": True, "businessHours": {"timezone": "Europe/Berlin", "days": {
        "mon": [["09:00", "12:30"], ["13:30", "17:00"]]}},
        "handoffKeywords": [" Refund ", "réfund", "Late delivery"],
        "systemPrompt": "Hi {{contact.name}} from {{org.name}}", "minConfidence": 0.3}
    r = await client.put(url, headers=head, json=good)
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["handoffKeywords"] == ["Refund", "Late delivery"] and saved["minConfidence"] == 0.3
    assert saved["businessHours"]["days"]["mon"] == [["09:00", "12:30"], ["13:30", "17:00"]]
    bad = [
        {"systemPrompt": "Hello {{customer.first_name}}"},
        {"businessHours": {"timezone": "Mars/Olympus", "days": {}}},
        {"businessHours": {"timezone": "../../etc/passwd", "days": {}}},
        {"businessHours": {"timezone": "UTC", "days": {"mon": [["17:00", "09:00"]]}}},
        {"businessHours": {"timezone": "UTC", "days": {"mon": [["9:00", "17:00"]]}}},
        {"businessHours": {"timezone": "UTC", "days": {"someday": [["09:00", "17:00"]]}}},
        {"handoffKeywords": ["!!!"]}, {"handoffKeywords": [""]},
        {"minConfidence": 1.5}, {"enabled": "yes"}, {"bogus": True},
    ]
    for body in bad:
        r = await client.put(url, headers=head, json={**good, **body})
        assert_error(r, 400, "VALIDATION_ERROR")
    assert (await client.get(url, headers=head)).json() == saved

    manager = bearer((await add_member(client, token, org, "MANAGER"))["accessToken"])
    agent = bearer((await add_member(client, token, org, "AGENT"))["accessToken"])
    assert (await client.get(url, headers=manager)).status_code == 200
    assert_error(await client.put(url, headers=manager, json=good), 403, "AUTHORIZATION_ERROR")
    assert_error(await client.get(url, headers=agent), 403, "AUTHORIZATION_ERROR")


async def test_another_organizations_session_is_not_found(client, owner_only, server):
    head, sid, _, _ = owner_only
    other = bearer(await second_org(client, server))
    url = f"{API}/whatsapp/sessions/{sid}/ai-responder"
    assert_error(await client.get(url, headers=other), 404, "NOT_FOUND")
    assert_error(await client.put(url, headers=other, json={"enabled": True}), 404, "NOT_FOUND")
    assert (await client.get(url, headers=head)).json()["enabled"] is False


@pytest.fixture
async def owner_only(client):
    data = await register(client)
    head = bearer(data["accessToken"])
    r = await client.post(f"{API}/whatsapp/sessions", headers=head,
                          json={"name": "Front desk", "connect": False})
    return head, r.json()["id"], data["accessToken"], data["user"]["organizationId"]


async def test_a_message_that_cannot_be_answered_is_handed_over(client, shop):
    await configure(client, shop, fallbackMessage="Sorry, a colleague will answer.")
    await customer_says(client, shop, "How long does delivery to Germany take?", "L1")
    await sent(1)
    # A message delivered late, older than our answer: there is nothing after it to answer
    # in the conversation as the model sees it, so a person takes over.
    await simulate(client, shop["head"], shop["sid"], "message", phone=CUSTOMER, id="L2",
                   body="Also to Austria?", timestamp=time.time() - 3600)

    async def handed():
        return await ConversationEvent.select().where(ConversationEvent.kind == "ai_handoff").first()

    assert (await until(handed))["to_value"] == "providers_failed"
    await sent(2)
    assert await outbox(client, shop) == [SENT, "Sorry, a colleague will answer."]
    assert (await ConversationAssignment.select().first())["user"] == shop["agents"][0]
