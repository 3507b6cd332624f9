"""Self-service password reset over HTTP against the real server, with the reset mail
caught by a real SMTP server (aiosmtpd) on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.helpers import API, PASSWORD, add_member, assert_error, bearer, register, runtime_of
from wacc.audit.tables import ActivityLog
from wacc.auth.reset import LINK_GONE, LINK_INVALID, fingerprint
from wacc.logs import configure_logging
from wacc.mail import Mailer
from wacc.security.crypto import Keyring
from wacc.security.tokens import issue
from wacc.users.tables import User

NEW_PASSWORD = "purple monkey dishwasher"
OWNER = "owner@example.com"
FORGOT = f"{API}/auth/password/forgot"
RESET = f"{API}/auth/password/reset"
LINK_PREFIX = "http://wacc.test/reset/"


class Mailbox:
    """What a real SMTP server received. ``gate`` holds each delivery until it is set,
    to show that the HTTP answer does not wait for the e-mail."""

    def __init__(self, rt: Any, port: int) -> None:
        self.received: list[Any] = []
        self.gate = threading.Event()
        self.gate.set()
        self.rt, self.original = rt, rt.mailer
        self.mailer = Mailer(dataclasses.replace(
            rt.settings.smtp, host="127.0.0.1", port=port, security="none",
            sender="wacc@acme.example", username="",
        ))

    @contextlib.contextmanager
    def off(self) -> Iterator[None]:
        """The server without e-mail for a moment (invites then return their link)."""
        self.rt.mailer = self.original
        try:
            yield
        finally:
            self.rt.mailer = self.mailer

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it so
        # aiosmtpd runs its own loop in its own thread; blocking it blocks no test.
        self.gate.wait(20)
        self.received.append(message_from_bytes(envelope.content))
        return "250 OK"

    async def wait_for(self, count: int = 1, timeout: float = 10) -> list[Any]:
        for _ in range(int(timeout / 0.05)):
            if len(self.received) >= count:
                break
            await asyncio.sleep(0.05)
        assert len(self.received) == count, self.received
        return self.received


@pytest.fixture
async def mailbox(client, server) -> AsyncIterator[Mailbox]:
    """The running server sends its mail to a real SMTP server for this test."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    box = Mailbox(runtime_of(server), port)
    smtp = Controller(box, hostname="127.0.0.1", port=port)
    smtp.start()
    box.rt.mailer = box.mailer
    try:
        yield box
    finally:
        box.rt.mailer = box.original
        box.gate.set()
        smtp.stop()


def link_token(mail: Any) -> str:
    body = mail.get_payload(decode=True).decode()
    return body.split(LINK_PREFIX, 1)[1].split()[0]


async def _password_hash(email: str = OWNER) -> str:
    row = await User.select(User.password_hash).where(User.email == email).first()
    return row["password_hash"]


async def _forge(server, user_id: str, ttl: timedelta = timedelta(minutes=5),
                 kind: str = "reset", pwh: str | None = None,
                 keyring: Keyring | None = None) -> str:
    """A reset token made the way the server makes them (its own keyring)."""
    pwh = pwh if pwh is not None else fingerprint(await _password_hash())
    return issue(keyring or runtime_of(server).keyring, {"sub": user_id, "pwh": pwh}, ttl,
                 kind)


async def _login(client, password: str, email: str = OWNER):
    return await client.post(f"{API}/auth/login", json={"email": email, "password": password})


async def _reset(client, token: str, password: str = NEW_PASSWORD):
    return await client.post(RESET, json={"token": token, "newPassword": password})


def _comparable(r) -> tuple[int, Any, dict[str, str]]:
    headers = {k: v for k, v in r.headers.items()
               if k not in ("x-request-id", "date", "x-ratelimit-remaining")}
    return r.status_code, r.json(), headers


# -- asking for a link ---------------------------------------------------------------


async def test_known_and_unknown_addresses_get_the_same_answer(client, mailbox):
    owner = await register(client)
    unknown = await client.post(FORGOT, json={"email": "nobody@example.com"})
    known = await client.post(FORGOT, json={"email": OWNER})
    assert unknown.status_code == 202, unknown.text
    assert _comparable(known) == _comparable(unknown)
    assert "link" in known.json()["message"]
    [mail] = await mailbox.wait_for(1)
    assert mail["To"] == OWNER and mail["From"] == "wacc@acme.example"
    assert "password" in mail["Subject"].lower()
    token = link_token(mail)
    r = await client.get(f"{RESET}/{token}")
    assert r.status_code == 200, r.text
    assert r.json()["email"] == "o***@example.com"
    expires = datetime.fromisoformat(r.json()["expiresAt"].replace("Z", "+00:00"))
    assert timedelta(minutes=58) < expires - datetime.now(UTC) <= timedelta(hours=1)
    # The request is in the account's audit log, without claiming the user made it.
    [row] = await ActivityLog.select().where(
        ActivityLog.action == "auth.password_reset_requested")
    assert row["resource_id"] == owner["user"]["id"] and row["user"] is None
    assert await ActivityLog.count() == 1 + await ActivityLog.count().where(
        ActivityLog.action == "auth.register")


async def test_the_answer_does_not_wait_for_the_mail(client, mailbox):
    await register(client)
    mailbox.gate.clear()  # the SMTP server takes its time
    r = await client.post(FORGOT, json={"email": "  Owner@Example.COM "})
    assert r.status_code == 202, r.text
    assert mailbox.received == []
    mailbox.gate.set()
    [mail] = await mailbox.wait_for(1)
    assert mail["To"] == OWNER


async def test_no_mail_for_a_deactivated_account(client, mailbox):
    owner = await register(client)
    org_id = owner["user"]["organizationId"]
    with mailbox.off():
        member = await add_member(client, owner["accessToken"], org_id, "AGENT")
    r = await client.patch(f"{API}/organizations/{org_id}/users/{member['user']['id']}",
                           headers=bearer(owner["accessToken"]), json={"isActive": False})
    assert r.status_code == 200, r.text
    r = await client.post(FORGOT, json={"email": "agent@example.com"})
    assert r.status_code == 202, r.text
    # Ask for the owner afterwards: once that mail is in, the agent's request is done.
    await client.post(FORGOT, json={"email": OWNER})
    [mail] = await mailbox.wait_for(1)
    assert mail["To"] == OWNER


async def test_without_smtp_the_link_is_neither_sent_nor_logged(client, server, capsys):
    owner = await register(client)
    assert not runtime_of(server).mailer.enabled
    # Point the log at this test's captured stderr: an earlier test may have configured
    # logging to a stream that is gone.
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging(runtime_of(server).settings, role="web")
    capsys.readouterr()
    logged = ""
    try:
        r = await client.post(FORGOT, json={"email": OWNER})
        assert r.status_code == 202, r.text
        for _ in range(200):
            out = capsys.readouterr()
            logged += out.out + out.err
            if "e-mail is not configured" in logged:
                break
            await asyncio.sleep(0.05)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert "password reset requested but e-mail is not configured" in logged
    assert owner["user"]["id"] in logged
    assert "/reset/" not in logged and "eyJ" not in logged


async def test_requests_are_throttled_per_address_whether_or_not_it_exists(client):
    await register(client)
    for email in (OWNER, "nobody@example.com"):
        for _ in range(5):
            r = await client.post(FORGOT, json={"email": email})
            assert r.status_code == 202, r.text
        r = await client.post(FORGOT, json={"email": email})
        assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
        assert int(r.headers["retry-after"]) > 0


async def test_requests_are_throttled_per_ip(client):
    for i in range(20):
        r = await client.post(FORGOT, json={"email": f"user{i}@example.com"})
        assert r.status_code == 202, r.text
    r = await client.post(FORGOT, json={"email": "one-more@example.com"})
    assert_error(r, 429, "RATE_LIMIT_EXCEEDED")


@pytest.mark.parametrize("body", [{}, {"email": ""}, {"email": OWNER, "extra": 1},
                                  {"email": "x" * 300}])
async def test_forgot_with_bad_input_is_400(client, body):
    r = await client.post(FORGOT, json=body)
    assert_error(r, 400, "VALIDATION_ERROR")


# -- using a link ----------------------------------------------------------------------


async def test_reset_sets_the_password_once_and_ends_every_sign_in(client, mailbox):
    first = await register(client)
    second = (await _login(client, PASSWORD)).json()
    await client.post(FORGOT, json={"email": OWNER})
    token = link_token((await mailbox.wait_for(1))[0])

    r = await _reset(client, token)
    assert r.status_code == 204, r.text
    assert (await _login(client, NEW_PASSWORD)).status_code == 200
    assert_error(await _login(client, PASSWORD), 401, "AUTHENTICATION_ERROR")
    for tokens in (first, second):
        r = await client.post(f"{API}/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
        assert_error(r, 401, "AUTHENTICATION_ERROR")
        r = await client.get(f"{API}/auth/me", headers=bearer(tokens["accessToken"]))
        assert_error(r, 401, "AUTHENTICATION_ERROR")
    [audit] = await ActivityLog.select().where(ActivityLog.action == "auth.password_reset")
    assert audit["user"] == first["user"]["id"] and audit["status_code"] == 204

    # The link is spent: the password it was issued against is gone.
    changed = await _password_hash()
    error = assert_error(await _reset(client, token, "another fine passphrase"),
                         400, "VALIDATION_ERROR")
    assert error["message"] == LINK_GONE
    assert error["details"] == [{"field": "token", "message": error["details"][0]["message"]}]
    assert await _password_hash() == changed
    error = assert_error(await client.get(f"{RESET}/{token}"), 400, "VALIDATION_ERROR")
    assert error["message"] == LINK_GONE


async def test_two_concurrent_uses_of_one_link_set_one_password(client, server):
    owner = await register(client)
    token = await _forge(server, owner["user"]["id"])
    answers = await asyncio.gather(_reset(client, token, "first fine passphrase"),
                                   _reset(client, token, "second fine passphrase"))
    assert sorted(r.status_code for r in answers) == [204, 400], [r.text for r in answers]
    won = "first fine passphrase" if answers[0].status_code == 204 else "second fine passphrase"
    assert (await _login(client, won)).status_code == 200


async def test_an_expired_link_is_refused(client, server):
    owner = await register(client)
    before = await _password_hash()
    expired = await _forge(server, owner["user"]["id"], ttl=timedelta(seconds=-30))
    for r in (await client.get(f"{RESET}/{expired}"), await _reset(client, expired)):
        error = assert_error(r, 400, "VALIDATION_ERROR")
        assert error["message"] == LINK_GONE
        assert error["details"] == [{"field": "token", "message": "expired"}]
    assert await _password_hash() == before
    # The same forgery with time left works, so the refusal above was the expiry.
    fresh = await _forge(server, owner["user"]["id"])
    assert (await client.get(f"{RESET}/{fresh}")).status_code == 200


async def test_other_tokens_are_not_reset_links(client, server):
    owner = await register(client)
    user_id = owner["user"]["id"]
    before = await _password_hash()
    tokens = {
        "access token": owner["accessToken"],
        "mfa challenge": await _forge(server, user_id, kind="mfa"),
        "other key": await _forge(server, user_id, keyring=Keyring((b"z" * 32,))),
        "garbage": "not-a-token",
        "refresh token": owner["refreshToken"],
    }
    for name, token in tokens.items():
        for r in (await client.get(f"{RESET}/{token}"), await _reset(client, token)):
            error = assert_error(r, 400, "VALIDATION_ERROR")
            assert error["message"] == LINK_INVALID, name
    assert await _password_hash() == before
    # A stale fingerprint (a link issued before the last password change) is a used link.
    stale = await _forge(server, user_id, pwh="0" * 16)
    error = assert_error(await _reset(client, stale), 400, "VALIDATION_ERROR")
    assert error["message"] == LINK_GONE
    assert await _password_hash() == before
    assert (await _login(client, PASSWORD)).status_code == 200


async def test_a_weak_password_is_refused_and_the_link_still_works(client, server):
    owner = await register(client)
    before = await _password_hash()
    token = await _forge(server, owner["user"]["id"])
    for weak in ("short", OWNER, "a" * 12):
        error = assert_error(await _reset(client, token, weak), 400, "VALIDATION_ERROR")
        assert [d["field"] for d in error["details"]] == ["newPassword"], error
    assert await _password_hash() == before
    assert (await _login(client, PASSWORD)).status_code == 200
    assert (await _reset(client, token)).status_code == 204
    assert (await _login(client, NEW_PASSWORD)).status_code == 200


async def test_a_deactivated_account_cannot_be_reset(client, server):
    owner = await register(client)
    org_id = owner["user"]["organizationId"]
    member = await add_member(client, owner["accessToken"], org_id, "AGENT")
    member_id = member["user"]["id"]
    token = await _forge(server, member_id, pwh=fingerprint(await _password_hash(
        "agent@example.com")))
    assert (await client.get(f"{RESET}/{token}")).status_code == 200
    r = await client.patch(f"{API}/organizations/{org_id}/users/{member_id}",
                           headers=bearer(owner["accessToken"]), json={"isActive": False})
    assert r.status_code == 200, r.text
    error = assert_error(await _reset(client, token), 400, "VALIDATION_ERROR")
    assert error["message"] == LINK_INVALID


@pytest.mark.parametrize("body", [{}, {"token": "x"}, {"newPassword": NEW_PASSWORD},
                                  {"token": "", "newPassword": NEW_PASSWORD},
                                  {"token": "x", "newPassword": NEW_PASSWORD, "extra": 1}])
async def test_reset_with_bad_input_is_400(client, body):
    r = await client.post(RESET, json=body)
    assert_error(r, 400, "VALIDATION_ERROR")
