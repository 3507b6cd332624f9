"""The web UI's session cookie and its CSRF check, over real HTTP; and the pure helpers
that keep user content and redirects safe."""

from __future__ import annotations

import pytest

from tests.helpers import assert_error, bearer, register
from tests.support.polling import until
from tests.support.whatsapp import connected_session, simulate
from tests.ui_support import csrf_headers, ui_login
from wacc.ui.auth_pages import safe_next
from wacc.ui.render import linkify

API = "/api/v1"
EMAIL, PASSWORD = "owner@example.com", "correct-horse-battery"


async def test_cookie_writes_need_the_csrf_token(client):
    await register(client, email=EMAIL, password=PASSWORD)
    token = await ui_login(client, EMAIL, PASSWORD)
    # Reads need no token: a cross-site page cannot read the answer anyway.
    assert (await client.get(f"{API}/tags")).status_code == 200
    body = assert_error(await client.post(f"{API}/tags", json={"name": "a"}), 403,
                        "AUTHORIZATION_ERROR")
    assert "security token" in body["message"]
    wrong = await client.post(f"{API}/tags", json={"name": "a"},
                              headers={"X-CSRF-Token": "0" * 64})
    assert_error(wrong, 403, "AUTHORIZATION_ERROR")
    assert (await client.get(f"{API}/tags")).json() == []  # nothing was created
    ok = await client.post(f"{API}/tags", json={"name": "a"}, headers=csrf_headers(token))
    assert ok.status_code == 201, ok.text


async def test_bearer_and_api_key_calls_need_no_csrf_token(client):
    owner = await register(client, email=EMAIL, password=PASSWORD)
    r = await client.post(f"{API}/tags", json={"name": "b"}, headers=bearer(owner["accessToken"]))
    assert r.status_code == 201


async def test_logout_ends_the_cookie_and_its_csrf_token(client):
    await register(client, email=EMAIL, password=PASSWORD)
    token = await ui_login(client, EMAIL, PASSWORD)
    cookie = client.cookies.get("wacc_session")
    r = await client.post("/ui/logout", headers=csrf_headers(token))
    assert r.status_code == 200 and r.json() == {"redirect": "/login"}
    assert "wacc_session" not in client.cookies
    # Replaying the old cookie: signed out, even with its once-valid CSRF token.
    client.cookies.set("wacc_session", cookie)
    replay = await client.post(f"{API}/tags", json={"name": "c"}, headers=csrf_headers(token))
    assert_error(replay, 401, "AUTHENTICATION_ERROR")
    page = await client.get("/inbox", headers={"Accept": "text/html"})
    assert page.status_code == 302
    assert page.headers["location"] == "/login?next=%2Finbox&expired=1"


async def test_signed_out_pages_redirect_and_htmx_gets_hx_redirect(client):
    await register(client, email=EMAIL, password=PASSWORD)
    page = await client.get("/contacts?q=x", headers={"Accept": "text/html"})
    assert page.status_code == 302
    assert page.headers["location"] == "/login?next=%2Fcontacts%3Fq%3Dx"
    swap = await client.get("/contacts", headers={"HX-Request": "true"})
    assert swap.headers.get("hx-redirect", "").startswith("/login?next=")


async def test_wrong_password_on_the_ui_login_is_401_in_words(client):
    await register(client, email=EMAIL, password=PASSWORD)
    r = await client.post("/ui/login", json={"email": EMAIL, "password": "nope-nope-nope"},
                          headers={"Accept": "application/json"})
    body = assert_error(r, 401, "AUTHENTICATION_ERROR")
    assert body["message"] == "Invalid e-mail or password"
    assert "wacc_session" not in client.cookies


async def test_unknown_page_is_an_html_page_for_browsers(client):
    r = await client.get("/no/such/page", headers={"Accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "This page does not exist." in r.text


@pytest.mark.parametrize("target, expected", [
    ("/contacts?q=1", "/contacts?q=1"),
    (None, "/inbox"),
    ("", "/inbox"),
    ("//evil.example/x", "/inbox"),
    ("https://evil.example/", "/inbox"),
    ("/\\evil.example", "/inbox"),
    ("javascript:alert(1)", "/inbox"),
])
def test_sign_in_only_returns_to_this_site(target, expected):
    assert safe_next(target) == expected


def test_linkify_escapes_everything_and_links_only_http():
    html = str(linkify('<script>x</script> https://ok.example/a?b=1&c=2 javascript:alert(1)'))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert ('<a href="https://ok.example/a?b=1&amp;c=2" target="_blank" '
            'rel="noopener noreferrer nofollow">') in html
    assert 'href="javascript' not in html
    quoted = str(linkify('https://x.example/"onmouseover="alert(1)'))
    assert 'onmouseover="' not in quoted


async def test_a_100_mb_upload_from_the_page_is_refused_in_words(client, wa):
    """What the inbox's attach button sends when the browser's own size check is skipped:
    the server refuses it before storing anything, in the error format the page shows."""
    from wacc.messages.tables import Message

    owner = await register(client, email=EMAIL, password=PASSWORD)
    head = bearer(owner["accessToken"])
    await wa()
    sid, _ = await connected_session(client, head)
    await simulate(client, head, sid, "message", phone="+14155550123", body="hi", id="U1")

    async def conversation():
        items = (await client.get(f"{API}/conversations", headers=head)).json()["items"]
        return items and items[0]["id"]

    cid = await until(conversation)
    token = await ui_login(client, EMAIL, PASSWORD)
    before = await Message.count()
    huge = b"0" * (100 * 1024 * 1024)
    r = await client.post(f"{API}/conversations/{cid}/messages/media",
                          files={"file": ("movie.mp4", huge, "video/mp4")},
                          headers=csrf_headers(token), timeout=120)
    error = assert_error(r, 400, "VALIDATION_ERROR")  # refused by its Content-Length
    assert error["details"] == [{"field": "file", "message": "larger than the limit of 16 MB"}]
    assert await Message.count() == before
