"""Sign-in pages in a real browser: the first-run wizard's first step, login, the
two-factor step, logout, and the bad inputs a person will try."""

from __future__ import annotations

import re

import pyotp
from playwright.sync_api import expect

from tests.support.browser import PASSWORD, accessibility_problems, sign_in


def test_first_run_goes_to_the_wizard_and_creates_the_owner(pages, wacc, screenshot):
    page, watch = pages.new()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.get_by_role("heading", name="Welcome to wacc")).to_be_visible()
    screenshot(page, "01-setup-wizard")

    # An invalid form: the API's field errors appear next to the fields, in words, not
    # the validator's ("Object missing required field", "matching regex", issue 16).
    watch.expect(r"status of 400")
    page.get_by_role("button", name="Create organization").click()
    org_error = page.locator("#setup-org + .field-error")
    expect(org_error).to_have_text("Fill this in.")
    form_text = page.locator("#setup-form").inner_text()
    assert "Object missing" not in form_text and "`" not in form_text, form_text
    page.get_by_label("Organization name").fill("Acme Support")
    page.get_by_label("Your name").fill("Olivia Owner")
    page.get_by_label("E-mail").fill("not-an-email")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create organization").click()
    alert = page.locator("#setup-form .form-error")
    expect(alert).to_be_visible()
    expect(page.locator("#setup-form .field-error").first).to_be_visible()
    expect(page.get_by_label("E-mail")).to_have_attribute("aria-invalid", "true")
    assert "{" not in alert.inner_text()  # words, not raw JSON
    expect(page.locator("#setup-email + .field-error")).to_have_text(
        "Enter an e-mail address, like name@example.com.")
    assert "regex" not in page.locator("#setup-form").inner_text()

    page.get_by_label("E-mail").fill("owner@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create organization").click()
    expect(page).to_have_url(re.compile(r"/setup/session"))

    # The wizard is done once: a second visitor cannot create another owner.
    other, _ = pages.new()
    other.goto("/setup")
    expect(other).to_have_url(re.compile(r"/login"))


def test_wrong_password_is_said_in_words(pages, wacc):
    page, watch = pages.new()
    watch.expect(r"status of 401")
    page.goto("/login")
    page.get_by_label("E-mail").fill("owner@example.com")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    alert = page.locator("#login-form .form-error")
    expect(alert).to_have_text(re.compile("Invalid e-mail or password"))
    expect(page).to_have_url(re.compile(r"/login"))


def test_sign_in_then_out_and_the_cookie_is_dead(pages, wacc):
    page, _ = pages.new()
    sign_in(page, "owner@example.com")
    cookie = next(c for c in page.context.cookies() if c["name"] == "wacc_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.goto("/inbox")
    page.locator(".user-menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))

    # The old cookie, replayed, no longer signs anyone in.
    replay, _ = pages.new()
    replay.context.add_cookies([{**cookie}])
    replay.goto("/inbox")
    expect(replay).to_have_url(re.compile(r"/login\?next=%2Finbox&expired=1"))
    expect(replay.get_by_text("Your session expired")).to_be_visible()


def test_a_forged_or_expired_cookie_sends_to_sign_in(pages, wacc):
    page, _ = pages.new()
    page.context.add_cookies([{"name": "wacc_session", "value": "eyJ.forged.cookie",
                               "url": wacc.url}])
    page.goto("/contacts")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fcontacts&expired=1"))


def test_cookie_requests_without_the_csrf_token_are_refused(pages, wacc):
    page, _ = pages.new()
    sign_in(page, "owner@example.com")
    # Same cookie, but a request a foreign page could forge: no X-CSRF-Token header.
    response = page.request.post("/api/v1/tags", data={"name": "forged"})
    assert response.status == 403
    assert "security token" in response.json()["error"]["message"]
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    ok = page.request.post("/api/v1/tags", data={"name": "real"},
                           headers={"X-CSRF-Token": token})
    assert ok.status == 201, ok.text()


def test_two_factor_step(pages, wacc):
    with wacc.api() as http:
        tokens = http.post("/api/v1/auth/login", json={
            "email": "owner@example.com", "password": PASSWORD}).json()
        auth = {"Authorization": f"Bearer {tokens['accessToken']}"}
        secret = http.post("/api/v1/auth/mfa/setup", headers=auth).json()["secret"]
        enabled = http.post("/api/v1/auth/mfa/enable", headers=auth,
                            json={"code": pyotp.TOTP(secret).now()})
        assert enabled.status_code == 200, enabled.text
    page, watch = pages.new()
    watch.expect(r"status of 401")
    page.goto("/login?next=/contacts")
    page.get_by_label("E-mail").fill("owner@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    code = page.get_by_label("Code")
    expect(code).to_be_visible()
    code.fill("000000")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#mfa-form .form-error")).to_have_text(re.compile("Wrong two-factor code"))
    code.fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/contacts"))


def test_the_accessibility_check_finds_what_it_should(pages):
    """The check every screenshot runs (conftest.shot) must be able to fail."""
    page, _ = pages.new()
    page.set_content('<div id="a"></div><div id="a"></div><input name="q"><button></button>'
                     '<img src="data:,"><label for="z">Z</label><input id="z">'
                     '<p style="color:#aaa">faint</p><p style="color:#595959">dark enough</p>')
    assert accessibility_problems(page) == [
        "unlabelled input q", "nameless button <button></button>", "img without alt data:,",
        'id "a" used 2 times', 'contrast 2.32 for "faint" (p.)', "no h1 heading",
        "no main landmark"]
