"""Automations and the outside world: signed webhook calls (and the guard against
private addresses), the inbound webhook trigger with its secret URL, and the clock's
triggers (no reply, schedule, outside business hours)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn

from tests.fakes.ai_providers import FakeOpenAI
from tests.helpers import API, assert_error, bearer, register_other_org
from tests.support.automations import create, runs, say, settled
from tests.support.env import free_port
from tests.support.polling import until
from wacc.automations import engine
from wacc.automations.tables import Automation
from wacc.config import AutomationSettings
from wacc.messages.tables import Message


@pytest.fixture
def org(automation_org):
    """An organization with a tag (tests/conftest.py)."""
    return automation_org


@pytest.fixture
def inbox(automation_inbox):
    """automation_org with a connected simulator session (tests/conftest.py)."""
    return automation_inbox


@pytest.fixture
async def receiver():
    """A local HTTP server that records what it is sent."""
    seen: list[dict] = []

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.append({"headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                     "body": body})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield {"url": f"http://127.0.0.1:{port}/hook", "seen": seen}
    server.should_exit = True
    await task


@pytest.fixture
def allow_private(server):
    rt = server.app.state["runtime"]
    original = rt.settings
    rt.settings = dataclasses.replace(original, automation=AutomationSettings(
        allow_private_urls=True, webhook_timeout_seconds=5))
    yield
    rt.settings = original


async def test_webhook_action_is_signed_and_private_addresses_are_refused(
        client, inbox, receiver, server):
    made = await create(client, inbox["head"], {
        "name": "Notify", "trigger": {"type": "message.received"},
        "actions": [{"type": "call_webhook", "url": receiver["url"],
                     "secret": "s3cret-s3cret-s3cret"}]})
    await say(client, inbox, "hello")
    rows = await settled(made["id"], 1)
    assert rows[0]["status"] == "FAILED" and "private or loopback" in rows[0]["error"]
    assert receiver["seen"] == []

    rt = server.app.state["runtime"]
    original = rt.settings
    rt.settings = dataclasses.replace(original, automation=AutomationSettings(
        allow_private_urls=True))
    try:
        await say(client, inbox, "again")
        rows = await settled(made["id"], 2)
    finally:
        rt.settings = original
    assert sorted(r["status"] for r in rows) == ["COMPLETED", "FAILED"]
    [call] = receiver["seen"]
    headers, body = call["headers"], call["body"]
    expected = hmac.new(b"s3cret-s3cret-s3cret",
                        headers["x-wacc-timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    assert headers["x-wacc-signature"] == f"sha256={expected}"
    sent = json.loads(body)
    assert sent["automationId"] == made["id"] and sent["message"]["body"] == "again"
    assert sent["contact"]["phone"] == "+14155550123"


async def test_a_webhook_step_without_a_secret_gets_one(client, org):
    made = await create(client, org["head"], {
        "name": "N", "trigger": {"type": "contact.created"},
        "actions": [{"type": "call_webhook", "url": "https://example.com/hook"}]})
    assert len(made["actions"][0]["secret"]) >= 16


async def test_inbound_webhook_trigger(client, inbox, server, allow_private):
    head = inbox["head"]
    await say(client, inbox, "hi")
    cid = (await until(lambda: Message.select().first()))["conversation"]
    made = await create(client, head, {
        "name": "Orders", "trigger": {"type": "webhook"},
        "actions": [{"type": "add_note", "text": "Order {{trigger.orderId}} paid"}]})
    url, token = made["webhookUrl"], made["webhookToken"]
    assert url.endswith(f"/api/v1/automations/hooks/{token}") and len(token) >= 40
    again = (await client.get(f"{API}/automations/{made['id']}", headers=head)).json()
    assert again["webhookToken"] is None  # shown once
    hook = f"{API}/automations/hooks/{token}"
    r = await client.post(hook, json={"orderId": "A-17", "conversationId": cid})
    assert r.status_code == 202, r.text
    execution = r.json()["executionId"]
    rows = await settled(made["id"], 1)
    assert rows[0]["id"] == execution and rows[0]["status"] == "COMPLETED"
    notes = (await client.get(f"{API}/conversations/{cid}/notes", headers=head)).json()
    assert [n["content"] for n in notes] == ["Order A-17 paid"]

    assert_error(await client.post(f"{API}/automations/hooks/wrong-token", json={}), 404,
                 "NOT_FOUND")
    assert_error(await client.post(hook, content=b"not json",
                                   headers={"content-type": "application/json"}),
                 400, "VALIDATION_ERROR")
    assert_error(await client.post(hook, json=[1, 2]), 400, "VALIDATION_ERROR")
    assert_error(await client.post(hook, content=b"[" * 30_000 + b"]" * 30_000,
                                   headers={"content-type": "application/json"}),
                 400, "VALIDATION_ERROR")
    r = await client.post(hook, json={"blob": "x" * 70_000})
    assert r.status_code == 413, r.text
    # Another organization cannot reach the conversation through its own payload.
    other = bearer((await register_other_org(server))["accessToken"])
    foreign = await create(client, other, {
        "name": "Theirs", "trigger": {"type": "webhook"},
        "actions": [{"type": "add_note", "text": "x"}]})
    r = await client.post(f"{API}/automations/hooks/{foreign['webhookToken']}",
                          json={"conversationId": cid})
    rows = await settled(foreign["id"], 1)
    assert rows[0]["status"] == "FAILED" and "no conversation" in rows[0]["error"]
    assert len((await client.get(f"{API}/conversations/{cid}/notes", headers=head)).json()) == 1
    await client.post(f"{API}/automations/{made['id']}/toggle", headers=head)
    assert_error(await client.post(hook, json={}), 404, "NOT_FOUND")
    assert len(await runs(made["id"])) == 1


async def test_no_reply_and_schedule_via_the_sweep(client, inbox, server, receiver,
                                                   allow_private):
    rt = server.app.state["runtime"]
    quiet = await create(client, inbox["head"], {
        "name": "Nudge", "trigger": {"type": "no_reply", "minutes": 30},
        "actions": [{"type": "add_note", "text": "no reply for {{trigger.minutes}} min"}]})
    daily = await create(client, inbox["head"], {
        "name": "Report", "trigger": {"type": "schedule", "cron": "0 9 * * *",
                                      "timezone": "Europe/Paris"},
        "actions": [{"type": "call_webhook", "url": receiver["url"]}]})
    await say(client, inbox, "anyone?")
    message = await until(lambda: Message.select().first())
    await engine.sweep(rt)
    assert await runs(quiet["id"]) == []  # not 30 minutes yet
    # Only messages since the automation was made count: both move 31 minutes back.
    await Message.update({Message.timestamp: message["timestamp"] - timedelta(minutes=31)}).where(
        Message.id == message["id"])
    await Automation.update({Automation.created_at: Automation.created_at - timedelta(hours=1)})\
        .where(Automation.id == quiet["id"])
    await engine.sweep(rt)
    await engine.sweep(rt)  # idempotent: one run per unanswered message
    rows = await settled(quiet["id"], 1)
    assert rows[0]["logs"][0]["input"]["text"] == "no reply for 30 min"

    nine_paris = datetime(2026, 1, 5, 8, 0, 30, tzinfo=UTC)  # 09:00 in Paris (winter)
    await engine.sweep(rt, nine_paris + timedelta(hours=1))
    assert await runs(daily["id"]) == []
    await engine.sweep(rt, nine_paris)
    await engine.sweep(rt, nine_paris + timedelta(seconds=20))  # same minute: no second run
    rows = await settled(daily["id"], 1)
    assert rows[0]["status"] == "COMPLETED" and len(receiver["seen"]) == 1


async def test_outside_business_hours(client, inbox):
    closed_all_week = {"timezone": "UTC", "days": {}}
    made = await create(client, inbox["head"], {
        "name": "After hours", "trigger": {"type": "outside_business_hours",
                                           "hours": closed_all_week},
        "conditions": {"all": [{"field": "time.hours", "op": "outside",
                                "value": closed_all_week},
                               {"field": "time.hour", "op": "gte", "value": 0}]},
        "actions": [{"type": "send_message", "text": "We are closed; back soon."}]})
    r = await client.post(f"{API}/automations", headers=inbox["head"], json={
        "name": "No hours", "trigger": {"type": "outside_business_hours"},
        "actions": [{"type": "stop"}]})
    assert_error(r, 400, "VALIDATION_ERROR")
    never = await create(client, inbox["head"], {
        "name": "Within", "trigger": {"type": "message.received"},
        "conditions": {"all": [{"field": "time.hours", "op": "within",
                                "value": closed_all_week}]},
        "actions": [{"type": "stop"}]})
    await say(client, inbox, "hello?")
    rows = await settled(made["id"], 1)
    assert rows[0]["status"] == "COMPLETED"
    assert await runs(never["id"]) == []


async def test_ai_reply_step_answers_with_a_provider(client, inbox):

    async with FakeOpenAI(reply="We open at nine.").serve() as fake:
        r = await client.post(f"{API}/ai/providers", headers=inbox["head"], json={
            "provider": "openai", "name": "main", "apiKey": fake.key, "model": "gpt-4o-mini",
            "baseUrl": fake.url + "/v1"})
        assert r.status_code == 201, r.text
        made = await create(client, inbox["head"], {
            "name": "AI", "trigger": {"type": "message.received"},
            "actions": [{"type": "ai_reply", "systemPrompt": "You are {{org.name}}'s helper."}]})
        await say(client, inbox, "When do you open?")
        rows = await settled(made["id"], 1)
    assert rows[0]["status"] == "COMPLETED", rows[0]
    reply = await Message.select().where(Message.direction == "OUTBOUND").output(
        load_json=True).first()
    assert reply["body"] == "We open at nine." and reply["is_ai_generated"] is True
    assert reply["metadata"]["automationId"] == made["id"]
