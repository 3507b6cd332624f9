"""CSV export (streamed, filtered, formula-safe, importable back) and GDPR: the export of
everything about one contact, and its erasure with media files and an audit row that
carries nothing personal."""

from __future__ import annotations

import base64
import csv
import io
import json

import pytest

from tests.helpers import API, add_member, assert_error, bearer, register
from tests.support.contacts import finished, upload
from tests.support.polling import until
from tests.support.whatsapp import connected_session, simulate
from wacc.audit.tables import ActivityLog
from wacc.contacts.tables import Contact, ContactTag
from wacc.conversations.tables import Conversation, ConversationEvent, Note
from wacc.lib.errors import NotFoundError
from wacc.messages.tables import Message

EXPORT = f"{API}/contacts/export"


@pytest.fixture
async def owner(client):
    tokens = await register(client)
    return {"head": bearer(tokens["accessToken"]), "tokens": tokens,
            "org": tokens["user"]["organizationId"]}


def rows_of(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


async def test_csv_export_filters_guards_formulas_and_imports_back(client, owner, worker):
    head = owner["head"]
    await client.post(f"{API}/custom-fields", headers=head, json={
        "name": "Langs", "key": "langs", "type": "MULTISELECT", "options": ["en", "de"]})
    await client.post(f"{API}/custom-fields", headers=head,
                      json={"name": "Seats", "key": "seats", "type": "NUMBER"})
    vip = (await client.post(f"{API}/tags", headers=head, json={"name": "vip"})).json()["id"]
    lines = ["phone,name,email,tags,custom.langs,custom.seats"]
    lines += [f"+4930{i:07d},Person {i},p{i}@example.com,,,{i}" for i in range(1100)]
    lines += ["+14155550001,=HYPERLINK(\"http://evil\"),evil@example.com,vip,en;de,2"]
    lines += ["+14155550002,+1+cmd|calc,plus@example.com,,,"]
    r = await upload(client, head, "\n".join(lines).encode())
    assert (await finished(client, head, r.json()["id"]))["created"] == 1102

    async with client.stream("GET", EXPORT, headers=head) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        chunks = [chunk async for chunk in response.aiter_bytes()]
    text = b"".join(chunks).decode()
    rows = rows_of(text)
    assert len(rows) == 1102 and len({r["id"] for r in rows}) == 1102
    assert list(rows[0])[:7] == ["id", "phone", "name", "email", "language", "timezone", "tags"]
    evil = next(r for r in rows if r["email"] == "evil@example.com")
    # The formula guard leaves a phone number in E.164 alone (it wrote '+14155550001,
    # issue 16) but still guards other cells that start with "+".
    assert evil["name"] == "'=HYPERLINK(\"http://evil\")" and evil["phone"] == "+14155550001"
    plus = next(r for r in rows if r["email"] == "plus@example.com")
    assert plus["name"] == "'+1+cmd|calc" and plus["phone"] == "+14155550002"
    assert evil["tags"] == "vip" and evil["custom.langs"] == "en;de" and evil["custom.seats"] == "2"

    only_vip = rows_of((await client.get(EXPORT, headers=head, params={"tagId": vip})).text)
    assert [r["email"] for r in only_vip] == ["evil@example.com"]
    found = rows_of((await client.get(EXPORT, headers=head, params={"search": "Person 1099"})).text)
    assert [r["name"] for r in found] == ["Person 1099"]
    assert_error(await client.get(EXPORT, headers=head, params={"field": "Bad Key"}),
                 400, "VALIDATION_ERROR")

    # What the export wrote imports back unchanged: every row an update, nothing lost.
    await Contact.delete().where(Contact.id != "")
    r = await upload(client, head, text.encode())
    back = await finished(client, head, r.json()["id"])
    assert (back["created"], back["failed"]) == (1102, 0), back["errors"]
    evil_back = await Contact.select().where(Contact.email == "evil@example.com").output(
        load_json=True).first()
    assert evil_back["name"] == '=HYPERLINK("http://evil")'
    assert evil_back["custom_fields"] == {"langs": ["en", "de"], "seats": 2}
    assert await ContactTag.count() == 1
    audited = await ActivityLog.select().where(ActivityLog.action == "contact.export")
    assert len(audited) == 3 and all(a["resource_id"] is None for a in audited)


async def test_export_needs_the_export_permission(client, owner):
    agent = await add_member(client, owner["tokens"]["accessToken"], owner["org"], "AGENT")
    r = await client.get(EXPORT, headers=bearer(agent["accessToken"]))
    assert_error(r, 403, "AUTHORIZATION_ERROR")


@pytest.fixture
async def customer(client, owner, wa, server):
    """A contact with a conversation: a text and an image from them, a note, a history."""
    head = owner["head"]
    await wa()
    sid, _ = await connected_session(client, head)
    image = base64.b64encode(b"\x89PNG private photo").decode()
    await simulate(client, head, sid, "message", phone="+14155550123", body="my address is X",
                   id="G1", name="Greta")
    await simulate(client, head, sid, "message", phone="+14155550123", id="G2", type="IMAGE",
                   media={"mimeType": "image/png", "data": image})
    await simulate(client, head, sid, "message", phone="+14155550999", body="someone else",
                   id="O1", name="Other")

    async def arrived():
        return await Message.count() == 3 and await Contact.select().where(
            Contact.phone_number == "+14155550123").first()

    contact = await until(arrived)
    conversation = await Conversation.select().where(
        Conversation.contact == contact["id"]).first()
    url = f"{API}/conversations/{conversation['id']}"
    assert (await client.post(f"{url}/notes", headers=head,
                              json={"content": "VIP, call back"})).status_code == 201
    assert (await client.patch(url, headers=head, json={"status": "RESOLVED", "version": 1})
            ).status_code == 200
    media_key = (await Message.select().where(Message.whatsapp_message_id == "G2").first())[
        "media_url"]
    assert media_key
    return {"id": contact["id"], "conversation": conversation["id"], "media": media_key,
            "runtime": server.app.state["runtime"]}


async def test_gdpr_export_has_everything_about_the_contact(client, owner, customer):
    r = await client.get(f"{API}/contacts/{customer['id']}/export", headers=owner["head"])
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["contact"]["phoneNumber"] == "+14155550123" and data["contact"]["name"] == "Greta"
    [conversation] = data["conversations"]
    assert [m["body"] for m in conversation["messages"]] == ["my address is X", None]
    assert conversation["messages"][1]["mediaKey"] == customer["media"]
    assert [n["content"] for n in conversation["notes"]] == ["VIP, call back"]
    assert ("status", "OPEN", "RESOLVED") in [(h["kind"], h["from"], h["to"])
                                              for h in conversation["history"]]
    assert data["mediaKeys"] == [customer["media"]]
    assert "someone else" not in r.text
    assert await ActivityLog.count().where(ActivityLog.action == "contact.gdpr_export") == 1
    agent = await add_member(client, owner["tokens"]["accessToken"], owner["org"], "AGENT")
    assert_error(await client.get(f"{API}/contacts/{customer['id']}/export",
                                  headers=bearer(agent["accessToken"])),
                 403, "AUTHORIZATION_ERROR")


async def test_erase_removes_contact_conversations_messages_and_media(client, owner, customer):
    head, runtime = owner["head"], customer["runtime"]
    manager = await add_member(client, owner["tokens"]["accessToken"], owner["org"], "MANAGER")
    assert_error(await client.post(f"{API}/contacts/{customer['id']}/erase",
                                   headers=bearer(manager["accessToken"])),
                 403, "AUTHORIZATION_ERROR")
    assert_error(await client.post(f"{API}/contacts/not-a-contact/erase", headers=head),
                 404, "NOT_FOUND")
    assert await Contact.count() == 2 and await Message.count() == 3

    r = await client.post(f"{API}/contacts/{customer['id']}/erase", headers=head)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": customer["id"], "conversations": 1, "messages": 2, "mediaFiles": 1}
    assert await Contact.select().where(Contact.id == customer["id"]).first() is None
    assert await Conversation.count().where(Conversation.id == customer["conversation"]) == 0
    assert await Note.count() == 0 and await ConversationEvent.count().where(
        ConversationEvent.conversation == customer["conversation"]) == 0
    assert [m["body"] for m in await Message.select()] == ["someone else"]
    with pytest.raises(NotFoundError):
        await runtime.media.get(customer["media"])
    assert_error(await client.get(f"{API}/contacts/{customer['id']}/export", headers=head),
                 404, "NOT_FOUND")

    async def audited():
        return await ActivityLog.select().where(
            (ActivityLog.action == "contact.erase") & (ActivityLog.status_code == 200)).first()

    row = await until(audited)
    assert row["resource_id"] == customer["id"] and row["status_code"] == 200
    stored = json.dumps(row, default=str)
    for personal in ("Greta", "+14155550123", "14155550123", "my address", "VIP"):
        assert personal not in stored
