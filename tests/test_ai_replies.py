"""Reply generation against fakes of the providers over real HTTP (the real SDKs talk
to them): failover, breakers, hangs and garbage, the organization's rate limit, spend
cap and cache, the context window, knowledge-only answers, and the AI message sent."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.fakes.ai_providers import count_tokens
from tests.helpers import API, bearer, register
from wacc.ai.guardrails import answer_cache_of
from wacc.ai.providers.router import router_of
from wacc.ai.responder.replies import generate_reply, send_ai_message
from wacc.ai.tables import AiUsage
from wacc.ai.types import Passage
from wacc.lib.clock import utcnow
from wacc.lib.errors import NotFoundError, ValidationError
from wacc.lib.ids import new_id
from wacc.messages.tables import Message


@pytest.fixture
def rt(server) -> Any:
    runtime = server.app.state["runtime"]
    router_of(runtime)._breakers.clear()
    answer_cache_of(runtime)._memory.clear()
    return runtime


class Org:
    def __init__(self, client, head, org_id, conversation_id, session_id, fakes) -> None:
        self.client, self.head, self.id = client, head, org_id
        self.conversation, self.session, self.fakes = conversation_id, session_id, fakes
        self.clock = utcnow() - timedelta(hours=1)

    async def provider(self, kind: str, **changes: object) -> dict[str, Any]:
        fake = self.fakes.of(kind)
        body: dict[str, Any] = {
            "provider": kind, "name": f"{kind}-main", "apiKey": fake.key,
            "model": {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-haiku-20241022",
                      "gemini": "gemini-2.0-flash"}[kind],
            "baseUrl": fake.url + "/v1" if kind == "openai" else fake.url}
        body.update(changes)
        r = await self.client.post(f"{API}/ai/providers", headers=self.head, json=body)
        assert r.status_code == 201, r.text
        return r.json()

    async def settings(self, **changes: object) -> None:
        r = await self.client.patch(f"{API}/ai/settings", headers=self.head, json=changes)
        assert r.status_code == 200, r.text

    async def say(self, *texts: str, inbound: bool = True) -> None:
        for text in texts:
            self.clock += timedelta(seconds=1)
            mid = new_id()
            await Message.insert(Message(
                id=mid, organization=self.id, conversation=self.conversation, session=self.session,
                whatsapp_message_id=f"wa-{mid}", direction="INBOUND" if inbound else "OUTBOUND",
                type="TEXT", body=text, status="DELIVERED", timestamp=self.clock))


@pytest.fixture
async def org(client, servers) -> Org:
    servers.reset()
    data = await register(client)
    head = bearer(data["accessToken"])
    r = await client.post(f"{API}/whatsapp/sessions", headers=head, json={"name": "Shop", "connect": False})
    session_id = r.json()["id"]
    r = await client.post(f"{API}/whatsapp/sessions/{session_id}/messages", headers=head,
                          json={"to": "+14155550199", "body": "Welcome to Acme Bikes"})
    assert r.status_code in (200, 201, 202), r.text
    conversation_id = r.json()["conversationId"]
    await Message.delete().where(Message.conversation == conversation_id)
    contact = (await client.get(f"{API}/contacts", headers=head)).json()["items"][0]
    await client.patch(f"{API}/contacts/{contact['id']}", headers=head, json={"name": "Carla Customer"})
    return Org(client, head, data["user"]["organizationId"], conversation_id, session_id, servers)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value  # JSON text on SQLite


async def _usage() -> list[dict[str, Any]]:
    rows = await AiUsage.select().order_by(AiUsage.created_at)
    return [{**r, "attempts": _json(r["attempts"])} for r in rows]


async def test_answer_with_usage_prompt_and_cost(rt, org):
    await org.provider("openai")
    await org.settings(systemPrompt="You answer for {{org.name}}; the customer is {{contact.name}}.")
    await org.say("Do you repair brakes?")
    org.fakes.openai.reply = "Yes, we repair brakes."
    result = await generate_reply(rt, org.id, org.conversation)
    assert (result.text, result.reason, result.handoff) == ("Yes, we repair brakes.", "answered", False)
    [request] = org.fakes.openai.calls("/chat/completions")
    system, *turns = request.json["messages"]
    assert system["role"] == "system"
    assert system["content"].startswith("You answer for Acme; the customer is Carla Customer.")
    assert turns == [{"role": "user", "content": "Do you repair brakes?"}]
    [usage] = await _usage()
    assert usage["id"] == result.usage_id and usage["outcome"] == "ok" and not usage["failed_over"]
    assert (usage["provider_type"], usage["provider_name"]) == ("openai", "openai-main")
    assert usage["model"] == "gpt-4o-mini-2024-07-18"
    assert usage["prompt_tokens"] == count_tokens(system["content"], "Do you repair brakes?")
    assert usage["completion_tokens"] == 4
    # gpt-4o-mini list price: $0.15 / $0.60 per million tokens, rounded up to a micro-dollar.
    expected = (usage["prompt_tokens"] * 0.15 + 4 * 0.60)
    assert usage["cost_micros"] == -(-int(expected * 1000) // 1000)

    r = await org.client.get(f"{API}/ai/usage", headers=org.head)
    [row] = r.json()["items"]
    assert (row["calls"], row["promptTokens"], row["failovers"], row["cacheHits"]) == (
        1, usage["prompt_tokens"], 0, 0)
    assert row["costUsd"] == pytest.approx(usage["cost_micros"] / 1e6)


async def test_failover_to_the_second_provider_is_recorded(rt, org):
    await org.provider("openai")
    await org.provider("anthropic")
    await org.say("Are you open on Sunday?")
    org.fakes.openai.fail_next(status=503)
    result = await generate_reply(rt, org.id, org.conversation)
    assert result.reason == "answered" and result.text == "You said: Are you open on Sunday?"
    [usage] = await _usage()
    assert usage["failed_over"] is True and usage["provider_type"] == "anthropic"
    assert [(a["provider"], a["outcome"]) for a in usage["attempts"]] == [
        ("openai-main", "unavailable"), ("anthropic-main", "ok")]
    r = await org.client.get(f"{API}/ai/usage", headers=org.head)
    assert [i["failovers"] for i in r.json()["items"]] == [1]


async def test_rate_limited_provider_opens_its_breaker_and_is_skipped(rt, org):
    await org.provider("openai")
    await org.provider("gemini")
    await org.settings(cacheTtlSeconds=0)
    await org.say("Price of a tune-up?")
    org.fakes.openai.rate_limit_next(retry_after=60)
    assert (await generate_reply(rt, org.id, org.conversation)).reason == "answered"
    assert len(org.fakes.openai.requests) == 1
    second = await generate_reply(rt, org.id, org.conversation)
    assert second.reason == "answered"
    assert len(org.fakes.openai.requests) == 1  # skipped: its circuit is open
    usage = await _usage()
    assert [a["outcome"] for a in usage[0]["attempts"]] == ["rate_limited", "ok"]
    assert [a["outcome"] for a in usage[1]["attempts"]] == ["circuit_open", "ok"]


async def test_hang_and_garbage_fail_over_and_all_failing_gives_the_fallback(rt, org):
    await org.provider("openai", timeoutSeconds=1)
    await org.provider("anthropic", timeoutSeconds=1)
    await org.settings(cacheTtlSeconds=0)
    await org.say("Hello?")
    org.fakes.openai.hang_next()
    org.fakes.anthropic.garbage_next()
    result = await generate_reply(rt, org.id, org.conversation)
    assert (result.text, result.reason, result.handoff) == (None, "providers_failed", True)
    [usage] = await _usage()
    assert usage["outcome"] == "all_failed" and usage["failed_over"]
    assert [a["outcome"] for a in usage["attempts"]] == ["timeout", "bad_response"]
    assert usage["latency_ms"] < 5000

    await org.settings(timeoutFallbackMessage="A colleague will answer shortly.")
    org.fakes.openai.garbage_next()
    org.fakes.anthropic.fail_next(status=500)
    result = await generate_reply(rt, org.id, org.conversation)
    assert (result.text, result.reason) == ("A colleague will answer shortly.", "providers_failed")
    message_id = await send_ai_message(rt, org.id, org.conversation, result)
    row = await Message.select().where(Message.id == message_id).first()
    assert row["body"] == "A colleague will answer shortly." and row["is_ai_generated"]
    assert row["ai_model"] is None  # no model wrote it


async def test_wrong_key_fails_over_and_says_auth(rt, org):
    await org.provider("openai", apiKey="sk-wrong")
    await org.provider("anthropic")
    await org.say("Hi")
    assert (await generate_reply(rt, org.id, org.conversation)).reason == "answered"
    [usage] = await _usage()
    assert [a["outcome"] for a in usage["attempts"]] == ["auth", "ok"]
    assert "sk-wrong" not in str(usage["attempts"])


async def test_organization_rate_limit(rt, org):
    await org.provider("openai")
    await org.settings(requestsPerMinute=2, cacheTtlSeconds=0)
    await org.say("One question")
    assert [(await generate_reply(rt, org.id, org.conversation)).reason for _ in range(3)] == [
        "answered", "answered", "rate_limited"]
    assert len(org.fakes.openai.requests) == 2
    usage = await _usage()
    assert usage[-1]["outcome"] == "rate_limited" and usage[-1]["attempts"] == []
    r = await org.client.get(f"{API}/ai/usage", headers=org.head)
    assert sum(i["refused"] for i in r.json()["items"]) == 1


async def test_spend_cap_stops_calls_before_any_request(rt, org):
    await org.provider("openai")
    await org.settings(dailySpendCapUsd=0.01, cacheTtlSeconds=0)
    await AiUsage.insert(AiUsage(id=new_id(), organization=org.id, cost_micros=10_000, outcome="ok"))
    await org.say("How much is a new chain?")
    result = await generate_reply(rt, org.id, org.conversation)
    assert (result.text, result.reason) == (None, "spend_cap")
    assert org.fakes.openai.requests == []
    r = await org.client.get(f"{API}/ai/settings", headers=org.head)
    assert r.json()["spentTodayUsd"] == pytest.approx(0.01)
    # Yesterday's spending does not count today.
    await AiUsage.update({AiUsage.created_at: utcnow() - timedelta(days=1)}).where(
        AiUsage.organization == org.id)
    assert (await generate_reply(rt, org.id, org.conversation)).reason == "answered"


async def test_repeated_question_is_answered_from_the_cache(rt, org):
    await org.provider("openai")
    passages = [Passage(article_id="a1", chunk_id="c1", title="Hours", content="Open 9 to 5.")]
    await org.say("When are you open?")
    org.fakes.openai.reply = "From 9 to 5 [1]."
    first = await generate_reply(rt, org.id, org.conversation, knowledge=passages)
    await org.say("  WHEN are you   open? ")  # same question, other case and spacing
    second = await generate_reply(rt, org.id, org.conversation, knowledge=passages)
    assert second.text == first.text == "From 9 to 5 [1]." and second.citations == passages
    assert len(org.fakes.openai.requests) == 1
    usage = await _usage()
    assert [u["cached"] for u in usage] == [False, True] and usage[1]["cost_micros"] == 0
    # Other knowledge is another question.
    other = [Passage(article_id="a2", chunk_id="c2", title="Hours", content="Open 8 to 4.")]
    await generate_reply(rt, org.id, org.conversation, knowledge=other)
    assert len(org.fakes.openai.requests) == 2


async def test_context_window_keeps_the_newest_messages_within_budget(rt, org):
    await org.provider("openai")
    await org.settings(contextTokenBudget=200)
    for i in range(30):
        await org.say(f"message {i:02d} " + "x" * 80, inbound=i % 2 == 0)
    await org.say("the newest question")
    await generate_reply(rt, org.id, org.conversation)
    [request] = org.fakes.openai.calls("/chat/completions")
    _, *turns = request.json["messages"]
    assert turns[-1] == {"role": "user", "content": "the newest question"}
    assert turns[0]["role"] == "user"  # never starts with our own message
    assert 2 < len(turns) < 10
    numbers = [int(t["content"].split()[1]) for t in turns[:-1]]
    assert numbers == list(range(30 - len(numbers), 30))  # the newest ones, in order
    assert sum(len(t["content"]) for t in request.json["messages"]) / 4 <= 200


async def test_knowledge_only_mode(rt, org):
    await org.provider("openai")
    await org.say("Can I rent a tandem?")
    result = await generate_reply(rt, org.id, org.conversation, knowledge_only=True)
    assert (result.reason, result.handoff) == ("no_knowledge", True)
    assert org.fakes.openai.requests == []

    passages = [Passage(article_id="a1", chunk_id="c1", title="Rentals", content="City bikes only."),
                Passage(article_id="a2", chunk_id="c2", title="Prices", content="10 EUR a day.")]
    org.fakes.openai.reply = "HANDOFF"
    result = await generate_reply(rt, org.id, org.conversation, knowledge=passages, knowledge_only=True)
    assert (result.text, result.reason, result.handoff) == (None, "low_confidence", True)
    system = org.fakes.openai.requests[-1].json["messages"][0]["content"]
    assert "[1] Rentals\nCity bikes only." in system and "[2] Prices" in system
    assert "exactly HANDOFF" in system

    org.fakes.openai.reply = "City bikes cost 10 EUR a day [2][1]."
    await org.settings(cacheTtlSeconds=0)
    result = await generate_reply(rt, org.id, org.conversation, knowledge=passages, knowledge_only=True)
    assert result.reason == "answered" and result.citations == [passages[1], passages[0]]
    message_id = await send_ai_message(rt, org.id, org.conversation, result)
    row = await Message.select().where(Message.id == message_id).first()
    assert row["is_ai_generated"] and row["direction"] == "OUTBOUND" and row["status"] == "PENDING"
    assert (row["ai_provider"], row["ai_model"]) == ("openai", "gpt-4o-mini-2024-07-18")
    assert row["ai_prompt_tokens"] > 0 and row["ai_completion_tokens"] == 8
    metadata = _json(row["metadata"])
    assert [c["chunkId"] for c in metadata["citations"]] == ["c2", "c1"]
    # The same result sent twice is one message.
    assert await send_ai_message(rt, org.id, org.conversation, result) == message_id
    assert await Message.count().where(Message.is_ai_generated.eq(True)) == 1
    usage = await AiUsage.select().where(AiUsage.id == result.usage_id).first()
    assert usage["message_id"] == message_id


async def test_instructions_unknown_variables_and_missing_things(rt, org):
    result = await generate_reply(rt, org.id, org.conversation)
    assert result.reason == "not_configured"
    await org.provider("openai")
    await org.say("My bike is broken", inbound=True)
    await org.say("Bring it in tomorrow", inbound=False)
    org.fakes.openai.reply = "Customer has a broken bike."
    result = await generate_reply(rt, org.id, org.conversation, purpose="assist",
                                  instruction="Summarise the conversation in one sentence.")
    assert result.text == "Customer has a broken bike."
    body = org.fakes.openai.requests[-1].json
    assert body["messages"][-1] == {"role": "user", "content": "Summarise the conversation in one sentence."}
    assert "Task: Summarise" in body["messages"][0]["content"]
    assert (await _usage())[-1]["purpose"] == "assist"

    before = len(org.fakes.openai.requests)
    with pytest.raises(ValidationError) as caught:
        await generate_reply(rt, org.id, org.conversation, system_prompt="Hi {{contact.age}}")
    assert "contact.age" in caught.value.message
    with pytest.raises(ValidationError):  # the newest message is ours: nothing to answer
        await generate_reply(rt, org.id, org.conversation)
    with pytest.raises(NotFoundError):
        await generate_reply(rt, new_id(), org.conversation)
    assert len(org.fakes.openai.requests) == before
    with pytest.raises(ValidationError):
        await send_ai_message(rt, org.id, org.conversation, result.__class__(None, "spend_cap"))
