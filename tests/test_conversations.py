"""The inbox API over real HTTP, with conversations made by the simulator engine the way
WhatsApp makes them: filters, paging, optimistic locking, assignment, notes, tags,
snoozes, read marks and history, and every bad input refused with nothing changed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import API, add_member, assert_error, bearer, register_other_org
from wacc.conversations import inbox as services
from wacc.conversations import threading
from wacc.conversations.tables import Conversation, ConversationAssignment, ConversationTag, Note
from wacc.lib.ids import new_id
from wacc.tags.tables import Tag


@pytest.fixture
def inbox(conversation_inbox):
    """An organization with a connected session and two customer conversations
    (tests/conftest.py)."""
    return conversation_inbox


def _url(cid: str, tail: str = "") -> str:
    return f"{API}/conversations/{cid}{tail}"


async def test_list_detail_and_filters(client, inbox):
    head, carla, dan = inbox["head"], inbox["carla"], inbox["dan"]
    assert carla["contact"]["name"] == "Carla Customer"
    assert carla["status"] == "OPEN" and carla["unreadCount"] == 1 and carla["assignees"] == []
    r = await client.get(_url(carla["id"]), headers=head)
    assert r.status_code == 200 and r.json()["version"] == carla["version"]

    async def ids(**params):
        r = await client.get(f"{API}/conversations", headers=head, params=params)
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]]

    assert await ids(q="lyon") == [dan["id"]]
    assert await ids(q="carla") == [carla["id"]]
    assert await ids(q="0124") == [dan["id"]]
    assert await ids(q="nobody") == []
    assert set(await ids(status="OPEN,PENDING")) == {carla["id"], dan["id"]}
    assert await ids(status="RESOLVED") == []
    assert await ids(sessionId=inbox["sid"], limit=1) != []
    assert set(await ids(assignee="unassigned")) == {carla["id"], dan["id"]}
    assert await ids(assignee="me") == []
    assert await ids(priority="HIGH") == []
    r = await client.get(f"{API}/conversations", headers=head, params={"status": "BOGUS"})
    assert_error(r, 400, "VALIDATION_ERROR")
    r = await client.get(f"{API}/conversations", headers=head, params={"cursor": "garbage"})
    assert_error(r, 400, "VALIDATION_ERROR")

    # Keyset paging: newest first, one per page, no repeats.
    first = (await client.get(f"{API}/conversations", headers=head, params={"limit": 1})).json()
    assert first["nextCursor"]
    second = (await client.get(f"{API}/conversations", headers=head,
                               params={"limit": 1, "cursor": first["nextCursor"]})).json()
    assert second["nextCursor"] is None
    assert {first["items"][0]["id"], second["items"][0]["id"]} == {carla["id"], dan["id"]}
    assert first["items"][0]["lastMessageAt"] >= second["items"][0]["lastMessageAt"]

    # Read marks are per caller.
    r = await client.post(_url(carla["id"], "/read"), headers=head)
    assert r.status_code == 204, r.text
    again = await client.post(_url(carla["id"], "/read"), headers=head)
    assert again.status_code == 204
    assert (await client.get(_url(carla["id"]), headers=head)).json()["unreadCount"] == 0


async def test_patch_with_version_and_history(client, inbox):
    head, cid = inbox["head"], inbox["carla"]["id"]
    version = inbox["carla"]["version"]
    r = await client.patch(_url(cid), headers=head,
                           json={"status": "RESOLVED", "priority": "HIGH", "version": version})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "RESOLVED" and r.json()["version"] == version + 1

    stale = await client.patch(_url(cid), headers=head, json={"status": "OPEN",
                                                               "version": version})
    error = assert_error(stale, 409, "CONFLICT")
    assert error["details"][0]["currentVersion"] == version + 1
    unknown = await client.patch(_url(cid), headers=head, json={"status": "DONE",
                                                                 "version": version + 1})
    assert_error(unknown, 400, "VALIDATION_ERROR")
    missing = await client.patch(_url(cid), headers=head, json={"status": "OPEN"})
    assert_error(missing, 400, "VALIDATION_ERROR")
    same = await client.patch(_url(cid), headers=head, json={"status": "RESOLVED",
                                                              "version": version + 1})
    assert same.status_code == 200 and same.json()["version"] == version + 1  # no-op
    stale_noop = await client.patch(_url(cid), headers=head, json={"version": version})
    assert_error(stale_noop, 409, "CONFLICT")
    now = (await client.get(_url(cid), headers=head)).json()
    assert (now["status"], now["priority"], now["version"]) == ("RESOLVED", "HIGH", version + 1)

    history = (await client.get(_url(cid, "/history"), headers=head)).json()
    assert sorted((e["kind"], e["fromValue"], e["toValue"]) for e in history) == [
        ("priority", "NORMAL", "HIGH"), ("status", "OPEN", "RESOLVED")]
    r = await client.get(f"{API}/conversations", headers=head, params={"status": "RESOLVED"})
    assert [i["id"] for i in r.json()["items"]] == [cid]


async def test_assign_unassign_and_agent_visibility(client, inbox, server):
    head, org, cid = inbox["head"], inbox["org"], inbox["carla"]["id"]
    agent = await add_member(client, inbox["tokens"]["accessToken"], org, "AGENT")
    agent_id, agent_head = agent["user"]["id"], bearer(agent["accessToken"])
    other = await register_other_org(server)
    stranger = other["user"]["id"]

    r = await client.post(_url(cid, "/assign"), headers=head, json={"userIds": [stranger]})
    assert_error(r, 404, "NOT_FOUND")
    r = await client.post(_url(cid, "/assign"), headers=head,
                          json={"userIds": [agent_id, stranger]})
    assert_error(r, 404, "NOT_FOUND")
    assert await ConversationAssignment.count() == 0

    r = await client.post(_url(cid, "/assign"), headers=head, json={"userIds": [agent_id]})
    assert r.status_code == 200, r.text
    assert r.json()["assignees"] == [agent_id]
    r = await client.get(f"{API}/conversations", headers=agent_head, params={"assignee": "me"})
    assert [i["id"] for i in r.json()["items"]] == [cid]
    r = await client.get(f"{API}/conversations", headers=head, params={"assignee": agent_id})
    assert [i["id"] for i in r.json()["items"]] == [cid]

    # The setting hides other conversations from agents, in the list and by id.
    r = await client.patch(f"{API}/organizations/{org}", headers=head,
                           json={"settings": {"agentsSeeOwnConversationsOnly": True}})
    assert r.status_code == 200, r.text
    r = await client.get(f"{API}/conversations", headers=agent_head)
    assert [i["id"] for i in r.json()["items"]] == [cid]
    assert_error(await client.get(_url(inbox["dan"]["id"]), headers=agent_head), 404, "NOT_FOUND")
    r = await client.get(f"{API}/conversations", headers=head)
    assert len(r.json()["items"]) == 2  # the owner still sees everything

    owner_id = inbox["tokens"]["user"]["id"]
    r = await client.post(_url(cid, "/assign"), headers=head,
                          json={"userIds": [owner_id], "mode": "replace"})
    assert r.json()["assignees"] == [owner_id]
    assert_error(await client.get(_url(cid), headers=agent_head), 404, "NOT_FOUND")
    r = await client.post(_url(cid, "/unassign"), headers=head, json={"userIds": [stranger]})
    assert_error(r, 404, "NOT_FOUND")
    r = await client.post(_url(cid, "/unassign"), headers=head, json={"userIds": [owner_id]})
    assert r.status_code == 200 and r.json()["assignees"] == []
    kinds = [(e["kind"], e["fromValue"] or e["toValue"])
             for e in (await client.get(_url(cid, "/history"), headers=head)).json()]
    assert sorted(kinds) == sorted([("assigned", agent_id), ("unassigned", agent_id),
                                    ("assigned", owner_id), ("unassigned", owner_id)])


async def test_notes_with_mentions(client, inbox, server):
    head, org, cid = inbox["head"], inbox["org"], inbox["carla"]["id"]
    agent = await add_member(client, inbox["tokens"]["accessToken"], org, "AGENT")
    other = await register_other_org(server)
    bus = server.app.state["runtime"].bus
    async with bus.subscribe(f"org:{org}") as events:
        content = (f"@agent@example.com please call. cc @[{inbox['tokens']['user']['id']}] "
                   f"not @gary@globex.example nor @[{other['user']['id']}]")
        r = await client.post(_url(cid, "/notes"), headers=head, json={"content": content})
        assert r.status_code == 201, r.text
        assert r.json()["mentions"] == [agent["user"]["id"], inbox["tokens"]["user"]["id"]]
        seen = []
        async with asyncio.timeout(10):  # a missed event fails the test, never hangs it
            async for _, payload in events:
                if payload.get("type") == "notification":
                    seen.append(payload["userId"])
                if len(seen) == 2:
                    break
        assert seen == r.json()["mentions"]

    for bad in ("", "   ", "x" * 10001):
        assert_error(await client.post(_url(cid, "/notes"), headers=head, json={"content": bad}),
                     400, "VALIDATION_ERROR")
    notes = (await client.get(_url(cid, "/notes"), headers=head)).json()
    assert [n["content"] for n in notes] == [content]
    assert await Note.count() == 1


def test_parse_mentions():
    assert services.parse_mentions("hi @Bob@Example.com. and @[u1], mail@x.io @[ bad]") == [
        ("email", "bob@example.com"), ("id", "u1")]


async def test_tags(client, inbox, server):
    head, org, cid = inbox["head"], inbox["org"], inbox["carla"]["id"]
    other = await register_other_org(server)
    mine, theirs = new_id(), new_id()
    await Tag.insert(Tag(id=mine, organization=org, name="vip"),
                     Tag(id=theirs, organization=other["user"]["organizationId"], name="vip"))
    r = await client.post(_url(cid, "/tags"), headers=head, json={"tagId": theirs})
    assert_error(r, 404, "NOT_FOUND")
    assert_error(await client.delete(_url(cid, f"/tags/{theirs}"), headers=head), 404, "NOT_FOUND")
    assert await ConversationTag.count() == 0
    for _ in range(2):  # attaching twice is harmless
        r = await client.post(_url(cid, "/tags"), headers=head, json={"tagId": mine})
        assert r.status_code == 200, r.text
    assert [t["name"] for t in r.json()["tags"]] == ["vip"]
    r = await client.get(f"{API}/conversations", headers=head, params={"tagId": mine})
    assert [i["id"] for i in r.json()["items"]] == [cid]
    assert (await client.delete(_url(cid, f"/tags/{mine}"), headers=head)).status_code == 204
    assert await ConversationTag.count() == 0


async def test_snooze_and_reopen(client, inbox):
    head, cid = inbox["head"], inbox["carla"]["id"]
    before = await Conversation.select().where(Conversation.id == cid).first()
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert_error(await client.post(_url(cid, "/snooze"), headers=head, json={"until": past}),
                 400, "VALIDATION_ERROR")
    naive = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert_error(await client.post(_url(cid, "/snooze"), headers=head, json={"until": naive}),
                 400, "VALIDATION_ERROR")
    after = await Conversation.select().where(Conversation.id == cid).first()
    assert (after["status"], after["version"], after["snoozed_until"]) == (
        before["status"], before["version"], None)

    soon = datetime.now(UTC) + timedelta(hours=1)
    r = await client.post(_url(cid, "/snooze"), headers=head, json={"until": soon.isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "PENDING" and r.json()["snoozedUntil"]
    assert await services.reopen_due_snoozes() == 0  # not due yet
    await Conversation.update({Conversation.snoozed_until: datetime.now(UTC)
                               - timedelta(seconds=1)}).where(Conversation.id == cid)
    assert await services.reopen_due_snoozes() == 1
    assert await services.reopen_due_snoozes() == 0
    now = (await client.get(_url(cid), headers=head)).json()
    assert now["status"] == "OPEN" and now["snoozedUntil"] is None
    assert now["version"] == before["version"] + 2
    kinds = [e["kind"] for e in (await client.get(_url(cid, "/history"), headers=head)).json()]
    assert kinds == ["snoozed", "reopened"]


async def test_other_org_cannot_see_or_touch(client, inbox, server):
    other = await register_other_org(server)
    head = bearer(other["accessToken"])
    cid = inbox["carla"]["id"]
    assert (await client.get(f"{API}/conversations", headers=head)).json()["items"] == []
    assert_error(await client.get(_url(cid), headers=head), 404, "NOT_FOUND")
    r = await client.patch(_url(cid), headers=head, json={"status": "SPAM", "version": 1})
    assert_error(r, 404, "NOT_FOUND")
    row = await Conversation.select().where(Conversation.id == cid).first()
    assert row["status"] == "OPEN"


def test_snooze_job_is_scheduled():
    from wacc.conversations import plugin

    assert plugin.wacc_schedule() == [("* * * * *", "conversations.reopen_snoozed")]


@pytest.mark.parametrize(("status", "inbound", "reopen", "expected"), [
    (None, True, "reopen", "new"),  # no conversation yet
    ("OPEN", True, "new", "same"),
    ("PENDING", True, "new", "same"),
    ("SPAM", True, "reopen", "same"),  # SPAM stays SPAM
    ("RESOLVED", False, "new", "same"),  # the business's own message leaves it finished
    ("CLOSED", False, "reopen", "same"),
    ("RESOLVED", True, "reopen", "reopen"),
    ("CLOSED", True, "reopen", "reopen"),
    ("RESOLVED", True, "new", "new"),
    ("CLOSED", True, "new", "new"),
])
def test_the_reopen_rule(status, inbound, reopen, expected):
    """The one rule thread_for, thread_many and open_thread follow (threading.placement)."""
    row = None if status is None else {"status": status}
    assert threading.placement(row, inbound=inbound, reopen=reopen) == expected
