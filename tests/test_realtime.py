"""The WebSocket endpoint over a real socket: authentication, live events from the
simulator and from teammates, typing, presence, visibility rules, and bad clients."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.helpers import API, add_member, bearer, register, register_other_org
from tests.support.polling import until
from tests.support.whatsapp import CARLA, DAN, connected_session, simulate
from wacc.bus import make_bus, org_topic
from wacc.realtime import connection as realtime_connection

WAIT = 10.0  # a missed event fails the test, never hangs it


def ws_url(server: Any) -> str:
    return server.url.replace("http://", "ws://") + f"{API}/ws"


class Client:
    """A WebSocket client that keeps what it receives, for assertions."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.seen: list[dict[str, Any]] = []

    async def send(self, **event: Any) -> None:
        await self.socket.send(json.dumps(event))

    async def next(self, kind: str, **match: Any) -> dict[str, Any]:
        """The next event of *kind* (with *match* fields), skipping others."""
        async with asyncio.timeout(WAIT):
            while True:
                event = json.loads(await self.socket.recv())
                self.seen.append(event)
                if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                    return event

    async def first_of(self, *kinds: str) -> dict[str, Any]:
        """The next event whose type is one of *kinds*: proves none came before it."""
        async with asyncio.timeout(WAIT):
            while True:
                event = json.loads(await self.socket.recv())
                self.seen.append(event)
                if event["type"] in kinds:
                    return event


async def open_client(server: Any, token: str) -> Client:
    socket = await connect(ws_url(server))
    client = Client(socket)
    await client.send(type="authenticate", token=token, ref="a1")
    ready = await client.next("authenticated")
    assert ready["ref"] == "a1"
    return client


def assert_ws_error(event: dict[str, Any], code: str) -> dict[str, Any]:
    assert event["type"] == "error", event
    error = event["error"]
    assert {"code", "message", "details", "requestId", "timestamp"} <= set(error), error
    assert error["code"] == code, error
    assert "Traceback" not in json.dumps(event)
    return error


@pytest.fixture
async def team(client, wa, server):
    """An organization with a connected simulator session, a manager and two agents."""
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    org = tokens["user"]["organizationId"]
    manager = await add_member(client, tokens["accessToken"], org, "MANAGER")
    ana = await add_member(client, tokens["accessToken"], org, "AGENT", "ana@example.com")
    bob = await add_member(client, tokens["accessToken"], org, "AGENT", "bob@example.com")
    await wa()
    sid, _ = await connected_session(client, head)
    return {"head": head, "tokens": tokens, "org": org, "sid": sid, "manager": manager,
            "ana": ana, "bob": bob}


async def _conversation(client, team, phone: str, body: str, wid: str) -> str:
    await simulate(client, team["head"], team["sid"], "message", phone=phone, body=body, id=wid)

    async def found():
        r = await client.get(f"{API}/conversations", headers=team["head"])
        return next((i["id"] for i in r.json()["items"] if i["contact"]["phone"] == phone), None)

    return await until(found)


async def test_team_works_one_inbox_live(client, team, server, worker):
    manager = await open_client(server, team["manager"]["accessToken"])
    ana = await open_client(server, team["ana"]["accessToken"])
    ana_id, bob_id = team["ana"]["user"]["id"], team["bob"]["user"]["id"]
    try:
        # Presence: Bob coming online reaches the others, and the API lists him.
        bob = await open_client(server, team["bob"]["accessToken"])
        await manager.next("presence:update", userId=bob_id, status="online")
        r = await client.get(f"{API}/presence", headers=team["head"])
        assert set(r.json()["online"]) == {team["manager"]["user"]["id"], ana_id, bob_id}

        # A customer writes: everyone sees it live.
        await simulate(client, team["head"], team["sid"], "message", phone=CARLA,
                       body="Where is my parcel?", id="W1", name="Carla")
        new = await ana.next("message:new")
        assert new["body"] == "Where is my parcel?" and new["direction"] == "INBOUND"
        cid = new["conversationId"]
        assert (await bob.next("message:new"))["messageId"] == new["messageId"]

        # The manager assigns Ana; both agents hear it.
        r = await client.post(f"{API}/conversations/{cid}/assign", headers=bearer(
            team["manager"]["accessToken"]), json={"userIds": [ana_id]})
        assert r.status_code == 200, r.text
        assigned = await ana.next("conversation:assigned", conversationId=cid)
        assert assigned["assignees"] == [ana_id] and assigned["added"] == [ana_id]
        await bob.next("conversation:assigned", conversationId=cid)

        # Typing reaches those who opened the thread, not the typist.
        await ana.send(type="join:conversation", conversationId=cid, ref="j1")
        assert (await ana.next("joined"))["ref"] == "j1"
        await manager.send(type="join:conversation", conversationId=cid)
        await manager.next("joined")
        await bob.send(type="typing:start", conversationId=cid)
        typing = await ana.next("typing:start", conversationId=cid)
        assert typing["userId"] == bob_id and "origin" not in typing
        await manager.next("typing:start", userId=bob_id)

        # Ana replies over the socket; the reply is queued, sent, and acked live.
        await ana.send(type="message:send", conversationId=cid, ref="s1",
                       message={"body": "It ships today"})
        queued = await ana.next("message:queued")
        assert queued["ref"] == "s1" and queued["message"]["status"] == "PENDING"
        message_id = queued["message"]["id"]
        seen = await manager.next("message:new", messageId=message_id)
        assert seen["direction"] == "OUTBOUND"
        ack = await manager.next("message:ack", messageId=message_id)
        assert ack["status"] == "SENT"

        # The manager notes with a mention: only Ana is notified.
        r = await client.post(f"{API}/conversations/{cid}/notes", headers=bearer(
            team["manager"]["accessToken"]), json={"content": "@ana@example.com call her"})
        assert r.status_code == 201, r.text
        note = await ana.next("notification")
        assert note["conversationId"] == cid and note["userId"] == ana_id
        # Everyone who may read the conversation learns of the note (the inbox shows it).
        added = await bob.next("note:new")
        assert added["noteId"] == r.json()["id"] and added["conversationId"] == cid
        # Bob never hears Ana's mention; he hears the tag, the snooze and the resolve.
        ana_head = bearer(team["ana"]["accessToken"])
        tag = (await client.post(f"{API}/tags", headers=team["head"],
                                 json={"name": "vip"})).json()
        r = await client.post(f"{API}/conversations/{cid}/tags", headers=ana_head,
                              json={"tagId": tag["id"]})
        assert r.status_code == 200, r.text
        tagged = await bob.first_of("notification", "conversation:updated")
        assert tagged["tags"] == [tag["id"]]
        until_at = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        r = await client.post(f"{API}/conversations/{cid}/snooze", headers=ana_head,
                              json={"until": until_at})
        assert r.status_code == 200, r.text
        snoozed = await bob.first_of("notification", "conversation:updated")
        assert snoozed["status"] == "PENDING" and snoozed["snoozedUntil"]
        r = await client.patch(f"{API}/conversations/{cid}", headers=ana_head,
                               json={"status": "RESOLVED", "version": r.json()["version"]})
        assert r.status_code == 200, r.text
        resolved = await bob.first_of("notification", "conversation:updated")
        assert resolved["status"] == "RESOLVED"
        await manager.next("conversation:updated", conversationId=cid, status="RESOLVED")

        # Bob leaves: the others see him go offline.
        await bob.socket.close()
        await manager.next("presence:update", userId=bob_id, status="offline")
        r = await client.get(f"{API}/presence", headers=team["head"])
        assert bob_id not in r.json()["online"]
    finally:
        await manager.socket.close()
        await ana.socket.close()


async def test_events_respect_organization_and_visibility(client, team, server):
    carla = await _conversation(client, team, CARLA, "Hello", "W1")
    dan = await _conversation(client, team, DAN, "Bonjour", "W2")
    ana_id = team["ana"]["user"]["id"]
    r = await client.post(f"{API}/conversations/{dan}/assign", headers=team["head"],
                          json={"userIds": [ana_id]})
    assert r.status_code == 200
    r = await client.patch(f"{API}/organizations/{team['org']}", headers=team["head"],
                           json={"settings": {"agentsSeeOwnConversationsOnly": True}})
    assert r.status_code == 200, r.text
    other = await register_other_org(server)

    ana = await open_client(server, team["ana"]["accessToken"])
    stranger = await open_client(server, other["accessToken"])
    viewer_tokens = await add_member(client, team["tokens"]["accessToken"], team["org"], "VIEWER")
    viewer = await open_client(server, viewer_tokens["accessToken"])
    try:
        # Joining a conversation she may not see is refused like the API refuses it.
        await ana.send(type="join:conversation", conversationId=carla, ref="x")
        assert_ws_error(await ana.first_of("error", "joined"), "NOT_FOUND")
        await ana.send(type="typing:start", conversationId=carla)
        assert_ws_error(await ana.first_of("error"), "NOT_FOUND")
        await ana.send(type="message:send", conversationId=carla, message={"body": "hi"})
        assert_ws_error(await ana.first_of("error", "message:queued"), "NOT_FOUND")

        # Carla's message must not reach Ana; Dan's (hers) does, and comes first.
        await simulate(client, team["head"], team["sid"], "message", phone=CARLA,
                       body="secret for the team", id="W3")
        await simulate(client, team["head"], team["sid"], "message", phone=DAN,
                       body="for Ana", id="W4")
        first = await ana.first_of("message:new")
        assert first["conversationId"] == dan and first["body"] == "for Ana"

        # Assigning Carla to Ana opens it to her from then on.
        r = await client.post(f"{API}/conversations/{carla}/assign", headers=team["head"],
                              json={"userIds": [ana_id]})
        assert r.status_code == 200
        await ana.next("conversation:assigned", conversationId=carla)
        await simulate(client, team["head"], team["sid"], "message", phone=CARLA,
                       body="now for Ana too", id="W5")
        assert (await ana.first_of("message:new"))["conversationId"] == carla

        # A viewer may read but not type or send.
        await viewer.send(type="typing:start", conversationId=carla)
        assert_ws_error(await viewer.first_of("error"), "AUTHORIZATION_ERROR")
        await viewer.send(type="message:send", conversationId=carla, message={"body": "x"})
        assert_ws_error(await viewer.first_of("error"), "AUTHORIZATION_ERROR")

        # The other organization heard none of it: its first event is its own.
        await stranger.send(type="join:conversation", conversationId=carla)
        assert_ws_error(await stranger.first_of("error", "message:new", "joined"), "NOT_FOUND")
        other_bus_event = {"type": "conversation:updated", "conversationId": "zzz"}
        await server.app.state["runtime"].bus.publish(
            org_topic(other["user"]["organizationId"]), other_bus_event)
        got = await stranger.first_of("message:new", "conversation:updated",
                                      "conversation:assigned", "typing:start")
        assert got["conversationId"] == "zzz"
        assert not any(e.get("conversationId") in (carla, dan) for e in stranger.seen)
    finally:
        for c in (ana, stranger, viewer):
            await c.socket.close()


async def test_events_cross_instances_through_the_bus(client, team, server):
    """A second bus instance stands for another process or machine: what it publishes
    reaches sockets served here through the backend (Redis, or the embedded table)."""
    cid = await _conversation(client, team, CARLA, "Hello", "W1")
    ana = await open_client(server, team["ana"]["accessToken"])
    other_process_bus = make_bus(server.settings)
    try:
        await other_process_bus.publish(org_topic(team["org"]), {
            "type": "conversation:updated", "conversationId": cid, "status": "PENDING"})
        got = await ana.next("conversation:updated", conversationId=cid)
        assert got["status"] == "PENDING"
        # Internal event types never leave the server.
        await other_process_bus.publish(org_topic(team["org"]), {"type": "internal:secret"})
        await other_process_bus.publish(org_topic(team["org"]), {
            "type": "conversation:updated", "conversationId": cid, "status": "OPEN"})
        await ana.next("conversation:updated", status="OPEN")
        assert all(e["type"] != "internal:secret" for e in ana.seen)
    finally:
        await other_process_bus.close()
        await ana.socket.close()


async def test_bad_clients_get_errors_and_change_nothing(client, team, server):
    cid = await _conversation(client, team, CARLA, "Hello", "W1")
    url = ws_url(server)

    # Anything but authenticate first: an error, then the door closes.
    async with connect(url) as socket:
        await socket.send(json.dumps({"type": "join:conversation", "conversationId": cid}))
        assert_ws_error(json.loads(await socket.recv()), "AUTHENTICATION_ERROR")
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
        assert closed.value.rcvd.code == 4401
    # A wrong token.
    async with connect(url) as socket:
        await socket.send(json.dumps({"type": "authenticate", "token": "not-a-token"}))
        assert_ws_error(json.loads(await socket.recv()), "AUTHENTICATION_ERROR")
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
        assert closed.value.rcvd.code == 4401

    ana = await open_client(server, team["ana"]["accessToken"])
    try:
        # Garbage and unknown events: an error each, and the connection stays usable.
        await ana.socket.send("{not json")
        assert_ws_error(await ana.first_of("error"), "VALIDATION_ERROR")
        await ana.send(type="launch:rockets", ref="r1")
        error = await ana.first_of("error")
        assert_ws_error(error, "VALIDATION_ERROR")
        assert error["ref"] == "r1"
        await ana.send(type="message:send", conversationId=cid, message={"body": "x",
                                                                         "evil": True})
        assert_ws_error(await ana.first_of("error", "message:queued"), "VALIDATION_ERROR")
        await ana.send(type="join:conversation", conversationId=cid)
        await ana.next("joined", conversationId=cid)
        r = await client.get(f"{API}/conversations/{cid}/messages", headers=team["head"])
        assert [m["body"] for m in r.json()["items"]] == ["Hello"]  # nothing was sent
    finally:
        await ana.socket.close()

    # A binary frame is not the protocol.
    bob = await open_client(server, team["bob"]["accessToken"])
    await bob.socket.send(b"\x00\x01")
    with pytest.raises(ConnectionClosed) as closed:
        await bob.first_of("never")
    assert closed.value.rcvd.code == 4400


async def test_flooding_client_is_limited_then_closed(client, team, server):
    cid = await _conversation(client, team, CARLA, "Hello", "W1")
    limit = server.settings.security.ws_events_per_minute
    bob = await open_client(server, team["bob"]["accessToken"])
    for _ in range(limit):
        await bob.send(type="leave:conversation", conversationId=cid)
    for _ in range(limit):
        await bob.next("left")
    await bob.send(type="join:conversation", conversationId=cid, ref="over")
    error = assert_ws_error(await bob.first_of("error", "joined"), "RATE_LIMIT_EXCEEDED")
    assert error["retryAfter"] >= 1
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(realtime_connection.MAX_REFUSED + 5):
            await bob.send(type="leave:conversation", conversationId=cid)
        await bob.first_of("never")
    assert closed.value.rcvd.code == 4429
    r = await client.get(f"{API}/conversations/{cid}/messages", headers=team["head"])
    assert len(r.json()["items"]) == 1


async def test_signed_out_or_silent_clients_are_closed(client, team, server, monkeypatch):
    monkeypatch.setattr(realtime_connection, "HEARTBEAT_SECONDS", 0.2)
    monkeypatch.setattr(realtime_connection, "AUTH_SECONDS", 0.5)
    async with connect(ws_url(server)) as socket:  # says nothing
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
        assert closed.value.rcvd.code == 4408

    ana = await open_client(server, team["ana"]["accessToken"])
    r = await client.post(f"{API}/auth/logout", headers=bearer(team["ana"]["accessToken"]),
                          json={"refreshToken": team["ana"]["refreshToken"]})
    assert r.status_code in (200, 204), r.text
    assert_ws_error(await ana.first_of("error"), "AUTHENTICATION_ERROR")
    with pytest.raises(ConnectionClosed) as closed:
        await ana.first_of("never")
    assert closed.value.rcvd.code == 4401
