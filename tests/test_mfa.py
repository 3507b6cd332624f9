"""Two-factor authentication: enrolment, the two-step login, replay and throttling,
recovery codes, and turning it off."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp

from tests.helpers import API, PASSWORD, assert_error, bearer, register, runtime_of
from wacc.audit.tables import ActivityLog
from wacc.users.tables import User

STEP = 30


async def _quiet_step(margin: float = 6.0) -> float:
    """Now, at least *margin* seconds before the next 30-second TOTP step, so codes for
    the previous, current and next step all stay acceptable while a test runs."""
    left = STEP - time.time() % STEP
    if left < margin:
        await asyncio.sleep(left + 0.1)
    return time.time()


async def _enrol(client, access: str, t0: float) -> tuple[pyotp.TOTP, list[str]]:
    """Turn on two-factor with the previous step's code (the server allows one step of
    drift), leaving the current and next steps' codes unused for the test."""
    r = await client.post(f"{API}/auth/mfa/setup", headers=bearer(access))
    assert r.status_code == 200, r.text
    totp = pyotp.TOTP(r.json()["secret"])
    r = await client.post(f"{API}/auth/mfa/enable", headers=bearer(access),
                          json={"code": totp.at(t0 - STEP)})
    assert r.status_code == 200, r.text
    return totp, r.json()["recoveryCodes"]


async def _challenge(client, email: str = "owner@example.com") -> str:
    r = await client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mfaRequired"] is True
    assert body["accessToken"] is None and body["refreshToken"] is None and body["user"] is None
    return body["mfaToken"]


async def _answer(client, mfa_token: str, code: str):
    return await client.post(f"{API}/auth/login/mfa", json={"mfaToken": mfa_token, "code": code})


async def test_setup_returns_secret_url_and_svg_qr_code_and_stores_the_secret_encrypted(
    client, server
):
    owner = await register(client)
    r = await client.post(f"{API}/auth/mfa/setup", headers=bearer(owner["accessToken"]))
    assert r.status_code == 200, r.text
    body = r.json()
    secret = body["secret"]
    url = urlsplit(body["otpauthUrl"])
    assert (url.scheme, url.netloc) == ("otpauth", "totp")
    assert "owner%40example.com" in url.path or "owner@example.com" in unquote(url.path)
    query = parse_qs(url.query)
    assert query["secret"] == [secret] and query["issuer"] == ["wacc"]
    header, _, payload = body["qrDataUri"].partition(",")
    assert header.startswith("data:image/svg+xml")
    svg = unquote(payload)
    assert "<svg" in svg and svg.rstrip().endswith("</svg>")

    row = await User.select(User.totp_secret, User.totp_enabled).first()
    assert row["totp_enabled"] is False
    assert row["totp_secret"].startswith("v1.") and secret not in row["totp_secret"]
    assert runtime_of(server).keyring.decrypt(row["totp_secret"], "app_user.totp_secret") == secret
    # Not on until confirmed: a login still gets tokens straight away.
    r = await client.post(f"{API}/auth/login",
                          json={"email": "owner@example.com", "password": PASSWORD})
    assert r.json()["mfaRequired"] is False


async def test_enable_with_a_wrong_code_is_400_and_leaves_it_off(client):
    owner = await register(client)
    r = await client.post(f"{API}/auth/mfa/setup", headers=bearer(owner["accessToken"]))
    totp = pyotp.TOTP(r.json()["secret"])
    wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
    r = await client.post(f"{API}/auth/mfa/enable", headers=bearer(owner["accessToken"]),
                          json={"code": wrong})
    error = assert_error(r, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "code"
    assert (await User.select(User.totp_enabled).first())["totp_enabled"] is False
    r = await client.post(f"{API}/auth/mfa/enable", headers=bearer(owner["accessToken"]),
                          json={"code": "12"})
    assert_error(r, 400, "VALIDATION_ERROR")


async def test_enable_before_setup_is_409(client):
    owner = await register(client)
    r = await client.post(f"{API}/auth/mfa/enable", headers=bearer(owner["accessToken"]),
                          json={"code": "123456"})
    assert_error(r, 409, "CONFLICT")


async def test_two_step_login_and_no_replay(client):
    owner = await register(client)
    t0 = await _quiet_step()
    totp, codes = await _enrol(client, owner["accessToken"], t0)
    assert len(codes) == 10 and len(set(codes)) == 10
    # Stored with a fast hash, so they must be too long to enumerate: 80 bits or more.
    assert all(len(c.replace("-", "")) >= 20 and int(c.replace("-", ""), 16) >= 0
               for c in codes)
    me = await client.get(f"{API}/auth/me", headers=bearer(owner["accessToken"]))
    assert me.json()["user"]["twoFactorEnabled"] is True
    r = await client.post(f"{API}/auth/mfa/setup", headers=bearer(owner["accessToken"]))
    assert_error(r, 409, "CONFLICT")

    challenge = await _challenge(client)
    # The first step is audited as this user's, though no tokens were issued yet.
    for _ in range(100):  # the row is written just after the response is sent
        row = await ActivityLog.select().where(ActivityLog.action == "auth.login").first()
        if row is not None:
            break
        await asyncio.sleep(0.02)
    assert row is not None and row["user"] == owner["user"]["id"]
    # The challenge is not an access token.
    assert_error(await client.get(f"{API}/auth/me", headers=bearer(challenge)), 401,
                 "AUTHENTICATION_ERROR")
    # The code that enabled two-factor is used up already.
    assert_error(await _answer(client, challenge, totp.at(t0 - STEP)), 401,
                 "AUTHENTICATION_ERROR")
    r = await _answer(client, challenge, totp.at(t0))
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert (await client.get(f"{API}/auth/me", headers=bearer(tokens["accessToken"]))
            ).status_code == 200
    # Replay of the same code, even with a fresh challenge, is refused.
    challenge = await _challenge(client)
    assert_error(await _answer(client, challenge, totp.at(t0)), 401, "AUTHENTICATION_ERROR")
    r = await _answer(client, challenge, totp.at(t0 + STEP))
    assert r.status_code == 200, r.text


async def test_access_token_is_not_an_mfa_challenge(client):
    owner = await register(client)
    t0 = await _quiet_step()
    totp, _ = await _enrol(client, owner["accessToken"], t0)
    r = await _answer(client, owner["accessToken"], totp.at(t0))
    assert_error(r, 401, "AUTHENTICATION_ERROR")
    r = await _answer(client, "garbage", totp.at(t0))
    assert_error(r, 401, "AUTHENTICATION_ERROR")


async def test_wrong_codes_count_toward_the_login_throttle(client):
    owner = await register(client)
    t0 = await _quiet_step()
    totp, _ = await _enrol(client, owner["accessToken"], t0)
    right = totp.at(t0)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    challenge = await _challenge(client)
    for _ in range(3):
        assert_error(await _answer(client, challenge, wrong), 401, "AUTHENTICATION_ERROR")
    # Signing in again with the password must not reset the count of wrong codes,
    # or the password alone would buy unlimited guesses at the second factor.
    challenge = await _challenge(client)
    for _ in range(2):
        assert_error(await _answer(client, challenge, wrong), 401, "AUTHENTICATION_ERROR")
    r = await _answer(client, challenge, right)
    assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
    assert int(r.headers["retry-after"]) > 0
    r = await client.post(f"{API}/auth/login",
                          json={"email": "owner@example.com", "password": PASSWORD})
    assert_error(r, 429, "RATE_LIMIT_EXCEEDED")


async def test_recovery_code_works_once(client):
    owner = await register(client)
    t0 = await _quiet_step()
    _, codes = await _enrol(client, owner["accessToken"], t0)
    challenge = await _challenge(client)
    r = await _answer(client, challenge, codes[0].upper())
    assert r.status_code == 200, r.text
    assert_error(await _answer(client, challenge, codes[0]), 401, "AUTHENTICATION_ERROR")
    r = await _answer(client, challenge, codes[1])
    assert r.status_code == 200, r.text
    # Two sign-ins racing with one code: at most one gets in.
    raced = await asyncio.gather(*[_answer(client, challenge, codes[2]) for _ in range(2)])
    assert sorted(r.status_code for r in raced) in ([200, 401], [401, 401]), [
        r.text for r in raced]
    row = await User.select(User.recovery_codes).first()
    assert codes[0] not in str(row["recovery_codes"])  # stored hashed


async def test_new_recovery_codes_replace_the_old_ones(client):
    owner = await register(client)
    t0 = await _quiet_step()
    totp, old = await _enrol(client, owner["accessToken"], t0)
    r = await client.post(f"{API}/auth/mfa/recovery-codes",
                          headers=bearer(owner["accessToken"]), json={"code": totp.at(t0)})
    assert r.status_code == 200, r.text
    new = r.json()["recoveryCodes"]
    assert len(new) == 10 and not set(new) & set(old)
    challenge = await _challenge(client)
    assert_error(await _answer(client, challenge, old[0]), 401, "AUTHENTICATION_ERROR")
    assert (await _answer(client, challenge, new[0])).status_code == 200


async def test_disable_needs_password_and_code(client):
    owner = await register(client)
    access = owner["accessToken"]
    t0 = await _quiet_step()
    totp, codes = await _enrol(client, access, t0)
    url = f"{API}/auth/mfa/disable"
    r = await client.post(url, headers=bearer(access),
                          json={"password": "not my password", "code": totp.at(t0)})
    assert [d["field"] for d in assert_error(r, 400, "VALIDATION_ERROR")["details"]] == [
        "password"]
    r = await client.post(url, headers=bearer(access), json={"password": PASSWORD,
                                                             "code": "000000"
                                                             if totp.at(t0) != "000000"
                                                             else "111111"})
    assert [d["field"] for d in assert_error(r, 400, "VALIDATION_ERROR")["details"]] == ["code"]
    r = await client.post(url, headers=bearer(access), json={"password": PASSWORD})
    assert_error(r, 400, "VALIDATION_ERROR")
    assert (await User.select(User.totp_enabled).first())["totp_enabled"] is True

    r = await client.post(url, headers=bearer(access),
                          json={"password": PASSWORD, "code": totp.at(t0)})
    assert r.status_code == 204, r.text
    row = await User.select(User.totp_enabled, User.totp_secret, User.recovery_codes).first()
    assert row["totp_enabled"] is False and row["totp_secret"] is None
    r = await client.post(f"{API}/auth/login",
                          json={"email": "owner@example.com", "password": PASSWORD})
    assert r.json()["mfaRequired"] is False and r.json()["accessToken"]
    r = await client.post(url, headers=bearer(access),
                          json={"password": PASSWORD, "code": codes[0]})
    assert_error(r, 409, "CONFLICT")
