"""Automations: the API, validation of definitions (one error per bad node, with its
place), and dry runs that change nothing."""

from __future__ import annotations

import pytest

from tests.helpers import API, add_member, assert_error, bearer, register_other_org
from tests.support.automations import PHONE, create, keyword_automation
from tests.support.polling import until
from tests.support.whatsapp import connected_session, simulate
from wacc.automations.tables import AutomationExecution
from wacc.conversations.tables import ConversationAssignment, ConversationTag
from wacc.messages.tables import Message


@pytest.fixture
def org(automation_org):
    """An organization with a tag (tests/conftest.py)."""
    return automation_org


async def test_crud_toggle_and_stats(client, org):
    head = org["head"]
    made = await create(client, head, keyword_automation(org["tag"]))
    assert made["enabled"] is True and made["version"] == 1
    assert made["trigger"]["keywords"] == ["price", "pricing"]
    assert made["stats"] == {"runs": 0, "completed": 0, "failed": 0, "lastRunAt": None}
    assert made["webhookUrl"] is None and made["webhookToken"] is None
    aid = made["id"]
    listed = (await client.get(f"{API}/automations", headers=head)).json()
    assert [a["id"] for a in listed] == [aid]
    r = await client.patch(f"{API}/automations/{aid}", headers=head,
                           json={"name": "Prices", "actions": [{"type": "stop"}]})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Prices" and r.json()["version"] == 2
    assert r.json()["actions"] == [{"type": "stop"}]
    r = await client.post(f"{API}/automations/{aid}/toggle", headers=head)
    assert r.json()["enabled"] is False
    r = await client.get(f"{API}/automations/{aid}/stats", headers=head)
    assert r.json()["runs"] == 0
    r = await client.get(f"{API}/automations/{aid}/executions", headers=head)
    assert r.json() == {"items": [], "nextCursor": None}
    assert (await client.delete(f"{API}/automations/{aid}", headers=head)).status_code == 204
    assert_error(await client.get(f"{API}/automations/{aid}", headers=head), 404, "NOT_FOUND")


async def test_agents_cannot_manage_automations(client, org):
    agent = await add_member(client, org["tokens"]["accessToken"], org["orgId"], "AGENT")
    r = await client.post(f"{API}/automations", headers=bearer(agent["accessToken"]),
                          json=keyword_automation(org["tag"]))
    assert_error(r, 403, "AUTHORIZATION_ERROR")
    assert_error(await client.get(f"{API}/automations", headers=bearer(agent["accessToken"])),
                 403, "AUTHORIZATION_ERROR")


def _fields(error):
    return {d["field"]: d["message"] for d in error["details"]}


@pytest.mark.parametrize("body,field,words", [
    ({"trigger": {"type": "message.sent"}}, "trigger.type", "unknown trigger"),
    ({"trigger": {"type": "message.received", "match": "regex", "pattern": "(unclosed"}},
     "trigger.pattern", "not a valid regular expression"),
    ({"trigger": {"type": "message.received", "match": "regex", "pattern": "(a+)+$"}},
     "trigger.pattern", "nested repetition"),
    ({"trigger": {"type": "message.received", "match": "regex", "pattern": "x" * 201}},
     "trigger.pattern", "200"),
    ({"trigger": {"type": "schedule", "cron": "61 * * * *"}}, "trigger.cron",
     "not a valid cron"),
    ({"trigger": {"type": "schedule", "cron": "0 9 * * *"},
      "actions": [{"type": "send_message", "text": "hi"}]}, "actions[0].type", "no contact"),
    ({"trigger": {"type": "tag.added", "tagId": "nope"}}, "trigger.tagId", "no tag"),
    ({"actions": [{"type": "send_message", "text": "Hi {{contact.nickname}}"}]},
     "actions[0].text", "unknown variable {{contact.nickname}}"),
    ({"actions": [{"type": "teleport"}]}, "actions[0].type", "unknown step type"),
    ({"actions": [{"type": "send_message"}]}, "actions[0].text", "must be text"),
    ({"actions": [{"type": "wait", "seconds": 0}]}, "actions[0]", "wait from 1 second"),
    ({"actions": [{"type": "call_webhook", "url": "ftp://example.com"}]}, "actions[0].url",
     "http or https"),
    ({"actions": [{"type": "if", "conditions": {"all": [{"field": "contact.age", "op": "eq",
                                                           "value": 1}]}, "then": []}]},
     "actions[0].conditions.all[0].field", "unknown field"),
    ({"conditions": {"all": [{"field": "message.body", "op": "regex", "value": "(("}]}},
     "conditions.all[0].value", "regular expression"),
    ({"actions": [{"type": "stop"}] * 51}, "actions", "at most 50 steps"),
    ({"actions": [{"type": "if", "conditions": {"all": []}, "then": [
        {"type": "if", "conditions": {"all": []}, "then": [
            {"type": "if", "conditions": {"all": []}, "then": [
                {"type": "if", "conditions": {"all": []}, "then": []}]}]}]}]},
     "actions[0].then[0].then[0].then[0]", "nest at most"),
])
async def test_bad_definitions_are_refused_with_their_place(client, org, body, field, words):
    base = {"name": "Bad", "trigger": {"type": "message.received"},
            "actions": [{"type": "stop"}]}
    r = await client.post(f"{API}/automations", headers=org["head"], json={**base, **body})
    error = assert_error(r, 400, "VALIDATION_ERROR")
    assert field in _fields(error), error
    assert words in _fields(error)[field], error
    assert (await client.get(f"{API}/automations", headers=org["head"])).json() == []


async def test_every_bad_node_is_reported_at_once(client, org):
    r = await client.post(f"{API}/automations", headers=org["head"], json={
        "name": "Many", "trigger": {"type": "message.received", "match": "regex", "pattern": "["},
        "actions": [{"type": "send_message", "text": "{{nope}}"}, {"type": "set_status",
                                                                   "status": "DONE"}]})
    fields = _fields(assert_error(r, 400, "VALIDATION_ERROR"))
    assert {"trigger.pattern", "actions[0].text", "actions[1].status"} <= set(fields)


async def test_an_automation_that_would_trigger_itself_is_refused(client, org):
    r = await client.post(f"{API}/automations", headers=org["head"], json={
        "name": "Loop", "trigger": {"type": "tag.added", "tagId": org["tag"]},
        "actions": [{"type": "if", "conditions": {"all": []},
                     "then": [{"type": "add_tag", "tagId": org["tag"]}]}]})
    fields = _fields(assert_error(r, 400, "VALIDATION_ERROR"))
    assert "cycle" in fields["actions[0].then[0]"]
    r = await client.post(f"{API}/automations", headers=org["head"], json={
        "name": "Status loop", "trigger": {"type": "conversation.status_changed", "to": ["OPEN"]},
        "actions": [{"type": "set_status", "status": "OPEN"}]})
    assert "cycle" in _fields(assert_error(r, 400, "VALIDATION_ERROR"))["actions[0]"]


async def test_a_bad_patch_changes_nothing(client, org):
    made = await create(client, org["head"], keyword_automation(org["tag"]))
    r = await client.patch(f"{API}/automations/{made['id']}", headers=org["head"],
                           json={"name": "Renamed", "trigger": {"type": "nope"}})
    assert_error(r, 400, "VALIDATION_ERROR")
    after = (await client.get(f"{API}/automations/{made['id']}", headers=org["head"])).json()
    assert after["name"] == "Pricing" and after["version"] == 1


async def test_set_field_value_is_checked_against_the_field(client, org):
    await client.post(f"{API}/custom-fields", headers=org["head"],
                      json={"name": "Score", "key": "score", "type": "NUMBER"})
    r = await client.post(f"{API}/automations", headers=org["head"], json={
        "name": "F", "trigger": {"type": "contact.created"},
        "actions": [{"type": "set_field", "key": "score", "value": "high"}]})
    assert "actions[0].value" in _fields(assert_error(r, 400, "VALIDATION_ERROR"))


async def test_dry_run_over_recent_messages_changes_nothing(client, org, wa, worker):
    head = org["head"]
    agent = await add_member(client, org["tokens"]["accessToken"], org["orgId"], "AGENT")
    await wa()
    sid, _ = await connected_session(client, head)
    await simulate(client, head, sid, "message", phone=PHONE, body="What is the price?",
                   id="D1", name="Carla")
    await simulate(client, head, sid, "message", phone=PHONE, body="Thanks", id="D2")

    async def stored():
        return await Message.count() == 2

    await until(stored)
    definition = {**keyword_automation(org["tag"]), "actions": [
        {"type": "add_tag", "tagId": org["tag"]},
        {"type": "assign", "strategy": "round_robin"},
        {"type": "send_message", "text": "Hi {{contact.name}}, about {{message.body}}"}]}
    before = (await Message.count(), await ConversationTag.count(),
              await ConversationAssignment.count(), await AutomationExecution.count())
    body = {k: v for k, v in definition.items() if k in ("trigger", "conditions", "actions")}
    r = await client.post(f"{API}/automations/dry-run", headers=head, json={**body, "recent": 5})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["event"]["body"] for i in items] == ["Thanks", "What is the price?"]
    assert [i["triggered"] for i in items] == [False, True]
    steps = items[1]["steps"]
    assert steps[1]["userId"] == agent["user"]["id"]  # who round-robin would choose
    assert steps[2]["text"] == "Hi Carla, about What is the price?"
    saved = await create(client, head, definition)
    r = await client.post(f"{API}/automations/{saved['id']}/dry-run", headers=head,
                          json={"event": {"kind": "message.received", "body": "pricing?"}})
    assert r.json()["items"][0]["triggered"] is True
    # A sample message comes from the sample customer: every step says what it would do
    # and placeholders render (it said "no conversation to act on" and "Hi !", issue 16).
    sample = r.json()["items"][0]["steps"]
    assert [s.get("error") for s in sample] == [None, None, None], sample
    assert sample[2]["text"] == "Hi Sample Customer, about pricing?"
    after = (await Message.count(), await ConversationTag.count(),
             await ConversationAssignment.count(), await AutomationExecution.count())
    assert after == before
    r = await client.post(f"{API}/automations/{saved['id']}/dry-run", headers=head, json={})
    assert_error(r, 400, "VALIDATION_ERROR")
    r = await client.post(f"{API}/automations/{saved['id']}/dry-run", headers=head,
                          json={"since": "2999-01-01T00:00:00Z"})
    assert r.json()["items"] == []
    r = await client.post(f"{API}/automations/{saved['id']}/dry-run", headers=head,
                          json={"since": "2000-01-01T00:00:00Z"})
    assert len(r.json()["items"]) == 2


async def test_another_org_cannot_see_or_dry_run(client, org, server):
    made = await create(client, org["head"], keyword_automation(org["tag"]))
    other = bearer((await register_other_org(server))["accessToken"])
    assert (await client.get(f"{API}/automations", headers=other)).json() == []
    for method, path, body in [("GET", "", None), ("PATCH", "", {"name": "x"}),
                               ("POST", "/toggle", None), ("GET", "/executions", None),
                               ("POST", "/dry-run", {"recent": 1}), ("DELETE", "", None)]:
        r = await client.request(method, f"{API}/automations/{made['id']}{path}", headers=other,
                                 json=body)
        assert_error(r, 404, "NOT_FOUND")
    # Another organization's tag is not a tag there.
    r = await client.post(f"{API}/automations", headers=other, json=keyword_automation(org["tag"]))
    assert "actions[0].tagId" in _fields(assert_error(r, 400, "VALIDATION_ERROR"))
