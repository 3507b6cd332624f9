"""Contacts pages over real HTTP with the session cookie: the list with its search and
filters, the contact page, escaping of hostile names, what each role sees, and
another organization's contact."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.helpers import API, PASSWORD, add_member, bearer, register, register_other_org

HTML = {"Accept": "text/html"}
HOSTILE = "<script>alert(1)</script>"


async def ui_login(client: httpx.AsyncClient, email: str, password: str) -> None:
    """Sign in through /ui/login like the browser (the client keeps the cookie). These
    tests only read pages, so they need no CSRF token (tests.ui_support's helper reads
    it from /inbox, which is another area's page)."""
    r = await client.post("/ui/login", json={"email": email, "password": password},
                          headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text


async def _owner(client: httpx.AsyncClient) -> dict[str, Any]:
    data = await register(client)
    return {"head": bearer(data["accessToken"]), "token": data["accessToken"],
            "org": data["user"]["organizationId"]}


async def _contact(client: httpx.AsyncClient, head: dict[str, str], phone: str,
                   **fields: Any) -> dict[str, Any]:
    r = await client.post(f"{API}/contacts", headers=head, json={"phoneNumber": phone, **fields})
    assert r.status_code == 201, r.text
    return r.json()


async def test_list_renders_and_search_and_filters_narrow_it(client):
    owner = await _owner(client)
    vip = (await client.post(f"{API}/tags", headers=owner["head"], json={"name": "VIP"})).json()
    ada = await _contact(client, owner["head"], "+4930111111", name="Ada Lovelace")
    await _contact(client, owner["head"], "+4930222222", name="Bob Builder")
    blocked = await _contact(client, owner["head"], "+4930333333", name="Carl Blocked")
    await client.post(f"{API}/contacts/{ada['id']}/tags", headers=owner["head"],
                      json={"tagId": vip["id"]})
    await client.patch(f"{API}/contacts/{blocked['id']}", headers=owner["head"],
                       json={"isBlocked": True})
    await ui_login(client, "owner@example.com", PASSWORD)

    page = await client.get("/contacts", headers=HTML)
    assert page.status_code == 200
    for name in ("Ada Lovelace", "Bob Builder", "Carl Blocked"):
        assert name in page.text
    assert 'hx-trigger="input changed delay:300ms, search"' in page.text
    assert 'href="/contacts/import"' in page.text and "New contact" in page.text
    assert 'href="/api/v1/contacts/export"' in page.text

    rows = (await client.get("/ui/contacts/rows", params={"search": "ada"})).text
    assert "Ada Lovelace" in rows and "Bob Builder" not in rows
    rows = (await client.get("/ui/contacts/rows", params={"tagId": vip["id"]})).text
    assert "Ada Lovelace" in rows and "Bob Builder" not in rows and "VIP" in rows
    rows = (await client.get("/ui/contacts/rows", params={"blocked": "yes"})).text
    assert "Carl Blocked" in rows and "Ada Lovelace" not in rows
    rows = (await client.get("/ui/contacts/rows", params={"blocked": "no", "search": "b"})).text
    assert "Bob Builder" in rows and "Carl Blocked" not in rows
    r = await client.post(f"{API}/segments", headers=owner["head"], json={
        "name": "Builders", "conditions": {"all": [
            {"field": "name", "op": "contains", "value": "build"}]}})
    assert r.status_code == 201, r.text
    rows = (await client.get("/ui/contacts/rows", params={"segmentId": r.json()["id"]})).text
    assert "Bob Builder" in rows and "Ada Lovelace" not in rows
    rows = (await client.get("/ui/contacts/rows", params={"segmentId": r.json()["id"],
                                                          "blocked": "yes"})).text
    assert "No contacts match these filters" in rows
    rows = (await client.get("/ui/contacts/rows", params={"search": "nobody-matches"})).text
    assert "No contacts match these filters" in rows

    # The page itself honours the filters in its address, and the export link follows.
    page = await client.get("/contacts", params={"search": "bob"}, headers=HTML)
    assert "Bob Builder" in page.text and "Ada Lovelace" not in page.text
    assert 'href="/api/v1/contacts/export?search=bob"' in page.text
    # The link works with the session cookie alone (a GET needs no CSRF token).
    export = await client.get("/api/v1/contacts/export?search=bob")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "Bob Builder" in export.text and "Ada Lovelace" not in export.text
    bad = await client.get("/ui/contacts/rows", params={"blocked": "maybe"})
    assert bad.status_code == 400


async def test_pages_of_contacts_follow_the_cursor(client):
    owner = await _owner(client)
    for i in range(30):
        await _contact(client, owner["head"], f"+49301000{i:03d}", name=f"Person {i:02d}")
    await ui_login(client, "owner@example.com", PASSWORD)
    first = (await client.get("/contacts", headers=HTML)).text
    assert first.count('class="contact-link"') == 25
    cursor = re.search(r'hx-get="/ui/contacts/rows\?cursor=([^"]+)"', first)
    assert cursor, "no load-more button"
    more = (await client.get(f"/ui/contacts/rows?cursor={cursor.group(1)}")).text
    assert more.count('class="contact-link"') == 5
    assert "Load more" not in more and "No contacts" not in more


async def test_empty_list_says_how_to_add_contacts(client):
    await _owner(client)
    await ui_login(client, "owner@example.com", PASSWORD)
    page = await client.get("/contacts", headers=HTML)
    assert "No contacts yet" in page.text


async def test_hostile_name_is_escaped_on_list_and_detail(client):
    owner = await _owner(client)
    r = await client.post(f"{API}/custom-fields", headers=owner["head"],
                          json={"name": HOSTILE, "key": "note", "type": "TEXT"})
    assert r.status_code == 201, r.text
    contact = await _contact(client, owner["head"], "+4930444444", name=HOSTILE,
                             customFields={"note": HOSTILE})
    await ui_login(client, "owner@example.com", PASSWORD)
    for url in ("/contacts", f"/contacts/{contact['id']}", "/ui/contacts/rows"):
        page = await client.get(url, headers=HTML)
        assert page.status_code == 200, url
        assert HOSTILE not in page.text, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, url


async def test_detail_shows_fields_tags_and_owner_controls(client):
    owner = await _owner(client)
    for body in ({"name": "Plan", "key": "plan", "type": "SELECT", "options": ["free", "pro"]},
                 {"name": "Seats", "key": "seats", "type": "NUMBER"},
                 {"name": "Renewal", "key": "renewal", "type": "DATE"},
                 {"name": "Topics", "key": "topics", "type": "MULTISELECT", "options": ["a", "b"]}):
        r = await client.post(f"{API}/custom-fields", headers=owner["head"], json=body)
        assert r.status_code == 201, r.text
    vip = (await client.post(f"{API}/tags", headers=owner["head"], json={"name": "VIP"})).json()
    await client.post(f"{API}/tags", headers=owner["head"], json={"name": "Lead"})
    contact = await _contact(client, owner["head"], "+4930555555", name="Dora",
                             customFields={"plan": "pro", "seats": 12, "renewal": "2027-01-31"})
    await client.post(f"{API}/contacts/{contact['id']}/tags", headers=owner["head"],
                      json={"tagId": vip["id"]})
    await ui_login(client, "owner@example.com", PASSWORD)

    page = (await client.get(f"/contacts/{contact['id']}", headers=HTML)).text
    assert 'data-api="/api/v1/contacts/' + contact["id"] + '"' in page
    assert re.search(r'<option selected>pro</option>', page)
    assert 'name="customFields.seats" type="number" value="12"' in page
    assert 'name="customFields.renewal" type="date" value="2027-01-31"' in page
    assert 'name="customFields.topics" data-type="array" multiple' in page
    assert "Remove tag VIP" in page
    assert '<option value="' in page and ">Lead</option>" in page  # a tag to add
    assert 'data-method="DELETE"' in page and "Merge" in page and "Block" in page
    assert "No conversations with this contact yet" in page

    pick = (await client.get("/ui/contacts/pick", params={"_search": "dora",
                                                           "exclude": contact["id"]})).text
    assert "No other contact matches" in pick


async def test_viewer_sees_no_edit_controls_and_no_import(client):
    owner = await _owner(client)
    contact = await _contact(client, owner["head"], "+4930666666", name="Eve")
    await add_member(client, owner["token"], owner["org"], "VIEWER")
    await ui_login(client, "viewer@example.com", PASSWORD)

    listing = await client.get("/contacts", headers=HTML)
    assert listing.status_code == 200 and "Eve" in listing.text
    assert "New contact" not in listing.text and "/contacts/import" not in listing.text
    assert "Export CSV" not in listing.text
    detail = await client.get(f"/contacts/{contact['id']}", headers=HTML)
    assert detail.status_code == 200 and "Eve" in detail.text
    assert "data-api" not in detail.text.split('id="main"', 1)[1]
    assert "Save changes" not in detail.text and "Merge" not in detail.text
    imported = await client.get("/contacts/import", headers=HTML)
    assert imported.status_code == 403
    assert "Not allowed" in imported.text
    assert (await client.get("/ui/contacts/pick", params={"_search": "e"})).status_code == 403


async def test_agent_may_import_but_not_delete(client):
    owner = await _owner(client)
    contact = await _contact(client, owner["head"], "+4930777777", name="Finn")
    await add_member(client, owner["token"], owner["org"], "AGENT")
    await ui_login(client, "agent@example.com", PASSWORD)
    detail = (await client.get(f"/contacts/{contact['id']}", headers=HTML)).text
    assert "Save changes" in detail and ">Delete</button>" not in detail
    page = await client.get("/contacts/import", headers=HTML)
    assert page.status_code == 200 and 'id="import-form"' in page.text
    assert "custom." not in page.text or "(custom)" in page.text


async def test_other_organizations_contact_is_a_404_page(client, server):
    await _owner(client)
    other = await register_other_org(server)
    theirs = await _contact(client, bearer(other["accessToken"]), "+4930888888", name="Globex Guy")
    await ui_login(client, "owner@example.com", PASSWORD)
    page = await client.get(f"/contacts/{theirs['id']}", headers=HTML)
    assert page.status_code == 404
    assert "Page not found" in page.text and "Globex Guy" not in page.text
    rows = (await client.get("/ui/contacts/rows", params={"search": "globex"})).text
    assert "Globex Guy" not in rows
    pick = (await client.get("/ui/contacts/pick", params={"_search": "globex"})).text
    assert "Globex Guy" not in pick


async def test_import_page_lists_fields_and_past_imports(client):
    owner = await _owner(client)
    await client.post(f"{API}/custom-fields", headers=owner["head"],
                      json={"name": "Plan", "key": "plan", "type": "TEXT"})
    csv = b"phone,name\n+4930999999,Gia\nnot-a-phone,Bad\n"
    r = await client.post(f"{API}/contacts/import", headers=owner["head"],
                          files={"file": ("people.csv", csv, "text/csv")},
                          data={"mapping": '{"phone": "phone", "name": "name"}'})
    assert r.status_code == 202, r.text
    await ui_login(client, "owner@example.com", PASSWORD)
    page = await client.get("/contacts/import", headers=HTML)
    assert page.status_code == 200
    assert "custom.plan" in page.text and "Plan (custom)" in page.text
    assert "people.csv" in page.text
    assert '<progress id="import-bar"' in page.text
