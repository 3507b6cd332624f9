"""Automations at work: real inbound messages through the simulator start runs in the
worker, which tag, reply, assign, wait, branch and stop; runs are logged, and loops,
retried events and other organizations start nothing they should not."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.helpers import API, PASSWORD, add_member
from tests.support.automations import PHONE, create, keyword_automation, runs, say, settled
from tests.support.polling import until
from tests.ui_support import ui_login
from wacc.automations import engine
from wacc.automations.tables import Automation, AutomationExecution
from wacc.conversations.tables import Conversation, ConversationTag
from wacc.lib.clock import utcnow
from wacc.lib.ids import new_id
from wacc.messages.tables import Message


@pytest.fixture
def inbox(automation_inbox):
    """automation_org with a connected simulator session (tests/conftest.py)."""
    return automation_inbox


async def outbox(client, box, phone=PHONE):
    r = await client.get(f"{API}/whatsapp/sessions/{box['sid']}/simulator/outbox",
                         headers=box["head"], params={"to": phone})
    return [m["body"] for m in r.json()]


async def test_keyword_automation_tags_and_replies_to_keyword_messages_only(client, inbox):
    made = await create(client, inbox["head"], keyword_automation(inbox["tag"]))
    await say(client, inbox, "Hello there")
    await say(client, inbox, "What's your PRICE?")
    await say(client, inbox, "priceless")  # "word" mode: not the word price
    rows = await settled(made["id"], 1)
    assert rows[0]["status"] == "COMPLETED", rows[0]
    assert [log["type"] for log in rows[0]["logs"]] == ["add_tag", "send_message"]
    cid = rows[0]["conversation"]
    assert await ConversationTag.exists().where(ConversationTag.conversation == cid)

    async def sent():
        return await outbox(client, inbox) == ["Hi Carla, prices: Acme"]

    await until(sent)
    reply = await Message.select().where(Message.direction == "OUTBOUND").output(
        load_json=True).first()
    assert reply["metadata"]["automationId"] == made["id"]
    # The inbox says an automation sent it, as it names the agent who sent a reply.
    await ui_login(client, "owner@example.com", PASSWORD)
    bubble = (await client.get(f"/ui/inbox/messages/{reply['id']}",
                               headers={"Accept": "text/html"})).text
    assert 'data-sent-by="automation"' in bubble and "Automation</p>" in bubble
    page = (await client.get(f"{API}/automations/{made['id']}/executions",
                             headers=inbox["head"])).json()
    assert len(page["items"]) == 1 and page["items"][0]["logs"] is None
    one = (await client.get(f"{API}/automations/{made['id']}/executions/{rows[0]['id']}",
                            headers=inbox["head"])).json()
    assert one["status"] == "COMPLETED" and one["logs"][1]["input"]["text"].startswith("Hi Carla")
    stats = (await client.get(f"{API}/automations/{made['id']}", headers=inbox["head"])).json()
    assert stats["stats"]["runs"] == 1 and stats["stats"]["completed"] == 1


async def test_regex_and_first_message_of_new_contact(client, inbox):
    regex = await create(client, inbox["head"], {
        "name": "Order number", "trigger": {"type": "message.received", "match": "regex",
                                            "pattern": r"order\s+#?\d{4,}"},
        "actions": [{"type": "set_priority", "priority": "HIGH"}]})
    first = await create(client, inbox["head"], {
        "name": "Welcome", "trigger": {"type": "message.received",
                                       "match": "firstMessageOfNewContact"},
        "actions": [{"type": "add_note", "text": "New: {{contact.phone}}"}]})
    await say(client, inbox, "hi")
    await settled(first["id"], 1)
    await say(client, inbox, "where is Order #12345?")
    await say(client, inbox, "order 12")
    await settled(regex["id"], 1)
    await settled(first["id"], 1)  # the second message is not a new contact's
    conversation = await Conversation.select().first()
    assert conversation["priority"] == "HIGH"
    r = await client.get(f"{API}/conversations/{conversation['id']}/notes", headers=inbox["head"])
    assert [n["content"] for n in r.json()] == [f"New: {PHONE}"]


async def test_status_changed_trigger_and_round_robin(client, inbox):
    a = await add_member(client, inbox["tokens"]["accessToken"], inbox["orgId"], "AGENT",
                         "a@example.com")
    b = await add_member(client, inbox["tokens"]["accessToken"], inbox["orgId"], "AGENT",
                         "b@example.com")
    route = await create(client, inbox["head"], {
        "name": "Route", "trigger": {"type": "message.received", "match": "firstMessageOfNewContact"},
        "actions": [{"type": "assign", "strategy": "round_robin"}]})
    closed = await create(client, inbox["head"], {
        "name": "Thanks", "trigger": {"type": "conversation.status_changed", "to": ["RESOLVED"]},
        "actions": [{"type": "add_note", "text": "{{trigger.from}} -> {{trigger.to}}"}]})
    await say(client, inbox, "hi", phone="+14155550101")
    await settled(route["id"], 1)
    await say(client, inbox, "hi", phone="+14155550102")
    rows = await settled(route["id"], 2)
    chosen = [r["logs"][0]["input"]["userId"] for r in rows]
    assert sorted(chosen) == sorted([a["user"]["id"], b["user"]["id"]])
    cid = rows[0]["conversation"]
    conversation = (await client.get(f"{API}/conversations/{cid}", headers=inbox["head"])).json()
    r = await client.patch(f"{API}/conversations/{cid}", headers=inbox["head"],
                           json={"status": "RESOLVED", "version": conversation["version"]})
    assert r.status_code == 200, r.text
    await settled(closed["id"], 1)
    notes = (await client.get(f"{API}/conversations/{cid}/notes", headers=inbox["head"])).json()
    assert [n["content"] for n in notes] == ["OPEN -> RESOLVED"]


async def test_if_else_and_stop(client, inbox):
    made = await create(client, inbox["head"], {
        "name": "Branch", "trigger": {"type": "message.received"},
        "actions": [
            {"type": "if", "conditions": {"any": [{"field": "message.body", "op": "contains",
                                                   "value": "urgent"}]},
             "then": [{"type": "set_priority", "priority": "URGENT"}, {"type": "stop"}],
             "else": [{"type": "set_priority", "priority": "LOW"}]},
            {"type": "add_note", "text": "reached the end"}]})
    await say(client, inbox, "this is URGENT", phone="+14155550201")
    await say(client, inbox, "no hurry", phone="+14155550202")
    rows = await settled(made["id"], 2)
    by_body = {r["event"]["body"]: r for r in rows}
    assert [log["type"] for log in by_body["this is URGENT"]["logs"]] == [
        "if", "set_priority", "stop"]
    assert [log["outcome"] for log in by_body["no hurry"]["logs"]] == ["else", "done", "done"]
    priorities = {c["priority"] for c in await Conversation.select()}
    assert priorities == {"URGENT", "LOW"}


async def test_wait_resumes_by_its_job_and_by_the_sweep(client, inbox, server):
    rt = server.app.state["runtime"]
    made = await create(client, inbox["head"], {
        "name": "Later", "trigger": {"type": "message.received"},
        "actions": [{"type": "wait", "seconds": 1}, {"type": "add_note", "text": "a second on"}]})
    await say(client, inbox, "first")
    rows = await settled(made["id"], 1)  # the delayed job resumed it
    assert [log["outcome"] for log in rows[0]["logs"]] == ["waiting", "resumed", "done"]

    # A long wait whose delayed job is lost: the sweep resumes it when due.
    await client.patch(f"{API}/automations/{made['id']}", headers=inbox["head"], json={
        "actions": [{"type": "wait", "hours": 2}, {"type": "add_note", "text": "two hours on"}]})
    await say(client, inbox, "second")

    async def waiting():
        found = await runs(made["id"], "RUNNING")
        return found and found[0]["state"].get("waiting") and found[0]

    paused = await until(waiting)
    out = (await client.get(f"{API}/automations/{made['id']}/executions/{paused['id']}",
                            headers=inbox["head"])).json()
    assert out["waitingUntil"] is not None
    assert await engine.sweep(rt) == 0  # not due yet: nothing resumed
    await AutomationExecution.update({AutomationExecution.resume_at: utcnow()
                                      - timedelta(seconds=31)}).where(
        AutomationExecution.id == paused["id"])
    assert await engine.sweep(rt) == 1
    rows = await settled(made["id"], 2)
    assert all(r["status"] == "COMPLETED" for r in rows)
    notes = (await client.get(f"{API}/conversations/{rows[0]['conversation']}/notes",
                              headers=inbox["head"])).json()
    assert sorted(n["content"] for n in notes) == ["a second on", "two hours on"]
    assert await engine.run(rt, paused["id"]) is None  # a late duplicate job does nothing


async def test_a_retried_event_runs_once_and_other_orgs_are_not_triggered(client, inbox, server):
    rt = server.app.state["runtime"]
    made = await create(client, inbox["head"], keyword_automation(inbox["tag"]))
    await say(client, inbox, "price please")
    rows = await settled(made["id"], 1)
    event = rows[0]["event"]
    await engine.on_event(event, rt)  # delivered again (the dispatch job was retried)
    await engine.on_event(event, rt)
    assert len(await runs(made["id"])) == 1
    foreign = {**event, "id": new_id(), "organizationId": new_id()}
    await engine.on_event(foreign, rt)
    assert len(await runs(made["id"])) == 1


async def test_loops_stop(client, inbox, server):
    head = inbox["head"]
    other = (await client.post(f"{API}/tags", headers=head, json={"name": "other"})).json()["id"]
    x, y = inbox["tag"], other
    # Two automations that set each other off: stopped by the depth limit.
    ping = await create(client, head, {"name": "Ping", "trigger": {"type": "tag.added", "tagId": x},
                                       "actions": [{"type": "remove_tag", "tagId": y},
                                                   {"type": "add_tag", "tagId": y}]})
    pong = await create(client, head, {"name": "Pong", "trigger": {"type": "tag.added", "tagId": y},
                                       "actions": [{"type": "remove_tag", "tagId": x},
                                                   {"type": "add_tag", "tagId": x}]})
    await say(client, inbox, "hello")
    cid = (await until(lambda: Conversation.select().first()))["id"]
    r = await client.post(f"{API}/conversations/{cid}/tags", headers=head, json={"tagId": x})
    assert r.status_code == 200

    async def stopped():
        failed = await runs(ping["id"], "FAILED") + await runs(pong["id"], "FAILED")
        return failed

    failed = await until(stopped, timeout=30)
    assert "deeper than 5" in failed[0]["error"] and failed[0]["depth"] == 6
    total = len(await runs(ping["id"])) + len(await runs(pong["id"]))
    assert total == 7  # depths 0 to 6, then nothing more

    # One that would re-trigger itself (saved before the cycle check, say) runs once.
    await Automation.delete().where(Automation.id.is_in([ping["id"], pong["id"]]))
    self_id = new_id()
    await Automation.insert(Automation(
        id=self_id, organization=inbox["orgId"], name="Self", enabled=True,
        trigger={"type": "tag.added", "tagId": y},
        actions=[{"type": "remove_tag", "tagId": y, "on": "conversation"},
                 {"type": "add_tag", "tagId": y, "on": "conversation"}]))
    await client.delete(f"{API}/conversations/{cid}/tags/{y}", headers=head)
    await client.post(f"{API}/conversations/{cid}/tags", headers=head, json={"tagId": y})
    rows = await settled(self_id, 1)
    assert rows[0]["status"] == "COMPLETED"
    await asyncio.sleep(1.5)  # time for a second run to appear, if one were coming
    assert len(await runs(self_id)) == 1


async def test_ai_reply_without_ai_fails_the_run_clearly(client, inbox):
    made = await create(client, inbox["head"], {
        "name": "AI", "trigger": {"type": "message.received"},
        "actions": [{"type": "ai_reply"}, {"type": "add_note", "text": "never"}]})
    await say(client, inbox, "question")
    rows = await settled(made["id"], 1)
    assert rows[0]["status"] == "FAILED" and "AI is not configured" in rows[0]["error"]
    assert [log["type"] for log in rows[0]["logs"]] == ["ai_reply"]
    assert await Message.count().where(Message.direction == "OUTBOUND") == 0


async def test_an_interrupted_run_resumes_at_its_step_or_fails_after_three_tries(
        client, inbox, server):
    rt = server.app.state["runtime"]
    made = await create(client, inbox["head"], {
        "name": "Crashy", "trigger": {"type": "tag.added", "tagId": inbox["tag"]},
        "actions": [{"type": "set_priority", "priority": "HIGH"},
                    {"type": "set_status", "status": "PENDING"}]})
    await say(client, inbox, "hi")
    conversation = await until(lambda: Conversation.select().first())
    steps = (await Automation.select(Automation.actions).where(
        Automation.id == made["id"]).output(load_json=True).first())["actions"]

    async def interrupted(attempts):
        # As a worker leaves a run it died in: RUNNING, in step 1, its lease run out.
        execution_id = new_id()
        await AutomationExecution.insert(AutomationExecution(
            id=execution_id, automation=made["id"], organization=inbox["orgId"],
            conversation=conversation["id"], trigger="contact.created",
            event={"kind": "contact.created", "id": execution_id,
                   "organizationId": inbox["orgId"], "conversationId": conversation["id"]},
            event_key=execution_id, step=1, logs=[],
            state={"actions": steps, "started": 1, "attempts": attempts},
            resume_at=utcnow() - timedelta(seconds=5)))
        return execution_id

    again = await interrupted(1)
    assert await engine.run(rt, again) == "COMPLETED"
    row = (await runs(made["id"]))[0]
    assert [log["type"] for log in row["logs"]] == ["set_status"]  # step 0 is not redone
    assert (await Conversation.select().first())["status"] == "PENDING"
    hopeless = await interrupted(3)
    assert await engine.run(rt, hopeless) == "FAILED"
    row = next(r for r in await runs(made["id"]) if r["id"] == hopeless)
    assert "interrupted 3 times" in row["error"]


async def test_contact_and_conversation_created_triggers(client, inbox):
    head = inbox["head"]
    await client.post(f"{API}/custom-fields", headers=head,
                      json={"name": "Plan", "key": "plan", "type": "TEXT"})
    onboard = await create(client, head, {
        "name": "Onboard", "trigger": {"type": "contact.created"},
        "actions": [{"type": "set_field", "key": "plan", "value": "trial"},
                    {"type": "add_tag", "tagId": inbox["tag"], "on": "contact"}]})
    opened = await create(client, head, {
        "name": "Opened", "trigger": {"type": "conversation.created"},
        "conditions": {"all": [{"field": "contact.phone", "op": "startsWith",
                                "value": "+1415"}]},
        "actions": [{"type": "add_note", "text": "Plan: {{contact.custom.plan}}"}]})
    r = await client.post(f"{API}/contacts", headers=head, json={"phoneNumber": "+14155550999"})
    contact_id = r.json()["id"]
    await settled(onboard["id"], 1)
    contact = (await client.get(f"{API}/contacts/{contact_id}", headers=head)).json()
    assert contact["customFields"] == {"plan": "trial"} and contact["tags"] == [inbox["tag"]]
    await say(client, inbox, "hi", phone="+14155550999")
    rows = await settled(opened["id"], 1)
    notes = (await client.get(f"{API}/conversations/{rows[0]['conversation']}/notes",
                              headers=head)).json()
    assert [n["content"] for n in notes] == ["Plan: trial"]
