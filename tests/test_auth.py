"""Registration, login and its throttles, access tokens, refresh rotation, logout and
password changes, over HTTP against the real server."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import jwt
import pytest

from tests.helpers import (
    API,
    PASSWORD,
    add_member,
    assert_error,
    bearer,
    login,
    register,
    runtime_of,
    with_settings,
)
from wacc.audit.tables import ActivityLog
from wacc.auth import services as auth
from wacc.auth.schemas import RegisterIn
from wacc.lib.errors import ConflictError, ValidationError
from wacc.orgs.tables import Organization
from wacc.security.crypto import Keyring
from wacc.security.tokens import issue
from wacc.users.tables import User

NEW_PASSWORD = "purple monkey dishwasher"


async def _counts() -> tuple[int, int]:
    return await Organization.count(), await User.count()


def _register_body(email: str = "second@example.com", **extra: str) -> dict[str, str]:
    return {"organizationName": "Second", "name": "Sam Second", "email": email,
            "password": PASSWORD, **extra}


async def _me(client, access: str):
    return await client.get(f"{API}/auth/me", headers=bearer(access))


# -- registration ---------------------------------------------------------------------


async def test_first_register_creates_organization_and_owner(client):
    tokens = await register(client, org="Acme Ltd")
    assert tokens["tokenType"] == "Bearer"
    assert tokens["accessToken"] and tokens["refreshToken"]
    assert tokens["expiresIn"] == 15 * 60
    assert tokens["user"]["role"] == "OWNER"
    assert await _counts() == (1, 1)
    org = await Organization.select().first()
    assert org["name"] == "Acme Ltd" and org["slug"] == "acme-ltd"
    user = await User.select().first()
    assert user["organization"] == org["id"] == tokens["user"]["organizationId"]
    assert user["password_hash"].startswith("$argon2id$")
    r = await _me(client, tokens["accessToken"])
    assert r.status_code == 200 and r.json()["user"]["id"] == user["id"]


async def test_second_register_is_refused_when_signup_is_closed(client):
    await register(client)
    r = await client.post(f"{API}/auth/register", json=_register_body())
    assert_error(r, 403, "AUTHORIZATION_ERROR")
    assert await _counts() == (1, 1)
    assert not await User.exists().where(User.email == "second@example.com")


async def test_open_signup_creates_another_organization(client, server):
    first = await register(client)
    rt = with_settings(runtime_of(server), auth={"open_signup": True})
    data = RegisterIn(organization_name="Acme", name="Sam Second", email="sam@second.example",
                      password=PASSWORD)
    tokens = await auth.register(rt, data, auth.Client(ip="127.0.0.1"))
    assert await _counts() == (2, 2)
    assert tokens.user.role.value == "OWNER"
    assert tokens.user.organization_id != first["user"]["organizationId"]
    # Same name, so the slug is made unique.
    assert sorted(await Organization.select(Organization.slug).output(as_list=True)) == [
        "acme", "acme-2"]
    r = await _me(client, tokens.access_token)
    assert r.json()["organizationId"] == tokens.user.organization_id


async def test_register_with_a_taken_email_changes_nothing(client, server):
    await register(client, email="owner@example.com")
    rt = with_settings(runtime_of(server), auth={"open_signup": True})
    data = RegisterIn(organization_name="Dup", name="Dee Dup", email="Owner@Example.COM ",
                      password=PASSWORD)
    with pytest.raises(ConflictError) as info:
        await auth.register(rt, data, auth.Client(ip="127.0.0.1"))
    assert info.value.status == 409
    assert info.value.details == [{"field": "email", "message": "already registered"}]
    # The organization made before the conflict was rolled back with it.
    assert await _counts() == (1, 1)


async def test_register_with_a_weak_password_is_400_and_creates_nothing(client):
    for password in ("short", "aaaaaaaaaaaaaa", "my owner@example.com pw"):
        r = await client.post(f"{API}/auth/register", json={
            "organizationName": "Acme", "name": "Olivia", "email": "owner@example.com",
            "password": password,
        })
        error = assert_error(r, 400, "VALIDATION_ERROR")
        assert [d["field"] for d in error["details"]] == ["password"], error
    assert await _counts() == (0, 0)


async def test_register_with_bad_fields_is_400(client):
    for body in (
        _register_body(email="not-an-email"),
        _register_body(isAdmin="yes"),
        {"name": "x", "email": "a@b.co", "password": PASSWORD},
    ):
        r = await client.post(f"{API}/auth/register", json=body)
        assert_error(r, 400, "VALIDATION_ERROR")
    assert await _counts() == (0, 0)


async def test_register_with_open_signup_and_weak_password_raises_field_error(client, server):
    rt = with_settings(runtime_of(server), auth={"open_signup": True})
    data = RegisterIn(organization_name="Acme", name="Olivia", email="o@example.com",
                      password="abcabcabc")
    with pytest.raises(ValidationError) as info:
        await auth.register(rt, data, auth.Client(ip="127.0.0.1"))
    assert info.value.details[0]["field"] == "password"
    assert await _counts() == (0, 0)


# -- login ----------------------------------------------------------------------------


async def test_login_returns_tokens(client):
    await register(client)
    out = await login(client, " OWNER@example.com")
    assert out["mfaRequired"] is False and out["mfaToken"] is None
    assert out["tokenType"] == "Bearer" and out["user"]["email"] == "owner@example.com"
    assert (await _me(client, out["accessToken"])).status_code == 200
    assert await User.select(User.last_login_at).first() is not None


async def test_wrong_password_and_unknown_email_get_the_same_401(client):
    await register(client)
    wrong = await client.post(f"{API}/auth/login",
                              json={"email": "owner@example.com", "password": "nope nope nope"})
    unknown = await client.post(f"{API}/auth/login",
                                json={"email": "ghost@example.com", "password": PASSWORD})
    e1 = assert_error(wrong, 401, "AUTHENTICATION_ERROR")
    e2 = assert_error(unknown, 401, "AUTHENTICATION_ERROR")
    assert e1["message"] == e2["message"] == "Invalid e-mail or password"
    assert "accessToken" not in wrong.text


async def test_deactivated_user_cannot_log_in(client):
    owner = await register(client)
    org_id = owner["user"]["organizationId"]
    agent = await add_member(client, owner["accessToken"], org_id, "AGENT")
    r = await client.patch(f"{API}/organizations/{org_id}/users/{agent['user']['id']}",
                           headers=bearer(owner["accessToken"]), json={"isActive": False})
    assert r.status_code == 200, r.text
    r = await client.post(f"{API}/auth/login",
                          json={"email": "agent@example.com", "password": PASSWORD})
    assert_error(r, 401, "AUTHENTICATION_ERROR")


async def test_failed_login_for_a_known_account_is_audited(client):
    owner = await register(client)
    r = await client.post(
        f"{API}/auth/login", json={"email": "owner@example.com", "password": "wrong password!"},
        headers={"User-Agent": "pytest-auth/1.0", "X-Request-ID": "req-login-failed-1"},
    )
    assert_error(r, 401, "AUTHENTICATION_ERROR")
    rows = await ActivityLog.select().where(ActivityLog.action == "auth.login_failed")
    assert len(rows) == 1
    row = rows[0]
    assert row["organization"] == owner["user"]["organizationId"]
    assert row["user"] == row["resource_id"] == owner["user"]["id"]
    assert row["ip_address"] == "127.0.0.1"
    assert row["user_agent"] == "pytest-auth/1.0"
    assert row["request_id"] == "req-login-failed-1" == r.headers["x-request-id"]
    assert row["status_code"] == 401
    # An unknown e-mail has no organization to log it in; nothing is written.
    await client.post(f"{API}/auth/login", json={"email": "x@nowhere.example", "password": "x"})
    assert await ActivityLog.count().where(ActivityLog.action == "auth.login_failed") == 1


async def test_account_throttle_refuses_even_the_right_password(client):
    await register(client)
    for _ in range(5):
        r = await client.post(f"{API}/auth/login",
                              json={"email": "owner@example.com", "password": "wrong password!"})
        assert_error(r, 401, "AUTHENTICATION_ERROR")
    r = await client.post(f"{API}/auth/login",
                          json={"email": "Owner@Example.com", "password": PASSWORD})
    assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
    retry = r.headers["retry-after"]
    assert retry.isdigit() and int(retry) > 0
    assert "accessToken" not in r.text
    # Another account from the same address is not locked out by this one.
    r = await client.post(f"{API}/auth/login",
                          json={"email": "ghost@example.com", "password": "whatever!"})
    assert_error(r, 401, "AUTHENTICATION_ERROR")


async def test_successful_login_resets_the_account_counter(client):
    await register(client)
    for _ in range(4):
        r = await client.post(f"{API}/auth/login",
                              json={"email": "owner@example.com", "password": "wrong password!"})
        assert r.status_code == 401
    await login(client, "owner@example.com")
    for _ in range(4):
        r = await client.post(f"{API}/auth/login",
                              json={"email": "owner@example.com", "password": "wrong password!"})
        assert r.status_code == 401
    await login(client, "owner@example.com")


async def test_ip_throttle_spans_accounts(client):
    await register(client)
    failures = [
        client.post(f"{API}/auth/login", json={"email": f"u{i}@example.com", "password": "x"})
        for i in range(20)
    ]
    for r in await asyncio.gather(*failures):
        assert_error(r, 401, "AUTHENTICATION_ERROR")
    r = await client.post(f"{API}/auth/login",
                          json={"email": "owner@example.com", "password": PASSWORD})
    assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
    assert int(r.headers["retry-after"]) > 0


# -- access tokens --------------------------------------------------------------------


async def test_me_with_an_access_token(client):
    owner = await register(client)
    r = await _me(client, owner["accessToken"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["organizationId"] == owner["user"]["organizationId"]
    assert body["apiKeyId"] is None
    assert "delete:organization" in body["permissions"]


async def test_missing_credentials_are_401(client):
    assert_error(await client.get(f"{API}/auth/me"), 401, "AUTHENTICATION_ERROR")


async def test_bad_access_tokens_are_401(client, server):
    owner = await register(client)
    keyring = runtime_of(server).keyring
    good = owner["accessToken"]
    claims = jwt.decode(good, options={"verify_signature": False})
    user_claims = {k: claims[k] for k in ("sub", "org", "fam")}
    header, payload, signature = good.split(".")
    tampered = "AAAA" if signature[-4:] != "AAAA" else "BBBB"
    forged_signature = f"{header}.{payload}.{signature[:-4]}{tampered}"
    other_key = jwt.encode(
        {**claims}, b"x" * 32, algorithm="HS256", headers={"kid": keyring.current_id}
    )
    alg_none = jwt.encode({**claims}, None, algorithm="none",
                          headers={"kid": keyring.current_id})
    expired = issue(keyring, user_claims, timedelta(seconds=-30), "access")
    mfa_kind = issue(keyring, {"sub": claims["sub"]}, timedelta(minutes=5), "mfa")
    unknown_kid = issue(Keyring((b"z" * 32,)), user_claims, timedelta(minutes=5), "access")
    other_org = issue(keyring, {**user_claims, "org": "not-this-org"}, timedelta(minutes=5),
                      "access")
    cases = {
        "forged signature": bearer(forged_signature),
        "signed with another key": bearer(other_key),
        "alg none": bearer(alg_none),
        "expired": bearer(expired),
        "wrong kind": bearer(mfa_kind),
        "unknown key id": bearer(unknown_kid),
        "wrong organization": bearer(other_org),
        "garbage": bearer("garbage.garbage"),
        "not a jwt": bearer("hello"),
        "basic": {"Authorization": "Basic b3duZXI6cGFzcw=="},
        "scheme only": {"Authorization": "Bearer"},
    }
    for name, headers in cases.items():
        r = await client.get(f"{API}/auth/me", headers=headers)
        assert r.status_code == 401, (name, r.text)
        assert_error(r, 401, "AUTHENTICATION_ERROR")
    # The genuine token still works, and a fresh token forged with the real key works
    # too (the forging helper itself is sound).
    assert (await _me(client, good)).status_code == 200
    fresh = issue(keyring, user_claims, timedelta(minutes=5), "access")
    assert (await _me(client, fresh)).status_code == 200


async def test_bad_token_on_a_public_route_is_401(client):
    """Wrong credentials are refused even where none are needed, rather than ignored."""
    await register(client)
    r = await client.post(f"{API}/auth/login", headers=bearer("garbage"),
                          json={"email": "owner@example.com", "password": PASSWORD})
    assert_error(r, 401, "AUTHENTICATION_ERROR")


# -- refresh rotation -----------------------------------------------------------------


async def _refresh(client, refresh_token: str):
    return await client.post(f"{API}/auth/refresh", json={"refreshToken": refresh_token})


async def test_refresh_rotates_tokens(client):
    first = await register(client)
    r = await _refresh(client, first["refreshToken"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refreshToken"] != first["refreshToken"]
    assert second["user"]["id"] == first["user"]["id"]
    assert (await _me(client, second["accessToken"])).status_code == 200
    r = await _refresh(client, second["refreshToken"])
    assert r.status_code == 200, r.text


async def test_reused_refresh_token_revokes_the_whole_family(client):
    first = await register(client)
    other_login = await login(client, "owner@example.com")
    second = (await _refresh(client, first["refreshToken"])).json()
    third = (await _refresh(client, second["refreshToken"])).json()

    r = await _refresh(client, first["refreshToken"])  # replayed: stolen, or a bug
    assert_error(r, 401, "AUTHENTICATION_ERROR")
    assert_error(await _refresh(client, third["refreshToken"]), 401, "AUTHENTICATION_ERROR")
    for access in (first["accessToken"], second["accessToken"], third["accessToken"]):
        assert_error(await _me(client, access), 401, "AUTHENTICATION_ERROR")
    assert await ActivityLog.count().where(ActivityLog.action == "auth.refresh_reuse") == 1

    # The other sign-in is another family and keeps working.
    assert (await _me(client, other_login["accessToken"])).status_code == 200
    r = await _refresh(client, other_login["refreshToken"])
    assert r.status_code == 200, r.text


async def test_concurrent_use_of_one_refresh_token_lets_at_most_one_through(client):
    first = await register(client)
    responses = await asyncio.gather(*[_refresh(client, first["refreshToken"]) for _ in range(2)])
    ok = [r for r in responses if r.status_code == 200]
    assert len(ok) <= 1, [r.text for r in responses]
    for r in responses:
        if r.status_code != 200:
            assert_error(r, 401, "AUTHENTICATION_ERROR")
    # Two presentations of one token are a reuse: whatever the winner got is dead too,
    # even if its new token was written after the family was revoked.
    for r in ok:
        assert_error(await _refresh(client, r.json()["refreshToken"]), 401,
                     "AUTHENTICATION_ERROR")
        assert_error(await _me(client, r.json()["accessToken"]), 401, "AUTHENTICATION_ERROR")


async def test_unknown_and_expired_refresh_tokens_are_401(client):
    first = await register(client)
    assert_error(await _refresh(client, "not-a-token"), 401, "AUTHENTICATION_ERROR")
    from wacc.auth.tables import RefreshToken
    from wacc.lib.clock import utcnow

    await RefreshToken.update({RefreshToken.expires_at: utcnow() - timedelta(seconds=1)}).where(
        RefreshToken.user == first["user"]["id"]
    )
    assert_error(await _refresh(client, first["refreshToken"]), 401, "AUTHENTICATION_ERROR")


# -- logout and password change -------------------------------------------------------


async def test_logout_ends_the_sign_in(client):
    first = await register(client)
    other = await login(client, "owner@example.com")
    r = await client.post(f"{API}/auth/logout", headers=bearer(first["accessToken"]),
                          json={"refreshToken": first["refreshToken"]})
    assert r.status_code == 204, r.text
    assert_error(await _me(client, first["accessToken"]), 401, "AUTHENTICATION_ERROR")
    assert_error(await _refresh(client, first["refreshToken"]), 401, "AUTHENTICATION_ERROR")
    assert (await _me(client, other["accessToken"])).status_code == 200


async def test_logout_without_a_body_also_ends_the_refresh_token(client):
    first = await register(client)
    rotated = (await _refresh(client, first["refreshToken"])).json()
    r = await client.post(f"{API}/auth/logout", headers=bearer(rotated["accessToken"]))
    assert r.status_code == 204, r.text
    assert_error(await _me(client, rotated["accessToken"]), 401, "AUTHENTICATION_ERROR")
    assert_error(await _refresh(client, rotated["refreshToken"]), 401, "AUTHENTICATION_ERROR")


async def test_password_change_ends_other_sessions_only(client):
    current = await register(client)
    other = await login(client, "owner@example.com")
    r = await client.post(f"{API}/auth/password", headers=bearer(current["accessToken"]),
                          json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
    assert r.status_code == 204, r.text
    assert (await _me(client, current["accessToken"])).status_code == 200
    assert (await _refresh(client, current["refreshToken"])).status_code == 200
    assert_error(await _me(client, other["accessToken"]), 401, "AUTHENTICATION_ERROR")
    assert_error(await _refresh(client, other["refreshToken"]), 401, "AUTHENTICATION_ERROR")
    r = await client.post(f"{API}/auth/login",
                          json={"email": "owner@example.com", "password": PASSWORD})
    assert_error(r, 401, "AUTHENTICATION_ERROR")
    await login(client, "owner@example.com", NEW_PASSWORD)


async def test_password_change_refuses_bad_input_and_changes_nothing(client):
    current = await register(client)
    before = await User.select(User.password_hash).first()
    r = await client.post(f"{API}/auth/password", headers=bearer(current["accessToken"]),
                          json={"currentPassword": "not my password", "newPassword": NEW_PASSWORD})
    error = assert_error(r, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["currentPassword"]
    r = await client.post(f"{API}/auth/password", headers=bearer(current["accessToken"]),
                          json={"currentPassword": PASSWORD, "newPassword": "short"})
    error = assert_error(r, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["newPassword"]
    assert await User.select(User.password_hash).first() == before
    await login(client, "owner@example.com")


async def test_concurrent_first_registrations_make_one_organization(client):
    bodies = [_register_body(email=f"first{i}@example.com") for i in range(3)]
    responses = await asyncio.gather(
        *[client.post(f"{API}/auth/register", json=b) for b in bodies])
    assert sorted(r.status_code for r in responses) == [201, 403, 403], [
        r.text for r in responses]
    assert await _counts() == (1, 1)
