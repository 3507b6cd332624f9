"""Custom field definitions (CRUD, options rules, unique keys, permissions, tenancy)
and validate_values, which checks a contact's values against them."""

from __future__ import annotations

import pytest

from tests.helpers import API, add_member, assert_error, bearer, register, register_other_org
from wacc.customfields import services
from wacc.customfields.schemas import CustomFieldCreate
from wacc.customfields.services import validate_values
from wacc.customfields.tables import CustomField, FieldType
from wacc.lib.errors import ConflictError, ValidationError
from wacc.security.principal import Principal
from wacc.security.roles import Role

FIELDS = f"{API}/custom-fields"


async def _snapshot() -> list[dict]:
    return await CustomField.select(
        CustomField.id, CustomField.organization, CustomField.name, CustomField.key,
        CustomField.type, CustomField.options, CustomField.required,
    ).order_by(CustomField.id)


async def _owner(client) -> tuple[dict, dict[str, str]]:
    owner = await register(client)
    return owner, bearer(owner["accessToken"])


async def _make(client, head, **body) -> dict:
    r = await client.post(FIELDS, headers=head, json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_list_update_delete(client):
    _, head = await _owner(client)
    plan = await _make(client, head, name="Plan", key="plan", type="SELECT",
                       options=["free", "pro"], required=True)
    assert {k: plan[k] for k in ("name", "key", "type", "options", "required")} == {
        "name": "Plan", "key": "plan", "type": "SELECT", "options": ["free", "pro"],
        "required": True}
    await _make(client, head, name=" Birthday ", key="birthday", type="DATE")
    listed = (await client.get(FIELDS, headers=head)).json()
    assert [(f["key"], f["name"], f["options"], f["required"]) for f in listed] == [
        ("birthday", "Birthday", None, False), ("plan", "Plan", ["free", "pro"], True)]
    r = await client.patch(f"{FIELDS}/{plan['id']}", headers=head,
                           json={"name": "Tier", "options": ["free", "pro", "team"],
                                 "required": False})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["options"], r.json()["required"]) == (
        "Tier", ["free", "pro", "team"], False)
    assert_error(await client.delete(f"{FIELDS}/nope", headers=head), 404, "NOT_FOUND")
    r = await client.delete(f"{FIELDS}/{plan['id']}", headers=head)
    assert r.status_code == 204, r.text
    assert [f["key"] for f in (await client.get(FIELDS, headers=head)).json()] == ["birthday"]


async def test_bad_definitions_are_refused_and_change_nothing(client):
    _, head = await _owner(client)
    plan = await _make(client, head, name="Plan", key="plan", type="SELECT", options=["a"])
    text = await _make(client, head, name="Note", key="note", type="TEXT")
    before = await _snapshot()
    base = {"name": "F", "type": "TEXT"}
    bad_bodies = [
        {**base, "key": "Upper"}, {**base, "key": "1st"}, {**base, "key": "_x"},
        {**base, "key": "has-dash"}, {**base, "key": "a" * 65}, {**base, "key": ""},
        {"name": "F", "key": "f", "type": "COLOR"}, {"name": "", "key": "f", "type": "TEXT"},
        {"name": "F", "key": "f", "type": "SELECT"},
        {"name": "F", "key": "f", "type": "MULTISELECT", "options": []},
        {"name": "F", "key": "f", "type": "SELECT", "options": ["a", "a"]},
        {"name": "F", "key": "f", "type": "SELECT", "options": [""]},
        {"name": "F", "key": "f", "type": "TEXT", "options": ["a"]},
        {"name": "F", "key": "f", "type": "NUMBER", "options": []},
        {"name": "F", "key": "f", "type": "TEXT", "extra": 1},
        {"key": "f", "type": "TEXT"},
    ]
    for body in bad_bodies:
        r = await client.post(FIELDS, headers=head, json=body)
        assert_error(r, 400, "VALIDATION_ERROR")
    for field_id, body in ((plan["id"], {"options": []}), (plan["id"], {"options": ["b", "b"]}),
                           (text["id"], {"options": ["a"]}), (plan["id"], {"key": "other"}),
                           (plan["id"], {"type": "TEXT"}), (plan["id"], {"name": ""})):
        r = await client.patch(f"{FIELDS}/{field_id}", headers=head, json=body)
        assert_error(r, 400, "VALIDATION_ERROR")
    error = assert_error(await client.post(FIELDS, headers=head, json={**base, "key": "plan"}),
                         409, "CONFLICT")
    assert error["details"] == [{"field": "key", "message": "already exists"}]
    assert await _snapshot() == before


async def test_permissions(client):
    owner, head = await _owner(client)
    org_id = owner["user"]["organizationId"]
    field = await _make(client, head, name="Note", key="note", type="TEXT")
    manager = bearer(
        (await add_member(client, owner["accessToken"], org_id, "MANAGER"))["accessToken"])
    viewer = bearer(
        (await add_member(client, owner["accessToken"], org_id, "VIEWER"))["accessToken"])
    before = await _snapshot()
    for who in (manager, viewer):
        assert [f["id"] for f in (await client.get(FIELDS, headers=who)).json()] == [field["id"]]
        r = await client.post(FIELDS, headers=who, json={"name": "X", "key": "x", "type": "TEXT"})
        assert_error(r, 403, "AUTHORIZATION_ERROR")
        assert_error(await client.patch(f"{FIELDS}/{field['id']}", headers=who,
                                        json={"name": "Y"}), 403, "AUTHORIZATION_ERROR")
        assert_error(await client.delete(f"{FIELDS}/{field['id']}", headers=who), 403,
                     "AUTHORIZATION_ERROR")
    assert await _snapshot() == before


async def test_other_organization_cannot_see_or_change(client, server):
    _, head = await _owner(client)
    field = await _make(client, head, name="Note", key="note", type="TEXT")
    other = bearer((await register_other_org(server))["accessToken"])
    before = await _snapshot()
    assert (await client.get(FIELDS, headers=other)).json() == []
    assert_error(await client.patch(f"{FIELDS}/{field['id']}", headers=other,
                                    json={"name": "X"}), 404, "NOT_FOUND")
    assert_error(await client.delete(f"{FIELDS}/{field['id']}", headers=other), 404, "NOT_FOUND")
    assert await _snapshot() == before
    # Keys are unique per organization only.
    r = await client.post(FIELDS, headers=other, json={"name": "Note", "key": "note",
                                                      "type": "TEXT"})
    assert r.status_code == 201, r.text


async def test_unique_index_race_becomes_a_conflict(client, monkeypatch):
    """Two requests can both pass the check; the unique index then answers 409."""
    owner, head = await _owner(client)
    await _make(client, head, name="Note", key="note", type="TEXT")
    before = await _snapshot()

    async def no_check(*args: object) -> None:
        return None

    monkeypatch.setattr(services, "_ensure_key_free", no_check)
    principal = Principal(organization_id=owner["user"]["organizationId"],
                          user_id=owner["user"]["id"], role=Role.OWNER)
    with pytest.raises(ConflictError):
        await services.create(principal, CustomFieldCreate(name="Note", key="note",
                                                           type=FieldType.TEXT))
    assert await _snapshot() == before


# -- validate_values --------------------------------------------------------------------


@pytest.fixture
async def org(client) -> str:
    """An organization with one definition of every type; its id."""
    owner, head = await _owner(client)
    for key, type_, extra in (
        ("note", "TEXT", {}), ("score", "NUMBER", {}), ("work_email", "EMAIL", {}),
        ("mobile", "PHONE", {}), ("birthday", "DATE", {}),
        ("plan", "SELECT", {"options": ["free", "pro"]}),
        ("topics", "MULTISELECT", {"options": ["sales", "support", "billing"]}),
        ("site", "URL", {}),
    ):
        await _make(client, head, name=key.title(), key=key, type=type_, **extra)
    await _make(client, head, name="Account", key="account", type="TEXT", required=True)
    return owner["user"]["organizationId"]


async def _errors(org_id: str, values: dict, partial: bool = True) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        await validate_values(org_id, values, partial=partial)
    fields = [d["field"] for d in caught.value.details]
    assert len(fields) == len(set(fields)), "one detail per bad field"
    return {d["field"]: d["message"] for d in caught.value.details}


async def test_valid_values_are_normalised(org):
    values = {
        "note": "hello", "score": 4.5, "work_email": "  ann@example.com ",
        "mobile": "+44 20 7946 0958", "birthday": "1990-02-28", "plan": "pro",
        "topics": ["support", "sales", "support"], "site": " https://example.com/a?b=1 ",
        "account": "A-1",
    }
    assert await validate_values(org, values, partial=False) == {
        "note": "hello", "score": 4.5, "work_email": "ann@example.com",
        "mobile": "+442079460958", "birthday": "1990-02-28", "plan": "pro",
        "topics": ["support", "sales"], "site": "https://example.com/a?b=1", "account": "A-1",
    }
    assert await validate_values(org, {"score": 3, "mobile": "14155550100"}, partial=True) == {
        "score": 3, "mobile": "+14155550100"}
    assert await validate_values(org, {"site": "http://localhost:8000"}, partial=True) == {
        "site": "http://localhost:8000"}
    assert await validate_values(org, {"note": "x" * 1000, "topics": []}, partial=True) == {
        "note": "x" * 1000, "topics": None}


async def test_none_clears_optional_fields_only(org):
    assert await validate_values(org, {"note": None, "plan": None}, partial=True) == {
        "note": None, "plan": None}
    assert await _errors(org, {"account": None}) == {"customFields.account": "is required"}
    assert await _errors(org, {"account": "  "}) == {"customFields.account": "is required"}


@pytest.mark.parametrize(("key", "value"), [
    ("note", 5), ("note", "x" * 1001), ("note", ["a"]),
    ("score", "5"), ("score", True), ("score", {"n": 1}),
    ("work_email", "not-an-email"), ("work_email", "a@b"), ("work_email", 3),
    ("mobile", "hello"), ("mobile", "+1 555"), ("mobile", 14155550100),
    ("birthday", "2023-02-30"), ("birthday", "20230201"), ("birthday", "01/02/2023"),
    ("birthday", "2023-2-1"), ("birthday", 20230201),
    ("plan", "enterprise"), ("plan", ["pro"]), ("plan", "PRO"),
    ("topics", "sales"), ("topics", ["sales", "nope"]), ("topics", [1]),
    ("site", "ftp://example.com"), ("site", "https://"), ("site", "example.com"),
    ("site", "javascript:alert(1)"), ("site", "http://[::1"), ("site", 5),
])
async def test_wrong_types_are_refused(org, key, value):
    errors = await _errors(org, {key: value})
    assert list(errors) == [f"customFields.{key}"]


async def test_one_detail_per_bad_field_with_unknown_and_missing_required(org):
    errors = await _errors(org, {"score": "x", "plan": "gold", "nope": 1, "note": "fine"},
                           partial=False)
    assert set(errors) == {"customFields.score", "customFields.plan", "customFields.nope",
                           "customFields.account"}
    assert "unknown" in errors["customFields.nope"]
    assert errors["customFields.account"] == "is required"
    assert "free, pro" in errors["customFields.plan"]


async def test_required_is_checked_only_when_not_partial(org):
    assert await validate_values(org, {}, partial=True) == {}
    assert await _errors(org, {}, partial=False) == {"customFields.account": "is required"}


async def test_definitions_of_another_organization_do_not_apply(org, client, server):
    other = (await register_other_org(server))["user"]["organizationId"]
    assert await _errors(other, {"note": "hi"}) == {
        "customFields.note": "unknown custom field 'note'"}
    assert await validate_values(other, {}, partial=False) == {}
