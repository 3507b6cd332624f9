"""Segments over the API: every operator family against contacts that match and that do
not, nested groups, NOT-style operators, validation with a path per bad condition,
previews, counts, cursor pages, permissions and tenancy. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import API, add_member, assert_error, bearer, register, register_other_org
from wacc.contacts.tables import Contact
from wacc.segments.tables import Segment

SEGMENTS = f"{API}/segments"


@pytest.fixture
async def owner(client):
    tokens = await register(client)
    return {"head": bearer(tokens["accessToken"]), "tokens": tokens,
            "org": tokens["user"]["organizationId"]}


async def contact(client, head, phone, **extra):
    r = await client.post(f"{API}/contacts", headers=head, json={"phoneNumber": phone, **extra})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def field(client, head, key, type_, options=None):
    body = {"name": key.title(), "key": key, "type": type_}
    if options:
        body["options"] = options
    r = await client.post(f"{API}/custom-fields", headers=head, json=body)
    assert r.status_code == 201, r.text


async def tag(client, head, name, *contact_ids):
    tag_id = (await client.post(f"{API}/tags", headers=head, json={"name": name})).json()["id"]
    for cid in contact_ids:
        r = await client.post(f"{API}/contacts/{cid}/tags", headers=head, json={"tagId": tag_id})
        assert r.status_code == 200, r.text
    return tag_id


async def matches(client, head, conditions):
    """The ids a definition matches, by preview; the count must agree."""
    r = await client.post(f"{SEGMENTS}/preview", headers=head, json={"conditions": conditions},
                          params={"limit": 200})
    assert r.status_code == 200, r.text
    ids = {c["id"] for c in r.json()["items"]}
    assert r.json()["count"] == len(ids)
    return ids


def one(field_name, op, value=None):
    cond = {"field": field_name, "op": op}
    if value is not None:
        cond["value"] = value
    return {"all": [cond]}


async def test_contact_fields(client, owner):
    head = owner["head"]
    a = await contact(client, head, "+493012345670", name="Alice Smith", email="a@example.com",
                      language="en")
    b = await contact(client, head, "+14155550101", name="Bob 100%", language="de")
    c = await contact(client, head, "+14155550102")
    r = await client.patch(f"{API}/contacts/{b}", headers=head, json={"isBlocked": True})
    assert r.status_code == 200, r.text
    cases = [
        (one("name", "eq", "ALICE smith"), {a}),
        (one("name", "neq", "alice smith"), {b, c}),
        (one("name", "contains", "lic"), {a}),
        (one("name", "notContains", "lic"), {b, c}),
        (one("name", "contains", "%"), {b}),  # a literal %, not a wildcard
        (one("name", "contains", "_"), set()),
        (one("name", "contains", "{}'); --"), set()),  # values are parameters, not SQL
        (one("name", "startsWith", "bob"), {b}),
        (one("phone", "startsWith", "+49"), {a}),
        (one("email", "exists"), {a}),
        (one("email", "notExists"), {b, c}),
        (one("language", "in", ["EN", "fr"]), {a}),
        (one("language", "notIn", ["en"]), {b, c}),
        (one("timezone", "exists"), set()),
        (one("isBlocked", "eq", True), {b}),
        (one("isBlocked", "neq", True), {a, c}),
        ({"all": []}, {a, b, c}),
    ]
    for conditions, expected in cases:
        assert await matches(client, head, conditions) == expected, conditions


async def test_tags_and_nested_groups(client, owner):
    head = owner["head"]
    a = await contact(client, head, "+14155550201", name="Ann", language="en")
    b = await contact(client, head, "+14155550202", name="Ben", language="de")
    c = await contact(client, head, "+14155550203", name="Cy", language="en")
    vip = await tag(client, head, "vip", a, b)
    lead = await tag(client, head, "lead", c)
    assert await matches(client, head, one("tag", "has", vip)) == {a, b}
    assert await matches(client, head, one("tag", "notHas", vip)) == {c}
    both = {"all": [{"field": "tag", "op": "has", "value": vip},
                    {"field": "language", "op": "eq", "value": "en"}]}
    assert await matches(client, head, both) == {a}
    either = {"any": [both, {"field": "tag", "op": "has", "value": lead}]}
    assert await matches(client, head, either) == {a, c}
    assert await matches(client, head, {"any": []}) == set()
    deep = {"all": [{"field": "name", "op": "eq", "value": "Ben"}]}
    for _ in range(4):  # five levels in all: the limit
        deep = {"any": [deep]}
    assert await matches(client, head, deep) == {b}


async def test_custom_fields_by_type(client, owner):
    head = owner["head"]
    await field(client, head, "plan", "SELECT", ["basic", "pro"])
    await field(client, head, "seats", "NUMBER")
    await field(client, head, "since", "DATE")
    await field(client, head, "note", "TEXT")
    await field(client, head, "langs", "MULTISELECT", ["en", "de", "fr"])
    a = await contact(client, head, "+14155550301", customFields={
        "plan": "pro", "seats": 10, "since": "2024-01-15", "note": "Loves Pizza",
        "langs": ["en", "de"]})
    b = await contact(client, head, "+14155550302", customFields={
        "plan": "basic", "seats": 2.5, "since": "2023-06-01", "langs": ["fr"]})
    c = await contact(client, head, "+14155550303")
    cases = [
        (one("custom.plan", "eq", "pro"), {a}),
        (one("custom.plan", "neq", "pro"), {b, c}),
        (one("custom.plan", "in", ["basic"]), {b}),
        (one("custom.plan", "notIn", ["basic"]), {a, c}),
        (one("custom.plan", "exists"), {a, b}),
        (one("custom.plan", "notExists"), {c}),
        (one("custom.seats", "gt", 5), {a}),
        (one("custom.seats", "gte", 10), {a}),
        (one("custom.seats", "lt", 10), {b}),
        (one("custom.seats", "lte", 2.5), {b}),
        (one("custom.seats", "eq", 10), {a}),
        (one("custom.seats", "neq", 10), {b, c}),
        (one("custom.since", "lt", "2024-01-01"), {b}),
        (one("custom.since", "gte", "2024-01-15"), {a}),
        (one("custom.since", "eq", "2023-06-01"), {b}),
        (one("custom.note", "contains", "pizza"), {a}),
        (one("custom.note", "eq", "loves pizza"), {a}),
        (one("custom.note", "notExists"), {b, c}),
        (one("custom.langs", "has", "de"), {a}),
        (one("custom.langs", "hasAny", ["fr", "de"]), {a, b}),
        (one("custom.langs", "notHas", "en"), {b, c}),
    ]
    for conditions, expected in cases:
        assert await matches(client, head, conditions) == expected, conditions


async def test_created_and_last_message_times(client, owner):
    head = owner["head"]
    now = datetime.now(UTC)
    a = await contact(client, head, "+14155550401")
    b = await contact(client, head, "+14155550402")
    c = await contact(client, head, "+14155550403")
    await Contact.update({Contact.created_at: now - timedelta(days=40),
                          Contact.last_message_at: now - timedelta(days=2)}).where(Contact.id == a)
    await Contact.update({Contact.created_at: now - timedelta(days=10),
                          Contact.last_message_at: now - timedelta(days=60)}).where(Contact.id == c)
    edge = (now - timedelta(days=20)).isoformat()
    cases = [
        (one("createdAt", "withinDays", 30), {b, c}),
        (one("createdAt", "olderThanDays", 30), {a}),
        (one("createdAt", "before", edge), {a}),
        (one("createdAt", "after", edge), {b, c}),
        (one("createdAt", "after", (now - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")),
         {b, c}),
        (one("lastMessageAt", "exists"), {a, c}),
        (one("lastMessageAt", "notExists"), {b}),
        (one("lastMessageAt", "withinDays", 7), {a}),
        (one("lastMessageAt", "olderThanDays", 30), {c}),
        (one("lastMessageAt", "before", edge), {c}),
    ]
    for conditions, expected in cases:
        assert await matches(client, head, conditions) == expected, conditions


async def _conversation(client, head, sid, phone):
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/messages", headers=head,
                          json={"to": phone, "body": "hello"})
    assert r.status_code in (200, 201, 202), r.text
    conversation = (await client.get(f"{API}/conversations/{r.json()['conversationId']}",
                                     headers=head)).json()
    return conversation["id"], conversation["contact"]["id"], conversation["version"]


async def test_conversation_status_respects_own_only_setting(client, owner):
    head, org = owner["head"], owner["org"]
    r = await client.post(f"{API}/whatsapp/sessions", headers=head,
                          json={"name": "Desk", "connect": False})
    sid = r.json()["id"]
    _, x, _ = await _conversation(client, head, sid, "+14155550501")
    done_conv, y, version = await _conversation(client, head, sid, "+14155550502")
    r = await client.patch(f"{API}/conversations/{done_conv}", headers=head,
                           json={"status": "RESOLVED", "version": version})
    assert r.status_code == 200, r.text
    z = await contact(client, head, "+14155550503")
    assert await matches(client, head, one("conversation.status", "has", ["OPEN"])) == {x}
    assert await matches(client, head, one("conversation.status", "has", "RESOLVED")) == {y}
    assert await matches(client, head,
                         one("conversation.status", "notHas", ["OPEN", "PENDING"])) == {y, z}

    agent = await add_member(client, owner["tokens"]["accessToken"], org, "AGENT")
    agent_head = bearer(agent["accessToken"])
    r = await client.post(f"{API}/conversations/{done_conv}/assign", headers=head,
                          json={"userIds": [agent["user"]["id"]]})
    assert r.status_code == 200, r.text
    any_status = one("conversation.status", "has", ["OPEN", "RESOLVED"])
    assert await matches(client, agent_head, any_status) == {x, y}
    r = await client.patch(f"{API}/organizations/{org}", headers=head,
                           json={"settings": {"agentsSeeOwnConversationsOnly": True}})
    assert r.status_code == 200, r.text
    # The agent now learns nothing about conversations hidden from them.
    assert await matches(client, agent_head, any_status) == {y}
    assert await matches(client, head, any_status) == {x, y}


async def test_crud_pages_and_count(client, owner):
    head = owner["head"]
    ids = [await contact(client, head, f"+1415555060{i}", language="en") for i in range(5)]
    await contact(client, head, "+14155550699", language="de")
    english = one("language", "eq", "en")
    r = await client.post(SEGMENTS, headers=head, json={"name": " English ", "conditions": english})
    assert r.status_code == 201, r.text
    seg = r.json()
    assert seg["name"] == "English" and seg["conditions"] == english
    assert (await client.get(f"{SEGMENTS}/{seg['id']}", headers=head)).json() == seg
    assert [s["id"] for s in (await client.get(SEGMENTS, headers=head)).json()] == [seg["id"]]
    r = await client.get(f"{SEGMENTS}/{seg['id']}/count", headers=head)
    assert r.status_code == 200 and r.json() == {"count": 5}

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"{SEGMENTS}/{seg['id']}/contacts", headers=head,
                                 params=params)).json()
        seen += page["items"]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert sorted(c["id"] for c in seen) == sorted(ids) and len(seen) == 5
    # The same contact objects, in the same order, as GET /contacts.
    everyone = (await client.get(f"{API}/contacts", headers=head, params={"limit": 200})).json()
    assert seen == [c for c in everyone["items"] if c["id"] in ids]
    assert_error(await client.get(f"{SEGMENTS}/{seg['id']}/contacts", headers=head,
                                  params={"cursor": "junk!"}), 400, "VALIDATION_ERROR")

    german = one("language", "eq", "de")
    r = await client.patch(f"{SEGMENTS}/{seg['id']}", headers=head,
                           json={"name": "German", "conditions": german})
    assert r.status_code == 200 and r.json()["name"] == "German", r.text
    assert (await client.get(f"{SEGMENTS}/{seg['id']}/count", headers=head)).json() == {"count": 1}
    # PATCH checks new conditions like POST does, and a refusal changes nothing.
    before = await Segment.select().where(Segment.id == seg["id"]).first()
    r = await client.patch(f"{SEGMENTS}/{seg['id']}", headers=head,
                           json={"name": "Bad", "conditions": one("language", "like", "de")})
    error = assert_error(r, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "conditions.all[0].op"
    assert_error(await client.patch(f"{SEGMENTS}/{seg['id']}", headers=head, json={"name": " "}),
                 400, "VALIDATION_ERROR")
    assert await Segment.select().where(Segment.id == seg["id"]).first() == before

    assert (await client.delete(f"{SEGMENTS}/{seg['id']}", headers=head)).status_code == 204
    assert_error(await client.get(f"{SEGMENTS}/{seg['id']}", headers=head), 404, "NOT_FOUND")
    assert_error(await client.get(f"{SEGMENTS}/{seg['id']}/contacts", headers=head), 404,
                 "NOT_FOUND")
    assert await Contact.count() == 6  # deleting a segment deletes no contact


async def test_bad_definitions_are_refused_with_paths_and_change_nothing(client, owner, server):
    head = owner["head"]
    await field(client, head, "plan", "SELECT", ["basic", "pro"])
    await field(client, head, "seats", "NUMBER")
    other = bearer((await register_other_org(server))["accessToken"])
    foreign_tag = (await client.post(f"{API}/tags", headers=other, json={"name": "x"})).json()["id"]
    deep = one("name", "exists")
    for _ in range(5):
        deep = {"all": [deep]}
    cond = {"field": "name", "op": "exists"}
    cases = [
        (one("nickname", "eq", "x"), "conditions.all[0].field"),
        (one("custom.nope", "eq", "x"), "conditions.all[0].field"),
        (one("name", "gt", "x"), "conditions.all[0].op"),
        (one("custom.plan", "contains", "p"), "conditions.all[0].op"),
        (one("createdAt", "exists"), "conditions.all[0].op"),
        (one("custom.seats", "gt", "5"), "conditions.all[0].value"),
        (one("custom.seats", "eq", True), "conditions.all[0].value"),
        (one("custom.seats", "gt", 10**30), "conditions.all[0].value"),
        # A NUL in a value no longer reaches here: requests are cleaned where they enter
        # (tests/test_nul_bytes.py); the service still refuses one from other callers.
        (one("createdAt", "after", "9999-12-31T23:59:59-05:00"), "conditions.all[0].value"),
        (one("custom.plan", "eq", "gold"), "conditions.all[0].value"),
        (one("isBlocked", "eq", "yes"), "conditions.all[0].value"),
        (one("createdAt", "withinDays", 0), "conditions.all[0].value"),
        (one("createdAt", "before", "yesterday"), "conditions.all[0].value"),
        (one("language", "in", []), "conditions.all[0].value"),
        (one("name", "eq", "x" * 256), "conditions.all[0].value"),
        (one("conversation.status", "has", ["OPEN", "DONE"]), "conditions.all[0].value"),
        (one("tag", "has", foreign_tag), "conditions.all[0].value"),
        (one("tag", "has", "00000000-0000-0000-0000-000000000000"), "conditions.all[0].value"),
        (one("name", "exists", "x"), "conditions.all[0].value"),
        (one("name", "eq"), "conditions.all[0].value"),
        ({"all": [{**cond, "extra": 1}]}, "conditions.all[0]"),
        ({"all": ["name"]}, "conditions.all[0]"),
        ({"all": [cond], "any": [cond]}, "conditions"),
        (cond, "conditions"),
        ({"all": cond}, "conditions.all"),
        ({"all": [{"any": []}]}, "conditions.all[0].any"),
        (deep, "conditions.all[0].all[0].all[0].all[0].all[0]"),
        ({"all": [cond] * 51}, "conditions"),
    ]
    for conditions, path in cases:
        r = await client.post(SEGMENTS, headers=head, json={"name": "S", "conditions": conditions})
        error = assert_error(r, 400, "VALIDATION_ERROR")
        assert error["details"][0]["field"] == path, (conditions, error)
        r = await client.post(f"{SEGMENTS}/preview", headers=head, json={"conditions": conditions})
        assert_error(r, 400, "VALIDATION_ERROR")
    # One detail per bad condition, wherever it sits.
    r = await client.post(SEGMENTS, headers=head, json={"name": "S", "conditions": {"any": [
        {"field": "name", "op": "eq", "value": "ok"},
        {"field": "bogus", "op": "eq", "value": 1},
        {"all": [{"field": "email", "op": "near", "value": "x"}]},
    ]}})
    error = assert_error(r, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["conditions.any[1].field",
                                                      "conditions.any[2].all[0].op"]
    assert foreign_tag not in r.text
    for body in ({"name": "S"}, {"name": "S", "conditions": []}, {"name": "", "conditions": {}},
                 {"name": "S", "conditions": {}, "x": 1}, {"name": "\x00", "conditions": {"all": []}}):
        assert_error(await client.post(SEGMENTS, headers=head, json=body), 400, "VALIDATION_ERROR")
    assert await Segment.count() == 0


async def test_deleted_custom_field_reads_as_unset(client, owner):
    head = owner["head"]
    await field(client, head, "plan", "SELECT", ["basic", "pro"])
    a = await contact(client, head, "+14155550801", customFields={"plan": "pro"})
    b = await contact(client, head, "+14155550802")

    async def members(conditions):
        r = await client.post(SEGMENTS, headers=head, json={"name": "S", "conditions": conditions})
        assert r.status_code == 201, r.text
        return f"{SEGMENTS}/{r.json()['id']}/contacts"

    pro = await members(one("custom.plan", "eq", "pro"))
    unset = await members(one("custom.plan", "notExists"))

    async def ids(url):
        r = await client.get(url, headers=head)
        assert r.status_code == 200, r.text
        return {c["id"] for c in r.json()["items"]}

    assert (await ids(pro), await ids(unset)) == ({a}, {b})
    fields = (await client.get(f"{API}/custom-fields", headers=head)).json()
    await client.delete(f"{API}/custom-fields/{fields[0]['id']}", headers=head)
    # Saved segments keep working; no contact has a field that no longer exists.
    assert (await ids(pro), await ids(unset)) == (set(), {a, b})


async def test_permissions(client, owner):
    head, org = owner["head"], owner["org"]
    seg = (await client.post(SEGMENTS, headers=head, json={
        "name": "All", "conditions": {"all": []}})).json()
    viewer = bearer((await add_member(client, owner["tokens"]["accessToken"], org,
                                      "VIEWER"))["accessToken"])
    manager = bearer((await add_member(client, owner["tokens"]["accessToken"], org,
                                       "MANAGER"))["accessToken"])
    assert (await client.get(f"{SEGMENTS}/{seg['id']}/count", headers=viewer)).status_code == 200
    r = await client.post(f"{SEGMENTS}/preview", headers=viewer, json={"conditions": {"all": []}})
    assert r.status_code == 200, r.text
    assert_error(await client.post(SEGMENTS, headers=viewer, json={
        "name": "V", "conditions": {"all": []}}), 403, "AUTHORIZATION_ERROR")
    assert_error(await client.patch(f"{SEGMENTS}/{seg['id']}", headers=viewer,
                                    json={"name": "V"}), 403, "AUTHORIZATION_ERROR")
    assert_error(await client.delete(f"{SEGMENTS}/{seg['id']}", headers=viewer), 403,
                 "AUTHORIZATION_ERROR")
    r = await client.patch(f"{SEGMENTS}/{seg['id']}", headers=manager, json={"name": "M"})
    assert r.status_code == 200 and r.json()["name"] == "M"


async def test_other_organization_sees_and_changes_nothing(client, owner, server):
    head = owner["head"]
    a = await contact(client, head, "+14155550901", name="Secret Customer")
    vip = await tag(client, head, "vip", a)
    seg = (await client.post(SEGMENTS, headers=head, json={
        "name": "VIPs", "conditions": one("tag", "has", vip)})).json()
    other = bearer((await register_other_org(server))["accessToken"])
    before = await Segment.select().order_by(Segment.id)
    assert (await client.get(SEGMENTS, headers=other)).json() == []
    for method, tail, body in (("GET", "", None), ("GET", "/contacts", None),
                               ("GET", "/count", None), ("PATCH", "", {"name": "Mine"}),
                               ("DELETE", "", None)):
        r = await client.request(method, f"{SEGMENTS}/{seg['id']}{tail}", headers=other, json=body)
        assert_error(r, 404, "NOT_FOUND")
    # Another organization's tag id is refused like a missing one, and nothing leaks.
    r = await client.post(f"{SEGMENTS}/preview", headers=other,
                          json={"conditions": one("tag", "has", vip)})
    assert_error(r, 400, "VALIDATION_ERROR")
    assert "Secret" not in r.text
    r = await client.post(f"{SEGMENTS}/preview", headers=other, json={"conditions": {"all": []}})
    assert r.json() == {"count": 0, "items": []}
    assert await Segment.select().order_by(Segment.id) == before
