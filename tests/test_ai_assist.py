"""Agent assist: a suggested reply from the knowledge base, a summary, a rewrite in a
tone — drafts only, never sent; usage recorded as "assist"; the inbox's visibility
rules and roles apply."""

from __future__ import annotations

import pytest

from tests.helpers import API, add_member, assert_error, bearer, register
from tests.support.polling import until
from tests.support.tenancy import second_org
from tests.support.whatsapp import connected_session, simulate
from wacc.ai.tables import AiUsage
from wacc.messages.tables import Message

CUSTOMER = "+14155550123"


@pytest.fixture
async def inbox(client, wa, fakes):
    """A customer's question in a conversation, an OpenAI provider and an article."""
    data = await register(client)
    head, org = bearer(data["accessToken"]), data["user"]["organizationId"]
    r = await client.post(f"{API}/ai/providers", headers=head, json={
        "provider": "openai", "model": "gpt-4o-mini", "apiKey": fakes.openai.key,
        "baseUrl": fakes.openai.url + "/v1"})
    assert r.status_code == 201, r.text
    r = await client.post(f"{API}/ai/knowledge-base", headers=head, json={
        "title": "Repairs", "content": "Brake repairs cost 25 euros and take one day."})
    article = r.json()
    await wa()
    sid, _ = await connected_session(client, head)
    await simulate(client, head, sid, "message", phone=CUSTOMER, id="W1",
                   body="How much is a brake repair?", name="Carla Customer")

    async def stored():
        return await Message.select().where(Message.whatsapp_message_id == "W1").first()

    message = await until(stored)
    return {"head": head, "org": org, "token": data["accessToken"], "fakes": fakes,
            "cid": message["conversation"], "article": article}


def _url(inbox, action):
    return f"{API}/conversations/{inbox['cid']}/ai/{action}"


def _last_chat(fakes):
    return fakes.openai.calls("/chat/completions")[-1].json


async def test_suggest_drafts_a_reply_from_the_knowledge_base_and_sends_nothing(client, inbox):
    fakes = inbox["fakes"]
    fakes.openai.reply = "A brake repair costs 25 euros [1]."
    r = await client.post(_url(inbox, "suggest"), headers=inbox["head"],
                          json={"hint": "mention the one-day turnaround"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["text"] == "A brake repair costs 25 euros [1]."
    assert [c["articleId"] for c in out["citations"]] == [inbox["article"]["id"]]
    assert out["provider"] == "openai" and out["model"].startswith("gpt-4o-mini")
    sent = _last_chat(fakes)
    prompt = " ".join(m["content"] for m in sent["messages"])
    assert "25 euros and take one day" in prompt  # the passage
    assert "mention the one-day turnaround" in prompt and "How much is a brake repair?" in prompt
    assert await Message.count().where(Message.direction == "OUTBOUND") == 0
    usage = await AiUsage.select().where(AiUsage.organization == inbox["org"])
    assert [u["purpose"] for u in usage] == ["assist"] and usage[0]["prompt_tokens"] > 0

    # No body at all is a suggestion without a hint.
    r = await client.post(_url(inbox, "suggest"), headers=inbox["head"])
    assert r.status_code == 200, r.text


async def test_summarize_and_rewrite(client, inbox):
    fakes = inbox["fakes"]
    fakes.openai.reply = "- Carla asks what a brake repair costs."
    r = await client.post(_url(inbox, "summarize"), headers=inbox["head"])
    assert r.status_code == 200, r.text
    assert r.json()["text"] == "- Carla asks what a brake repair costs."
    assert r.json()["citations"] == []
    assert "Summarise this conversation" in str(_last_chat(fakes)["messages"])

    fakes.openai.reply = "Dear Carla, a brake repair costs 25 euros."
    r = await client.post(_url(inbox, "rewrite"), headers=inbox["head"],
                          json={"text": "its 25 bucks", "tone": "formal"})
    assert r.status_code == 200, r.text
    assert r.json()["text"] == "Dear Carla, a brake repair costs 25 euros."
    asked = str(_last_chat(fakes)["messages"])
    assert "formal, polite" in asked and "its 25 bucks" in asked

    calls = len(fakes.openai.calls("/chat/completions"))
    for body in ({"text": "x", "tone": "sarcastic"}, {"text": "   ", "tone": "short"},
                 {"tone": "short"}, {"text": "x" * 4097, "tone": "short"}):
        assert_error(await client.post(_url(inbox, "rewrite"), headers=inbox["head"], json=body),
                     400, "VALIDATION_ERROR")
    assert len(fakes.openai.calls("/chat/completions")) == calls
    assert await Message.count().where(Message.direction == "OUTBOUND") == 0
    assert await AiUsage.count().where(AiUsage.purpose == "assist") == 2


async def test_failures_are_clear_errors(client, inbox):
    inbox["fakes"].openai.fail_next(1, status=500)
    assert_error(await client.post(_url(inbox, "summarize"), headers=inbox["head"]), 503,
                 "SERVICE_UNAVAILABLE")
    providers = (await client.get(f"{API}/ai/providers", headers=inbox["head"])).json()
    await client.delete(f"{API}/ai/providers/{providers[0]['id']}", headers=inbox["head"])
    assert_error(await client.post(_url(inbox, "suggest"), headers=inbox["head"], json={}),
                 409, "CONFLICT")


async def test_roles_visibility_and_other_organizations(client, inbox, server):
    token, org = inbox["token"], inbox["org"]
    viewer = bearer((await add_member(client, token, org, "VIEWER"))["accessToken"])
    agent_data = await add_member(client, token, org, "AGENT")
    agent = bearer(agent_data["accessToken"])
    inbox["fakes"].openai.reply = "Draft."
    assert_error(await client.post(_url(inbox, "summarize"), headers=viewer), 403,
                 "AUTHORIZATION_ERROR")
    assert (await client.post(_url(inbox, "summarize"), headers=agent)).status_code == 200

    # Limited to their own conversations, an agent cannot have others' summarised.
    r = await client.patch(f"{API}/organizations/{org}", headers=inbox["head"],
                           json={"settings": {"agentsSeeOwnConversationsOnly": True}})
    assert r.status_code == 200, r.text
    calls = len(inbox["fakes"].openai.calls("/chat/completions"))
    for action, body in (("summarize", None), ("suggest", {}),
                         ("rewrite", {"text": "hi", "tone": "short"})):
        assert_error(await client.post(_url(inbox, action), headers=agent, json=body), 404,
                     "NOT_FOUND")
    r = await client.post(f"{API}/conversations/{inbox['cid']}/assign", headers=inbox["head"],
                          json={"userIds": [agent_data["user"]["id"]]})
    assert r.status_code == 200
    assert (await client.post(_url(inbox, "summarize"), headers=agent)).status_code == 200

    other = bearer(await second_org(client, server))
    assert_error(await client.post(_url(inbox, "summarize"), headers=other), 404, "NOT_FOUND")
    assert len(inbox["fakes"].openai.calls("/chat/completions")) == calls + 1
