"""Tags: CRUD, trimmed names unique per organization ignoring case, #rrggbb colours,
permissions, links removed on delete, and another organization's tags answer 404."""

from __future__ import annotations

import pytest

from tests.helpers import API, add_member, assert_error, bearer, register, register_other_org
from wacc.contacts.tables import Contact, ContactTag
from wacc.lib.errors import ConflictError
from wacc.security.principal import Principal
from wacc.security.roles import Role
from wacc.tags import services
from wacc.tags.schemas import TagCreate
from wacc.tags.tables import Tag

TAGS = f"{API}/tags"


async def _snapshot() -> list[dict]:
    return await Tag.select(Tag.id, Tag.organization, Tag.name, Tag.color).order_by(Tag.id)


async def _owner(client) -> tuple[dict, dict[str, str]]:
    owner = await register(client)
    return owner, bearer(owner["accessToken"])


async def test_create_list_update_delete(client):
    _, head = await _owner(client)
    r = await client.post(TAGS, headers=head, json={"name": "  VIP  ", "color": "#FF0000"})
    assert r.status_code == 201, r.text
    vip = r.json()
    assert vip["name"] == "VIP" and vip["color"] == "#ff0000" and vip["createdAt"]
    r = await client.post(TAGS, headers=head, json={"name": "lead"})
    assert r.status_code == 201, r.text
    assert r.json()["color"] == "#64748b"

    listed = (await client.get(TAGS, headers=head)).json()
    assert [t["name"] for t in listed] == ["lead", "VIP"]  # ignoring case

    r = await client.patch(f"{TAGS}/{vip['id']}", headers=head,
                           json={"name": "Gold", "color": "#00aa00"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Gold" and r.json()["color"] == "#00aa00"
    # Renaming to its own name in another case is not a conflict with itself.
    r = await client.patch(f"{TAGS}/{vip['id']}", headers=head, json={"name": "GOLD"})
    assert r.status_code == 200 and r.json()["name"] == "GOLD"

    r = await client.delete(f"{TAGS}/{vip['id']}", headers=head)
    assert r.status_code == 204, r.text
    assert [t["name"] for t in (await client.get(TAGS, headers=head)).json()] == ["lead"]
    r = await client.delete(f"{TAGS}/{vip['id']}", headers=head)
    assert_error(r, 404, "NOT_FOUND")


async def test_duplicate_names_conflict_ignoring_case(client):
    _, head = await _owner(client)
    r = await client.post(TAGS, headers=head, json={"name": "VIP"})
    other = (await client.post(TAGS, headers=head, json={"name": "lead"})).json()
    before = await _snapshot()
    for body in ({"name": "vip"}, {"name": " Vip "}):
        error = assert_error(await client.post(TAGS, headers=head, json=body), 409, "CONFLICT")
        assert error["details"] == [{"field": "name", "message": "already exists"}]
    r = await client.patch(f"{TAGS}/{other['id']}", headers=head, json={"name": "vIp"})
    assert_error(r, 409, "CONFLICT")
    assert await _snapshot() == before


async def test_bad_input_is_refused_and_changes_nothing(client):
    _, head = await _owner(client)
    tag = (await client.post(TAGS, headers=head, json={"name": "VIP"})).json()
    before = await _snapshot()
    for body in ({"name": ""}, {"name": "   "}, {"name": "x" * 65}, {"name": "a", "color": "red"},
                 {"name": "a", "color": "#12345"}, {"name": "a", "color": "#gggggg"},
                 {"color": "#123456"}, {"name": "a", "extra": 1}, {"name": 5}):
        r = await client.post(TAGS, headers=head, json=body)
        assert_error(r, 400, "VALIDATION_ERROR")
    for body in ({"name": "  "}, {"color": "#1234567"}, {"unknown": True}):
        r = await client.patch(f"{TAGS}/{tag['id']}", headers=head, json=body)
        assert_error(r, 400, "VALIDATION_ERROR")
    assert await _snapshot() == before


async def test_sixty_four_characters_after_trimming_is_allowed(client):
    _, head = await _owner(client)
    r = await client.post(TAGS, headers=head, json={"name": "  " + "x" * 64 + "  "})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "x" * 64


async def test_permissions(client):
    owner, head = await _owner(client)
    org_id = owner["user"]["organizationId"]
    tag = (await client.post(TAGS, headers=head, json={"name": "VIP"})).json()
    agent = bearer((await add_member(client, owner["accessToken"], org_id, "AGENT"))["accessToken"])
    manager = bearer(
        (await add_member(client, owner["accessToken"], org_id, "MANAGER"))["accessToken"])
    before = await _snapshot()
    r = await client.get(TAGS, headers=agent)
    assert r.status_code == 200 and [t["id"] for t in r.json()] == [tag["id"]]
    assert_error(await client.post(TAGS, headers=agent, json={"name": "x"}), 403,
                 "AUTHORIZATION_ERROR")
    assert_error(await client.patch(f"{TAGS}/{tag['id']}", headers=agent, json={"name": "x"}),
                 403, "AUTHORIZATION_ERROR")
    assert_error(await client.delete(f"{TAGS}/{tag['id']}", headers=agent), 403,
                 "AUTHORIZATION_ERROR")
    assert await _snapshot() == before
    r = await client.post(TAGS, headers=manager, json={"name": "by manager"})
    assert r.status_code == 201, r.text


async def test_delete_removes_contact_links(client):
    owner, head = await _owner(client)
    org_id = owner["user"]["organizationId"]
    tag = (await client.post(TAGS, headers=head, json={"name": "VIP"})).json()
    keep = (await client.post(TAGS, headers=head, json={"name": "keep"})).json()
    contact = Contact(organization=org_id, whatsapp_id="14155550100@c.us",
                      phone_number="+14155550100")
    await contact.save()
    await ContactTag.insert(ContactTag(contact=contact.id, tag=tag["id"]),
                            ContactTag(contact=contact.id, tag=keep["id"]))
    r = await client.delete(f"{TAGS}/{tag['id']}", headers=head)
    assert r.status_code == 204, r.text
    links = await ContactTag.select(ContactTag.tag)
    assert [link["tag"] for link in links] == [keep["id"]]
    assert await Contact.count() == 1


async def test_other_organization_cannot_see_or_change_tags(client, server):
    _, head = await _owner(client)
    tag = (await client.post(TAGS, headers=head, json={"name": "VIP"})).json()
    other = bearer((await register_other_org(server))["accessToken"])
    before = await _snapshot()
    assert (await client.get(TAGS, headers=other)).json() == []
    assert_error(await client.patch(f"{TAGS}/{tag['id']}", headers=other, json={"name": "x"}),
                 404, "NOT_FOUND")
    assert_error(await client.delete(f"{TAGS}/{tag['id']}", headers=other), 404, "NOT_FOUND")
    assert await _snapshot() == before
    # Names are unique per organization, not across them.
    r = await client.post(TAGS, headers=other, json={"name": "VIP"})
    assert r.status_code == 201, r.text


async def test_unique_index_race_becomes_a_conflict(client, monkeypatch):
    """Two requests can both pass the check; the unique index then answers 409."""
    owner, head = await _owner(client)
    await client.post(TAGS, headers=head, json={"name": "VIP"})
    before = await _snapshot()

    async def no_check(*args: object) -> None:
        return None

    monkeypatch.setattr(services, "_ensure_tag_name_free", no_check)
    principal = Principal(organization_id=owner["user"]["organizationId"],
                          user_id=owner["user"]["id"], role=Role.OWNER)
    with pytest.raises(ConflictError):
        await services.create_tag(principal, TagCreate(name="VIP"))
    assert await _snapshot() == before
