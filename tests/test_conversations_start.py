"""POST /api/v1/conversations: the business writes first, to a contact or a phone number,
over the real API and a real simulator session; the message goes out through the same
queue and send job as a reply, the open conversation is reused, and what is refused
changes nothing."""

from __future__ import annotations

import pytest

from tests.cloud_support import cloud_session, customer_writes
from tests.fakes.graph_api import FakeGraphAPI
from tests.helpers import API, add_member, assert_error, bearer, register, register_other_org
from tests.support.polling import until
from tests.support.whatsapp import connected_session, simulate
from wacc.contacts.tables import Contact
from wacc.conversations.tables import Conversation
from wacc.messages.tables import Message

NEW = "+14155550177"
HOUR = 3600.0


async def _counts() -> tuple[int, int, int]:
    return (await Contact.count(), await Conversation.count(), await Message.count())


async def _outbox(client, head, sid, phone):
    r = await client.get(f"{API}/whatsapp/sessions/{sid}/simulator/outbox", headers=head,
                         params={"to": phone})
    assert r.status_code == 200, r.text
    return r.json()


async def test_start_by_phone_sends_once_and_reuses_the_open_conversation(client, wa, worker):
    head = bearer((await register(client))["accessToken"])
    await wa()
    sid, _ = await connected_session(client, head)
    r = await client.post(f"{API}/conversations", headers=head, json={
        "phone": "+1 (415) 555-0177", "sessionId": sid,
        "message": {"body": "Your order is ready", "idempotencyKey": "start-1"}})
    assert r.status_code == 201, r.text
    started = r.json()
    conversation, message = started["conversation"], started["message"]
    assert started["newConversation"] is True
    assert conversation["contact"]["phone"] == NEW  # normalized to E.164
    assert conversation["sessionId"] == sid and conversation["status"] == "OPEN"
    assert message["conversationId"] == conversation["id"]
    assert message["direction"] == "OUTBOUND" and message["status"] == "PENDING"

    async def delivered():
        out = await _outbox(client, head, sid, NEW)
        return out and out

    outbox = await until(delivered)
    assert [m["body"] for m in outbox] == ["Your order is ready"]

    # The same key again: the first message, nothing new and nothing sent twice.
    again = await client.post(f"{API}/conversations", headers=head, json={
        "phone": NEW, "sessionId": sid,
        "message": {"body": "Your order is ready", "idempotencyKey": "start-1"}})
    assert again.status_code == 200, again.text
    assert again.json()["message"]["id"] == message["id"]
    assert again.json()["newConversation"] is False

    # The contact now exists: by id, the open conversation is reused, not duplicated.
    by_id = await client.post(f"{API}/conversations", headers=head, json={
        "contactId": conversation["contact"]["id"], "sessionId": sid,
        "message": {"body": "Opening hours: 9 to 5"}})
    assert by_id.status_code == 201, by_id.text
    assert by_id.json()["conversation"]["id"] == conversation["id"]
    assert by_id.json()["newConversation"] is False
    assert await Conversation.count().where(Conversation.contact == conversation["contact"]["id"]) == 1
    assert await Contact.count().where(Contact.phone_number == NEW) == 1

    async def both():
        out = await _outbox(client, head, sid, NEW)
        return len(out) == 2 and out

    assert sorted(m["body"] for m in await until(both)) == [
        "Opening hours: 9 to 5", "Your order is ready"]
    # The customer answers: into the same conversation.
    await simulate(client, head, sid, "message", phone=NEW, body="Thanks!", id="IN-START-1")

    async def answered():
        rows = await Message.select(Message.conversation).where(
            Message.whatsapp_message_id == "IN-START-1")
        return rows and rows[0]["conversation"]

    assert await until(answered) == conversation["id"]


async def test_a_resolved_conversation_is_not_reused(client, wa):
    head = bearer((await register(client))["accessToken"])
    await wa()
    sid, _ = await connected_session(client, head)
    first = (await client.post(f"{API}/conversations", headers=head, json={
        "phone": NEW, "sessionId": sid, "message": {"body": "Hello"}})).json()["conversation"]
    r = await client.patch(f"{API}/conversations/{first['id']}", headers=head,
                           json={"status": "RESOLVED", "version": first["version"]})
    assert r.status_code == 200, r.text
    r = await client.post(f"{API}/conversations", headers=head, json={
        "phone": NEW, "sessionId": sid, "message": {"body": "A new offer"}})
    assert r.status_code == 201, r.text
    assert r.json()["newConversation"] is True
    assert r.json()["conversation"]["id"] != first["id"]
    assert r.json()["conversation"]["contact"]["id"] == first["contact"]["id"]


async def test_bad_input_is_refused_and_changes_nothing(client, wa):
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    await wa()
    sid, _ = await connected_session(client, head)
    before = await _counts()
    cases = [
        ({"phone": "not a phone", "sessionId": sid, "message": {"body": "hi"}}, "phone"),
        ({"phone": "+1", "sessionId": sid, "message": {"body": "hi"}}, None),
        ({"sessionId": sid, "message": {"body": "hi"}}, "contactId"),
        ({"phone": NEW, "contactId": "x", "sessionId": sid, "message": {"body": "hi"}},
         "contactId"),
        ({"phone": NEW, "sessionId": sid, "message": {"body": "   "}}, "body"),
        ({"phone": NEW, "sessionId": sid, "message": {"type": "LOCATION"}}, "location"),
        ({"phone": NEW, "sessionId": sid, "message": {"type": "banana", "body": "x"}}, None),
        ({"phone": NEW, "sessionId": sid}, None),
        ({"phone": NEW, "message": {"body": "hi"}}, None),
        ({"phone": NEW, "sessionId": sid, "message": {"body": "hi"}, "extra": 1}, None),
    ]
    for body, field in cases:
        r = await client.post(f"{API}/conversations", headers=head, json=body)
        error = assert_error(r, 400, "VALIDATION_ERROR")
        if field:
            assert field in [d["field"] for d in error["details"]], (body, error)
    for body in ({"phone": NEW, "sessionId": "no-such-session", "message": {"body": "hi"}},
                 {"contactId": "no-such-contact", "sessionId": sid, "message": {"body": "hi"}}):
        assert_error(await client.post(f"{API}/conversations", headers=head, json=body),
                     404, "NOT_FOUND")
    assert await _counts() == before


async def test_another_organizations_contact_or_session_is_not_found(client, wa, server):
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    await wa()
    sid, _ = await connected_session(client, head)
    contact = (await client.post(f"{API}/contacts", headers=head,
                                 json={"phoneNumber": NEW, "name": "Nora"})).json()
    other = await register_other_org(server)
    other_head = bearer(other["accessToken"])
    other_sid, _ = await connected_session(client, other_head)
    before = await _counts()
    for body in (
        {"contactId": contact["id"], "sessionId": other_sid, "message": {"body": "hi"}},
        {"phone": NEW, "sessionId": sid, "message": {"body": "hi"}},
    ):
        r = await client.post(f"{API}/conversations", headers=other_head, json=body)
        assert_error(r, 404, "NOT_FOUND")
    assert await _counts() == before


@pytest.mark.parametrize(("role", "allowed"), [("ADMIN", True), ("MANAGER", True),
                                                ("AGENT", True), ("VIEWER", False)])
async def test_who_may_start_a_conversation(client, wa, role, allowed):
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    await wa()
    sid, _ = await connected_session(client, head)
    member = await add_member(client, tokens["accessToken"], tokens["user"]["organizationId"], role)
    before = await _counts()
    r = await client.post(f"{API}/conversations", headers=bearer(member["accessToken"]), json={
        "phone": NEW, "sessionId": sid, "message": {"body": "hi"}})
    if allowed:
        assert r.status_code == 201, r.text
    else:
        assert_error(r, 403, "AUTHORIZATION_ERROR")
        assert await _counts() == before


async def test_an_agent_who_sees_only_their_own_conversations_gets_the_one_they_start(
        client, wa):
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    await wa()
    sid, _ = await connected_session(client, head)
    r = await client.patch(f"{API}/organizations/{tokens['user']['organizationId']}",
                           headers=head, json={"settings": {"agentsSeeOwnConversationsOnly": True}})
    assert r.status_code == 200, r.text
    agent = await add_member(client, tokens["accessToken"], tokens["user"]["organizationId"],
                             "AGENT")
    r = await client.post(f"{API}/conversations", headers=bearer(agent["accessToken"]), json={
        "phone": NEW, "sessionId": sid, "message": {"body": "hi"}})
    assert r.status_code == 201, r.text
    assert r.json()["conversation"]["assignees"] == [agent["user"]["id"]]


@pytest.fixture
async def graph():
    async with FakeGraphAPI().serve() as fake:
        yield fake


async def test_cloud_session_needs_a_template_outside_the_window(client, graph, wa, worker):
    owner, sid = await cloud_session(client, graph, wa)
    recent = await customer_writes(client, graph, sid, "16505551234", message_id="wamid.S1",
                                   ago=HOUR)
    before = await _counts()
    # A number nobody wrote from: free text is refused before anything is stored.
    r = await client.post(f"{API}/conversations", headers=owner, json={
        "phone": "+16505550000", "sessionId": sid, "message": {"body": "Hello"}})
    error = assert_error(r, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "message.template"
    assert "24 hours" in error["details"][0]["message"]
    assert await _counts() == before
    # A template starts it, through the send job to the Graph API.
    template = {"name": "hello_world", "language": {"code": "en_US"}}
    r = await client.post(f"{API}/conversations", headers=owner, json={
        "phone": "+16505550000", "sessionId": sid,
        "message": {"body": "Template hello_world (en_US)", "template": template}})
    assert r.status_code == 201, r.text
    assert r.json()["message"]["metadata"]["template"] == template
    # A customer who wrote an hour ago may get free text, into their open conversation.
    r = await client.post(f"{API}/conversations", headers=owner, json={
        "phone": "+16505551234", "sessionId": sid, "message": {"body": "Still there?"}})
    assert r.status_code == 201, r.text
    assert r.json()["conversation"]["id"] == recent

    async def accepted():
        return len(graph.accepted) == 2 and graph.accepted

    assert sorted(b["type"] for b in await until(accepted, interval=0.25)) == ["template", "text"]
