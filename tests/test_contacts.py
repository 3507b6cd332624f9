"""Contacts over the API: E.164 numbers, search and filters, cursor pages, custom field
values checked against their definitions, tags, merge, block synced to WhatsApp."""

from __future__ import annotations

import pytest

from tests.helpers import API, assert_error, bearer, register
from tests.support.whatsapp import connected_session, simulate
from wacc.contacts.tables import Contact
from wacc.lib.ids import new_id
from wacc.messages.tables import Message
from wacc.segments.tables import ContactSegment, Segment


@pytest.fixture
async def owner(client):
    return bearer((await register(client))["accessToken"])


async def make(client, head, phone, **extra):
    r = await client.post(f"{API}/contacts", headers=head, json={"phoneNumber": phone, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_normalises_and_refuses_duplicates_and_bad_numbers(client, owner):
    c = await make(client, owner, "+1 (415) 555-0123", name="Carla")
    assert c["phoneNumber"] == "+14155550123" and c["whatsappId"] == "14155550123@c.us"
    assert_error(await client.post(f"{API}/contacts", headers=owner,
                                   json={"phoneNumber": "+14155550123"}), 409, "CONFLICT")
    for bad in ("12", "not a phone", "+999 1"):
        r = await client.post(f"{API}/contacts", headers=owner, json={"phoneNumber": bad})
        assert_error(r, 400, "VALIDATION_ERROR")
    assert await Contact.count() == 1


async def test_search_filters_and_pages(client, owner):
    for i in range(5):
        await make(client, owner, f"+4930123456{i}", name=f"Person {i}",
                   email=f"p{i}@example.com")
    r = await client.get(f"{API}/contacts", headers=owner, params={"search": "person 3"})
    assert [c["name"] for c in r.json()["items"]] == ["Person 3"]
    r = await client.get(f"{API}/contacts", headers=owner, params={"search": "4930123456"})
    assert len(r.json()["items"]) == 5
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"{API}/contacts", headers=owner, params=params)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5
    assert_error(await client.get(f"{API}/contacts", headers=owner, params={"cursor": "junk!"}),
                 400, "VALIDATION_ERROR")


async def test_tags_and_tag_filter(client, owner):
    a = await make(client, owner, "+14155550001", name="A")
    await make(client, owner, "+14155550002", name="B")
    tag = (await client.post(f"{API}/tags", headers=owner, json={"name": "vip"})).json()
    r = await client.post(f"{API}/contacts/{a['id']}/tags", headers=owner, json={"tagId": tag["id"]})
    assert r.status_code == 200 and r.json()["tags"] == [tag["id"]]
    listed = (await client.get(f"{API}/contacts", headers=owner, params={"tagId": tag["id"]})).json()
    assert [c["name"] for c in listed["items"]] == ["A"]
    r = await client.delete(f"{API}/contacts/{a['id']}/tags/{tag['id']}", headers=owner)
    assert r.status_code == 204
    assert (await client.get(f"{API}/contacts/{a['id']}", headers=owner)).json()["tags"] == []


async def test_custom_field_values_are_checked_and_filterable(client, owner):
    r = await client.post(f"{API}/custom-fields", headers=owner, json={
        "name": "Plan", "key": "plan", "type": "SELECT", "options": ["basic", "pro"]})
    assert r.status_code == 201, r.text
    await client.post(f"{API}/custom-fields", headers=owner,
                      json={"name": "Seats", "key": "seats", "type": "NUMBER"})
    c = await make(client, owner, "+14155550003", customFields={"plan": "pro", "seats": 3})
    assert c["customFields"] == {"plan": "pro", "seats": 3}
    r = await client.patch(f"{API}/contacts/{c['id']}", headers=owner,
                           json={"customFields": {"plan": "gold", "seats": "many", "nope": 1}})
    err = assert_error(r, 400, "VALIDATION_ERROR")
    assert {d["field"] for d in err["details"]} == {
        "customFields.plan", "customFields.seats", "customFields.nope"}
    unchanged = (await client.get(f"{API}/contacts/{c['id']}", headers=owner)).json()
    assert unchanged["customFields"] == {"plan": "pro", "seats": 3}
    await make(client, owner, "+14155550004", customFields={"plan": "basic"})
    r = await client.get(f"{API}/contacts", headers=owner,
                         params={"field": "plan", "fieldValue": "pro"})
    assert [x["id"] for x in r.json()["items"]] == [c["id"]]


async def test_merge_moves_everything(client, owner, wa):

    await wa()
    sid, _ = await connected_session(client, owner)
    await simulate(client, owner, sid, "message", phone="+14155550111", body="old number", id="M1")
    await simulate(client, owner, sid, "message", phone="+14155550222", body="new number", id="M2")
    old = await Contact.select().where(Contact.phone_number == "+14155550111").first()
    new = await Contact.select().where(Contact.phone_number == "+14155550222").first()
    tag = (await client.post(f"{API}/tags", headers=owner, json={"name": "lead"})).json()
    await client.post(f"{API}/contacts/{old['id']}/tags", headers=owner, json={"tagId": tag["id"]})
    # Segment memberships move too (the segments feature's merge step, registered through
    # wacc.contacts.links): one shared segment stays one row.
    org = old["organization"]
    shared, only_old = new_id(), new_id()
    await Segment.insert(Segment(id=shared, organization=org, name="shared"),
                         Segment(id=only_old, organization=org, name="old only"))
    await ContactSegment.insert(ContactSegment(id=new_id(), contact=old["id"], segment=shared),
                                ContactSegment(id=new_id(), contact=old["id"], segment=only_old),
                                ContactSegment(id=new_id(), contact=new["id"], segment=shared))
    r = await client.post(f"{API}/contacts/{new['id']}/merge", headers=owner,
                          json={"otherId": old["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == [tag["id"]]
    kept = await ContactSegment.select(ContactSegment.segment).where(
        ContactSegment.contact == new["id"])
    assert sorted(row["segment"] for row in kept) == sorted([shared, only_old])
    assert await ContactSegment.count() == 2
    assert await Contact.count() == 1
    assert await Message.count() == 2
    conversations = (await client.get(f"{API}/contacts/{new['id']}/conversations",
                                      headers=owner)).json()
    assert len(conversations) == 2
    assert_error(await client.post(f"{API}/contacts/{new['id']}/merge", headers=owner,
                                   json={"otherId": new["id"]}), 400, "VALIDATION_ERROR")


async def test_blocking_syncs_to_whatsapp(client, owner, wa):

    await wa()
    sid, _ = await connected_session(client, owner)
    await simulate(client, owner, sid, "message", phone="+14155550333", body="hi", id="K1")
    contact = await Contact.select().where(Contact.phone_number == "+14155550333").first()
    r = await client.patch(f"{API}/contacts/{contact['id']}", headers=owner,
                           json={"isBlocked": True})
    assert r.status_code == 200 and r.json()["isBlocked"] is True


async def test_delete(client, owner):
    c = await make(client, owner, "+14155550444")
    assert (await client.delete(f"{API}/contacts/{c['id']}", headers=owner)).status_code == 204
    assert_error(await client.get(f"{API}/contacts/{c['id']}", headers=owner), 404, "NOT_FOUND")
