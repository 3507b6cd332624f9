"""Canned responses: CRUD, search, /shortcut expansion with variables, unique
shortcuts per organization, permissions, and tenancy."""

from __future__ import annotations

import pytest

from tests.helpers import API, add_member, assert_error, bearer, register, register_other_org
from wacc.canned import services
from wacc.canned.schemas import CannedResponseCreate
from wacc.canned.tables import CannedResponse
from wacc.lib.errors import ConflictError
from wacc.security.principal import Principal
from wacc.security.roles import Role

CANNED = f"{API}/canned-responses"
EXPAND = f"{CANNED}/expand"


async def _snapshot() -> list[dict]:
    return await CannedResponse.select(
        CannedResponse.id, CannedResponse.organization, CannedResponse.shortcut,
        CannedResponse.content).order_by(CannedResponse.id)


async def _owner(client) -> tuple[dict, dict[str, str]]:
    owner = await register(client)
    return owner, bearer(owner["accessToken"])


async def _make(client, head, shortcut: str, content: str) -> dict:
    r = await client.post(CANNED, headers=head, json={"shortcut": shortcut, "content": content})
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_list_update_delete(client):
    owner, head = await _owner(client)
    greet = await _make(client, head, "greet", "Hello {{contact.name}}!")
    assert greet["shortcut"] == "greet" and greet["createdBy"] == owner["user"]["id"]
    await _make(client, head, "bye", "Goodbye")
    assert [c["shortcut"] for c in (await client.get(CANNED, headers=head)).json()] == [
        "bye", "greet"]
    r = await client.patch(f"{CANNED}/{greet['id']}", headers=head,
                           json={"shortcut": "hi", "content": "Hi there"})
    assert r.status_code == 200, r.text
    assert r.json()["shortcut"] == "hi" and r.json()["content"] == "Hi there"
    assert r.json()["updatedAt"] >= greet["updatedAt"]
    r = await client.delete(f"{CANNED}/{greet['id']}", headers=head)
    assert r.status_code == 204, r.text
    assert [c["shortcut"] for c in (await client.get(CANNED, headers=head)).json()] == ["bye"]
    assert_error(await client.delete(f"{CANNED}/{greet['id']}", headers=head), 404, "NOT_FOUND")


async def test_search_matches_shortcut_or_content_ignoring_case(client):
    _, head = await _owner(client)
    await _make(client, head, "greet", "Hello there")
    await _make(client, head, "price", "Our PRICES start at 10%")
    await _make(client, head, "bye", "Goodbye")

    async def search(term: str) -> list[str]:
        r = await client.get(CANNED, headers=head, params={"search": term})
        assert r.status_code == 200, r.text
        return [c["shortcut"] for c in r.json()]

    assert await search("gre") == ["greet"]
    assert await search("/gre") == ["greet"]
    assert await search("prices") == ["price"]
    assert await search("10%") == ["price"]
    assert await search("_") == []
    assert await search("e") == ["bye", "greet", "price"]
    assert await search("") == ["bye", "greet", "price"]


async def test_expand_replaces_leading_shortcut_and_fills_variables(client):
    _, head = await _owner(client)
    greet = await _make(client, head, "greet",
                        "Hello {{contact.name}} ({{ contact.phone }}), I am {{agent.name}}.")
    r = await client.post(EXPAND, headers=head, json={
        "text": "/greet How can I help?",
        "variables": {"contact.name": "Ann", "contact.phone": "+14155550100",
                      "agent.name": "Olivia"}})
    assert r.status_code == 200, r.text
    assert r.json() == {"text": "Hello Ann (+14155550100), I am Olivia. How can I help?",
                        "cannedResponseId": greet["id"]}
    await _make(client, head, "plain", "Thanks!")
    r = await client.post(EXPAND, headers=head, json={"text": "/plain"})
    assert r.json() == {"text": "Thanks!", "cannedResponseId": r.json()["cannedResponseId"]}
    # No leading shortcut: the text is returned as it is (a slash later is not one).
    for text in ("just text /plain", "/plainer is not /plain", ""):
        r = await client.post(EXPAND, headers=head, json={"text": text})
        if text.startswith("/plainer"):
            assert_error(r, 404, "NOT_FOUND")
            continue
        assert r.status_code == 200, r.text
        assert r.json() == {"text": text, "cannedResponseId": None}


async def test_expand_errors_name_the_shortcut_or_variable(client):
    _, head = await _owner(client)
    await _make(client, head, "greet", "Hello {{contact.name}}")
    await _make(client, head, "typo", "Hello {{contact.nmae}}")
    before = await _snapshot()
    error = assert_error(await client.post(EXPAND, headers=head, json={"text": "/nope hi"}),
                         404, "NOT_FOUND")
    assert "/nope" in error["message"]
    error = assert_error(await client.post(EXPAND, headers=head, json={"text": "/typo"}),
                         400, "VALIDATION_ERROR")
    assert "contact.nmae" in error["message"]
    error = assert_error(await client.post(EXPAND, headers=head, json={"text": "/greet"}),
                         400, "VALIDATION_ERROR")
    assert "contact.name" in error["message"]
    error = assert_error(await client.post(EXPAND, headers=head, json={
        "text": "/greet", "variables": {"contact.name": "Ann", "contact.age": "3"}}),
        400, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "variables.contact.age",
                                 "message": "unknown variable contact.age"}]
    assert_error(await client.post(EXPAND, headers=head, json={"text": 5}),
                 400, "VALIDATION_ERROR")
    assert await _snapshot() == before


async def test_bad_input_is_refused_and_changes_nothing(client):
    _, head = await _owner(client)
    first = await _make(client, head, "greet", "Hello")
    await _make(client, head, "bye", "Bye")
    before = await _snapshot()
    for body in ({"shortcut": "/greet2", "content": "x"}, {"shortcut": "Greet", "content": "x"},
                 {"shortcut": "", "content": "x"}, {"shortcut": "a" * 49, "content": "x"},
                 {"shortcut": "has space", "content": "x"}, {"shortcut": "ok", "content": ""},
                 {"shortcut": "ok", "content": "x" * 4097}, {"shortcut": "ok"},
                 {"shortcut": "ok", "content": "x", "extra": 1}):
        assert_error(await client.post(CANNED, headers=head, json=body), 400, "VALIDATION_ERROR")
    for body in ({"shortcut": "BAD"}, {"content": ""}, {"other": 1}):
        r = await client.patch(f"{CANNED}/{first['id']}", headers=head, json=body)
        assert_error(r, 400, "VALIDATION_ERROR")
    error = assert_error(await client.post(CANNED, headers=head,
                                           json={"shortcut": "greet", "content": "again"}),
                         409, "CONFLICT")
    assert error["details"] == [{"field": "shortcut", "message": "already in use"}]
    r = await client.patch(f"{CANNED}/{first['id']}", headers=head, json={"shortcut": "bye"})
    assert_error(r, 409, "CONFLICT")
    assert await _snapshot() == before


async def test_unique_index_race_becomes_a_conflict(client, monkeypatch):
    """Two requests can both pass the check; the unique index then answers 409."""
    owner, head = await _owner(client)
    await _make(client, head, "greet", "Hello")
    before = await _snapshot()

    async def no_check(*args: object) -> None:
        return None

    monkeypatch.setattr(services, "_ensure_shortcut_free", no_check)
    principal = Principal(organization_id=owner["user"]["organizationId"],
                          user_id=owner["user"]["id"], role=Role.OWNER)
    with pytest.raises(ConflictError):
        await services.create_canned(principal, CannedResponseCreate(shortcut="greet",
                                                                     content="race"))
    assert await _snapshot() == before


async def test_permissions(client):
    owner, head = await _owner(client)
    org_id = owner["user"]["organizationId"]
    canned = await _make(client, head, "greet", "Hello")
    viewer = bearer(
        (await add_member(client, owner["accessToken"], org_id, "VIEWER"))["accessToken"])
    agent = bearer((await add_member(client, owner["accessToken"], org_id, "AGENT"))["accessToken"])
    before = await _snapshot()
    for who in (viewer, agent):
        assert (await client.get(CANNED, headers=who)).status_code == 200
        r = await client.post(EXPAND, headers=who, json={"text": "/greet"})
        assert r.status_code == 200 and r.json()["text"] == "Hello"
        assert_error(await client.post(CANNED, headers=who, json={"shortcut": "x", "content": "y"}),
                     403, "AUTHORIZATION_ERROR")
        assert_error(await client.patch(f"{CANNED}/{canned['id']}", headers=who,
                                        json={"content": "y"}), 403, "AUTHORIZATION_ERROR")
        assert_error(await client.delete(f"{CANNED}/{canned['id']}", headers=who), 403,
                     "AUTHORIZATION_ERROR")
    assert await _snapshot() == before


async def test_other_organization_cannot_see_use_or_change(client, server):
    _, head = await _owner(client)
    canned = await _make(client, head, "greet", "Hello")
    other = bearer((await register_other_org(server))["accessToken"])
    before = await _snapshot()
    assert (await client.get(CANNED, headers=other)).json() == []
    assert_error(await client.post(EXPAND, headers=other, json={"text": "/greet"}),
                 404, "NOT_FOUND")
    assert_error(await client.patch(f"{CANNED}/{canned['id']}", headers=other,
                                    json={"content": "x"}), 404, "NOT_FOUND")
    assert_error(await client.delete(f"{CANNED}/{canned['id']}", headers=other), 404, "NOT_FOUND")
    assert await _snapshot() == before
    r = await client.post(CANNED, headers=other, json={"shortcut": "greet", "content": "Hi"})
    assert r.status_code == 201, r.text
