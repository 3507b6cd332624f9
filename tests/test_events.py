"""Durable domain events: what happens in the inbox reaches event handlers through the
job queue, once per event, with the facts automations and the auto-responder need."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import API, bearer, register
from tests.support.polling import until
from tests.support.whatsapp import connected_session, simulate
from wacc import events
from wacc.plugins.spec import hookimpl


class Recorder:
    """A plugin with one event handler that keeps what it is given."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.fail_next = 0

    @hookimpl
    def wacc_event_handlers(self) -> dict[str, Any]:
        async def record(event: dict[str, Any], runtime: Any) -> None:
            if self.fail_next:
                self.fail_next -= 1
                raise RuntimeError("handler down")
            self.seen.append(event)

        return {"recorder": record}

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.seen]


@pytest.fixture
def recorder(server):
    plugins = server.app.state["runtime"].plugins
    found = Recorder()
    plugins.pm.register(found, name="test-recorder")
    yield found
    plugins.pm.unregister(name="test-recorder")


async def test_inbox_activity_becomes_durable_events(client, wa, worker, recorder):
    tokens = await register(client)
    head, org = bearer(tokens["accessToken"]), tokens["user"]["organizationId"]
    await wa()
    sid, _ = await connected_session(client, head)
    await simulate(client, head, sid, "message", phone="+14155550123", body="Hi!", id="E1")

    async def received():
        return [e for e in recorder.seen if e["kind"] == "message.received"]

    first = (await until(received))[0]
    assert first["organizationId"] == org and first["body"] == "Hi!"
    assert first["newContact"] is True and first["newConversation"] is True
    assert first["fromMe"] is False
    assert recorder.kinds()[:3] == ["contact.created", "conversation.created",
                                    "message.received"]
    cid = first["conversationId"]

    await simulate(client, head, sid, "message", phone="+14155550123", body="Hello?", id="E2")

    async def second():
        found = [e for e in recorder.seen if e["kind"] == "message.received"]
        return len(found) == 2 and found[1]

    later = await until(second)
    assert later["newContact"] is False and later["newConversation"] is False

    r = await client.post(f"{API}/conversations/{cid}/messages", headers=head,
                          json={"body": "Hi Carla"})
    assert r.status_code == 201
    r = await client.patch(f"{API}/conversations/{cid}", headers=head,
                           json={"status": "RESOLVED", "version": 1})
    assert r.status_code == 200, r.text
    r = await client.post(f"{API}/conversations/{cid}/assign", headers=head,
                          json={"userIds": [tokens["user"]["id"]]})
    tag = (await client.post(f"{API}/tags", headers=head, json={"name": "vip"})).json()
    await client.post(f"{API}/conversations/{cid}/tags", headers=head, json={"tagId": tag["id"]})
    await client.post(f"{API}/conversations/{cid}/tags", headers=head, json={"tagId": tag["id"]})
    r = await client.post(f"{API}/contacts", headers=head, json={"phoneNumber": "+14155550999"})
    assert r.status_code == 201, r.text

    wanted = ["message.queued", "conversation.status_changed", "conversation.assigned",
              "tag.added", "contact.created"]

    async def all_there():
        kinds = recorder.kinds()
        return all(k in kinds for k in wanted) and kinds

    await until(all_there)
    by_kind = {e["kind"]: e for e in recorder.seen}
    assert by_kind["message.queued"]["sentBy"] == tokens["user"]["id"]
    changed = by_kind["conversation.status_changed"]
    assert (changed["from"], changed["to"]) == ("OPEN", "RESOLVED")
    assert by_kind["conversation.assigned"]["added"] == [tokens["user"]["id"]]
    assert recorder.kinds().count("tag.added") == 1  # tagging twice adds once
    assert len({e["id"] for e in recorder.seen}) == len(recorder.seen)


async def test_a_failing_handler_gets_the_event_again(client, wa, worker, recorder):
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    recorder.fail_next = 1
    r = await client.post(f"{API}/contacts", headers=head, json={"phoneNumber": "+14155550777"})
    assert r.status_code == 201

    async def delivered():
        return recorder.kinds() == ["contact.created"]

    # The first delivery fails; Huey retries the job (retry_delay) and it arrives once.
    await until(delivered, timeout=40)


def test_typed_events_keep_the_stored_format():
    """Rows recorded before events were typed decode, and typed events store the same
    JSON object, keys in the same order."""
    old = [
        events.event("message.received", "o1", messageId="m", conversationId="c",
                     contactId="k", sessionId="s", type="TEXT", body=None, fromMe=False,
                     newContact=True, newConversation=False),
        events.event("message.queued", "o1", messageId="m", conversationId="c", sentBy=None,
                     aiGenerated=True),
        events.event("conversation.created", "o1", conversationId="c", contactId="k",
                     sessionId="s"),
        events.event("conversation.status_changed", "o1", conversationId="c",
                     **{"from": "OPEN"}, to="RESOLVED", by="u"),
        events.event("conversation.assigned", "o1", conversationId="c", added=["u"],
                     removed=[], by=None),
        events.event("contact.created", "o1", contactId="k"),
        events.event("tag.added", "o1", tagId="t", conversationId="c"),
    ]
    token = events.cause.set({"causedBy": "a", "depth": 1})  # as while an automation acts
    try:
        old.append(events.event("tag.added", "o1", tagId="t", contactId="k"))
    finally:
        events.cause.reset(token)
    for stored in old:
        typed = events.from_stored(stored)
        assert typed is not None, stored["kind"]
        assert list(events.to_stored(typed).items()) == list(stored.items())
    assert events.from_stored({"kind": "something.new", "organizationId": "o1"}) is None
    status = events.from_stored(old[3])
    assert isinstance(status, events.ConversationStatusChanged) and status.from_ == "OPEN"
