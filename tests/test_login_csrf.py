"""Login CSRF closed (issue 14): the posts that set the session cookie take only
``application/json``. A cross-site form can send text/plain, url-encoded or multipart
bodies without a CORS preflight; each is refused with a 415 in the seed's format and
sets no cookie, while the web UI's own JSON post still signs in."""

from __future__ import annotations

import json

import pytest

from tests.helpers import PASSWORD, assert_error, register
from wacc.auth.tables import RefreshToken

CREDENTIALS = {"email": "owner@example.com", "password": PASSWORD}


@pytest.mark.parametrize("content_type", [
    "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", None,
])
async def test_a_login_not_sent_as_json_is_refused_and_sets_no_cookie(client, content_type):
    await register(client)
    client.cookies.clear()
    before = await RefreshToken.count()
    headers = {"Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    r = await client.post("/ui/login", content=json.dumps(CREDENTIALS).encode(), headers=headers)
    assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert "set-cookie" not in r.headers
    assert not client.cookies
    assert await RefreshToken.count() == before  # no session was started


@pytest.mark.parametrize("path", ["/ui/login/mfa", "/ui/setup", "/ui/invite/accept"])
async def test_the_other_cookie_setting_posts_take_json_only(client, path):
    r = await client.post(path, content=b"{}", headers={"Content-Type": "text/plain",
                                                        "Accept": "application/json"})
    assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert "set-cookie" not in r.headers


async def test_the_web_uis_json_login_still_signs_in(client):
    await register(client)
    client.cookies.clear()
    r = await client.post("/ui/login", json=CREDENTIALS, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    assert "wacc_session" in r.headers.get("set-cookie", "")
