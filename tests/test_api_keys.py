"""API keys: the secret is shown once, both headers work, scopes are enforced and
bounded by the creator's permissions, expiry and revocation, and tenancy."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import (
    API,
    add_member,
    assert_error,
    bearer,
    register,
    register_other_org,
)
from wacc.apikeys.tables import ApiKey
from wacc.lib.clock import iso, utcnow
from wacc.security.tokens import hash_secret

KEYS = f"{API}/api-keys"


async def _create(client, token: str, scopes: list[str], **extra):
    return await client.post(KEYS, headers=bearer(token),
                             json={"name": "CI bot", "scopes": scopes, **extra})


async def _owner_and_key(client, scopes: list[str]) -> tuple[dict, dict]:
    owner = await register(client)
    r = await _create(client, owner["accessToken"], scopes)
    assert r.status_code == 201, r.text
    return owner, r.json()


async def test_secret_is_shown_once_and_stored_hashed(client):
    owner, created = await _owner_and_key(client, ["read:users", "read:users", "read:audit"])
    key = created["key"]
    assert key.startswith(f"wacc_{created['prefix']}_") and len(key) > 40
    assert created["scopes"] == ["read:audit", "read:users"]
    assert created["createdBy"] == owner["user"]["id"]
    assert created["lastUsedAt"] is None and created["revokedAt"] is None

    listed = (await client.get(KEYS, headers=bearer(owner["accessToken"]))).json()
    one = (await client.get(f"{KEYS}/{created['id']}", headers=bearer(owner["accessToken"])))
    assert one.status_code == 200, one.text
    for body in (listed[0], one.json()):
        assert "key" not in body and key not in str(body)
        assert body["id"] == created["id"] and body["prefix"] == created["prefix"]
    row = await ApiKey.select().first()
    assert row["key_hash"] == hash_secret(key) and key not in str(row)


async def test_key_works_as_bearer_and_as_x_api_key(client):
    owner, created = await _owner_and_key(client, ["read:users"])
    org_id = owner["user"]["organizationId"]
    for headers in (bearer(created["key"]), {"X-API-Key": created["key"]}):
        r = await client.get(f"{API}/organizations/{org_id}/users", headers=headers)
        assert r.status_code == 200, r.text
        assert [u["email"] for u in r.json()] == ["owner@example.com"]
    r = await client.get(f"{API}/auth/me", headers={"X-API-Key": created["key"]})
    assert r.json() == {"organizationId": org_id, "user": None, "apiKeyId": created["id"],
                        "permissions": ["read:users"]}


async def test_scopes_are_enforced(client):
    owner, created = await _owner_and_key(client, ["read:users"])
    org_id = owner["user"]["organizationId"]
    headers = {"X-API-Key": created["key"]}
    r = await client.post(f"{API}/organizations/{org_id}/users", headers=headers,
                          json={"email": "bot-invite@example.com", "role": "AGENT"})
    assert_error(r, 403, "AUTHORIZATION_ERROR")
    for method, url in (("GET", KEYS), ("GET", f"{API}/audit-logs"),
                        ("PATCH", f"{API}/organizations/{org_id}")):
        r = await client.request(method, url, headers=headers,
                                 json={} if method == "PATCH" else None)
        assert_error(r, 403, "AUTHORIZATION_ERROR")
    # Things only a signed-in person can do.
    r = await client.post(f"{API}/auth/mfa/setup", headers=headers)
    assert r.status_code == 403, r.text
    from wacc.users.tables import Invite

    assert await Invite.count() == 0


async def test_a_key_acts_below_owner(client):
    owner, created = await _owner_and_key(client, ["write:users", "read:users"])
    org_id = owner["user"]["organizationId"]
    headers = {"X-API-Key": created["key"]}
    r = await client.post(f"{API}/organizations/{org_id}/users", headers=headers,
                          json={"email": "boss@example.com", "role": "OWNER"})
    assert_error(r, 403, "AUTHORIZATION_ERROR")
    r = await client.patch(f"{API}/organizations/{org_id}/users/{owner['user']['id']}",
                           headers=headers, json={"role": "VIEWER"})
    assert_error(r, 403, "AUTHORIZATION_ERROR")
    r = await client.post(f"{API}/organizations/{org_id}/users", headers=headers,
                          json={"email": "agent@example.com", "role": "AGENT"})
    assert r.status_code == 201, r.text


async def test_bad_scopes_are_400_and_create_nothing(client):
    owner = await register(client)
    org_id = owner["user"]["organizationId"]
    admin = await add_member(client, owner["accessToken"], org_id, "ADMIN")
    r = await _create(client, owner["accessToken"], ["read:users", "root:everything"])
    error = assert_error(r, 400, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "scopes[1]", "message": "unknown scope root:everything"}]
    r = await _create(client, admin["accessToken"], ["delete:organization"])
    error = assert_error(r, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "scopes[0]"
    for body in ({"name": "x", "scopes": []}, {"name": "x"}, {"scopes": ["read:users"]},
                 {"name": "x", "scopes": ["read:users"], "isAdmin": True},
                 {"name": "x", "scopes": "read:users"}):
        r = await client.post(KEYS, headers=bearer(owner["accessToken"]), json=body)
        assert_error(r, 400, "VALIDATION_ERROR")
    # The OWNER does hold it.
    assert (await _create(client, owner["accessToken"], ["delete:organization"])
            ).status_code == 201
    assert await ApiKey.count() == 1


async def test_a_key_cannot_mint_a_wider_key(client):
    _, created = await _owner_and_key(client, ["write:api-keys"])
    r = await client.post(KEYS, headers={"X-API-Key": created["key"]},
                          json={"name": "wider", "scopes": ["write:users"]})
    assert_error(r, 400, "VALIDATION_ERROR")
    r = await client.post(KEYS, headers={"X-API-Key": created["key"]},
                          json={"name": "same", "scopes": ["write:api-keys"]})
    assert r.status_code == 201 and r.json()["createdBy"] is None


async def test_expiry(client):
    owner = await register(client)
    token = owner["accessToken"]
    org_id = owner["user"]["organizationId"]
    past = iso(utcnow() - timedelta(minutes=1))
    r = await _create(client, token, ["read:users"], expiresAt=past)
    assert_error(r, 400, "VALIDATION_ERROR")
    r = await _create(client, token, ["read:users"], expiresAt="2099-01-01T00:00:00")
    assert_error(r, 400, "VALIDATION_ERROR")  # no timezone: ambiguous
    assert await ApiKey.count() == 0

    future = iso(utcnow() + timedelta(days=1))
    created = (await _create(client, token, ["read:users"], expiresAt=future)).json()
    url = f"{API}/organizations/{org_id}/users"
    assert (await client.get(url, headers={"X-API-Key": created["key"]})).status_code == 200
    await ApiKey.update({ApiKey.expires_at: utcnow() - timedelta(seconds=1)}).where(
        ApiKey.id == created["id"])
    assert_error(await client.get(url, headers={"X-API-Key": created["key"]}), 401,
                 "AUTHENTICATION_ERROR")


async def test_revoked_key_is_refused_on_its_next_request(client):
    owner, created = await _owner_and_key(client, ["read:users"])
    url = f"{API}/organizations/{owner['user']['organizationId']}/users"
    assert (await client.get(url, headers=bearer(created["key"]))).status_code == 200
    r = await client.delete(f"{KEYS}/{created['id']}", headers=bearer(owner["accessToken"]))
    assert r.status_code == 204, r.text
    assert_error(await client.get(url, headers=bearer(created["key"])), 401,
                 "AUTHENTICATION_ERROR")
    got = (await client.get(f"{KEYS}/{created['id']}", headers=bearer(owner["accessToken"])))
    assert got.json()["revokedAt"] is not None


async def test_wrong_or_malformed_keys_are_401(client):
    owner, created = await _owner_and_key(client, ["read:users"])
    url = f"{API}/organizations/{owner['user']['organizationId']}/users"
    prefix = created["prefix"]
    for key in (f"wacc_{prefix}_{'A' * 43}", f"wacc_{prefix}", "wacc_", "wacc__x",
                f"wacc_ffffffff_{created['key'].rsplit('_', 1)[1]}", "nonsense"):
        r = await client.get(url, headers={"X-API-Key": key})
        assert_error(r, 401, "AUTHENTICATION_ERROR")
    assert (await client.get(url, headers={"X-API-Key": created["key"]})).status_code == 200


async def test_last_used_at_is_recorded(client):
    owner, created = await _owner_and_key(client, ["read:users"])
    before = utcnow()
    r = await client.get(f"{API}/organizations/{owner['user']['organizationId']}/users",
                         headers={"X-API-Key": created["key"]})
    assert r.status_code == 200
    row = await ApiKey.select(ApiKey.last_used_at).first()
    assert row["last_used_at"] is not None and row["last_used_at"] >= before - timedelta(seconds=1)
    got = await client.get(f"{KEYS}/{created['id']}", headers=bearer(owner["accessToken"]))
    assert got.json()["lastUsedAt"] is not None


async def test_another_organizations_key_is_404(client, server):
    owner = await register(client)
    other = await register_other_org(server)
    r = await _create(client, other["accessToken"], ["read:users"])
    theirs = r.json()
    for method in ("GET", "DELETE"):
        r = await client.request(method, f"{KEYS}/{theirs['id']}",
                                 headers=bearer(owner["accessToken"]))
        assert_error(r, 404, "NOT_FOUND")
    assert (await client.get(KEYS, headers=bearer(owner["accessToken"]))).json() == []
    row = await ApiKey.select(ApiKey.revoked_at).where(ApiKey.id == theirs["id"]).first()
    assert row["revoked_at"] is None
    # And their key reads their organization, never ours.
    r = await client.get(f"{API}/organizations/{owner['user']['organizationId']}/users",
                         headers={"X-API-Key": theirs["key"]})
    assert_error(r, 404, "NOT_FOUND")


async def test_only_admins_manage_keys(client):
    owner = await register(client)
    manager = await add_member(client, owner["accessToken"], owner["user"]["organizationId"],
                               "MANAGER")
    assert_error(await client.get(KEYS, headers=bearer(manager["accessToken"])), 403,
                 "AUTHORIZATION_ERROR")
    assert_error(await _create(client, manager["accessToken"], ["read:users"]), 403,
                 "AUTHORIZATION_ERROR")
    assert await ApiKey.count() == 0
