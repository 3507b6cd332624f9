"""Team, settings and profile in a real browser: invite a teammate who joins through the
link, a tag with a bad name, an API key whose secret is shown once, the audit log, and
two-factor enrolment with a code computed from the secret on the page."""

from __future__ import annotations

import re

import pyotp
from playwright.sync_api import expect

from tests.support.browser import PASSWORD, register_owner, sign_in

OWNER = "owner@example.com"
# The inbox (where sign-in and joining land) is another area's page, still being built:
# its missing assets are not this module's errors.
INBOX_ASSETS = r"inbox\.(css|js)|status of 404"


def test_invite_a_teammate_who_joins_through_the_link(pages, wacc, screenshot):
    register_owner(wacc)
    page, _ = pages.new()
    sign_in(page, OWNER, then="/team")
    expect(page.get_by_role("heading", name="Team", exact=True)).to_be_visible()
    expect(page.get_by_text("No pending invites.")).to_be_visible()

    page.get_by_role("button", name="Invite a teammate").click()
    dialog = page.locator("#invite-dialog")
    dialog.get_by_label("E-mail").fill("ann@example.com")
    dialog.get_by_label("Name").fill("Ann Agent")
    dialog.get_by_label("Role").select_option("AGENT")
    dialog.get_by_role("button", name="Send invite").click()
    # No mail server in this run: the one-time link is handed to the inviter.
    link = dialog.get_by_label("Invite link")
    expect(link).to_have_value(re.compile(r"/invite/[\w-]+$"))
    url = link.input_value()
    expect(page.locator("#invites")).to_contain_text("ann@example.com")
    dialog.get_by_role("button", name="Done").click()

    other, watch = pages.new()
    watch.expect(INBOX_ASSETS)
    other.goto(url)
    expect(other.get_by_role("heading", name="Join Acme Support")).to_be_visible()
    other.get_by_label("Choose a password").fill(PASSWORD)
    other.get_by_role("button", name="Join").click()
    expect(other).to_have_url(re.compile(r"/inbox"))
    # Signed in as the new agent: the team page shows them, without admin controls.
    other.goto("/team")
    expect(other.locator("#main")).to_contain_text("Ann Agent (you)")
    expect(other.get_by_role("button", name="Invite a teammate")).to_have_count(0)

    page.reload()
    expect(page.locator("#invites")).to_contain_text("No pending invites.")
    expect(page.locator("table.members")).to_contain_text("ann@example.com")
    expect(page.get_by_label("Role of Ann Agent")).to_have_value("AGENT")
    screenshot(page, "40-team")

    # Change the role, deactivate, and revoke a second invite (confirmations accepted).
    page.on("dialog", lambda d: d.accept())
    row = page.locator("tr", has_text="ann@example.com")
    page.get_by_label("Role of Ann Agent").select_option("MANAGER")
    row.get_by_role("button", name="Change role").click()
    expect(page.locator("tr", has_text="ann@example.com")).to_contain_text("manager")
    page.locator("tr", has_text="ann@example.com").get_by_role("button", name="Deactivate").click()
    expect(page.locator("tr", has_text="ann@example.com")).to_contain_text("deactivated")

    page.get_by_role("button", name="Invite a teammate").click()
    dialog.get_by_label("E-mail").fill("bob@example.com")
    dialog.get_by_role("button", name="Send invite").click()
    expect(dialog.get_by_label("Invite link")).to_have_value(re.compile(r"/invite/"))
    dialog.get_by_role("button", name="Done").click()
    invites = page.locator("#invites")
    expect(invites).to_contain_text("bob@example.com")
    invites.get_by_role("button", name="Revoke").click()
    expect(invites).to_contain_text("No pending invites.")


def test_tag_name_errors_are_words_then_the_tag_is_created(pages, wacc, screenshot):
    page, watch = pages.new()
    watch.expect(r"status of 409")
    sign_in(page, OWNER, then="/settings/tags")
    form = page.locator("#tag-form")
    page.get_by_role("button", name="Create tag").click()
    expect(form.locator(".form-error")).to_have_text("Fill in the required field.")
    expect(form.locator(".field-error")).to_have_text("is required")
    expect(page.locator("#tag-name")).to_have_attribute("aria-invalid", "true")

    page.locator("#tag-name").fill("VIP <b>gold</b>")
    page.get_by_role("button", name="Create tag").click()
    expect(page.locator("#tag-list")).to_contain_text("VIP <b>gold</b>")

    # The API's refusal (the same name, other case), in words next to the field.
    page.locator("#tag-name").fill("vip <B>GOLD</B>")
    page.get_by_role("button", name="Create tag").click()
    expect(form.locator(".form-error")).to_contain_text("already exists")
    assert "{" not in form.locator(".form-error").inner_text()
    expect(form.locator(".field-error")).to_have_text("already exists")
    screenshot(page, "41-settings-tags")


def test_organization_fields_and_canned_responses(pages, wacc):
    page, watch = pages.new()
    watch.expect(r"status of 400")
    sign_in(page, OWNER, then="/settings/organization")
    page.get_by_label("Time zone").fill("Mars/Olympus")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#org-form .field-error")).to_contain_text("not a known time zone")
    page.get_by_label("Time zone").fill("Europe/Paris")
    page.get_by_label("Open conversations per agent").fill("5")
    page.get_by_label("Agents see only the conversations assigned to them").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#toasts")).to_contain_text("Settings saved")
    page.reload()
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Paris")
    expect(page.get_by_label("Open conversations per agent")).to_have_value("5")
    expect(page.get_by_label("Agents see only the conversations assigned to them")).to_be_checked()

    page.goto("/settings/fields")
    page.get_by_label("Name", exact=True).fill("Plan")
    page.get_by_label("Key").fill("plan")
    page.get_by_label("Type", exact=True).select_option("SELECT")
    page.get_by_label("Options").fill("Free\nPro")
    page.get_by_role("button", name="Create field").click()
    expect(page.locator("table")).to_contain_text("Free, Pro")

    page.goto("/settings/canned")
    page.get_by_label("Shortcut").fill("Bad Shortcut")
    page.get_by_label("Text").fill("Hello {{contact.name}}!")
    page.get_by_role("button", name="Create canned response").click()
    expect(page.locator("#canned-form .field-error")).to_be_visible()
    page.get_by_label("Shortcut").fill("hello")
    page.get_by_role("button", name="Create canned response").click()
    expect(page.locator(".canned-list")).to_contain_text("/hello")
    expect(page.locator(".canned-list")).to_contain_text("Hello {{contact.name}}!")


def test_api_key_secret_is_shown_once(pages, wacc, screenshot):
    page, _ = pages.new()
    sign_in(page, OWNER, then="/settings/api-keys")
    expect(page.get_by_text("No API keys yet.")).to_be_visible()
    page.get_by_role("textbox", name=re.compile(r"^Name")).fill("CRM sync")
    page.locator('input[name="scopes"][value="read:contacts"]').check()
    page.get_by_label("Expires on").fill("2099-12-31")
    page.get_by_role("button", name="Create key").click()

    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("only time the key is shown")
    secret_field = dialog.get_by_label("API key")
    expect(secret_field).to_have_value(re.compile(r"^wacc_"))
    secret = secret_field.input_value()
    screenshot(page, "42-api-key-once")

    dialog.get_by_role("button", name="I copied it").click()
    expect(page.locator("#key-table")).to_contain_text("CRM sync")
    expect(page.locator("#key-table")).to_contain_text("2099-12-31")
    assert secret not in page.content()
    prefix = secret.split("_")[1]
    expect(page.locator("#key-table")).to_contain_text(f"wacc_{prefix}_")


def test_audit_log_shows_what_was_done(pages, wacc, screenshot):
    page, _ = pages.new()
    sign_in(page, OWNER, then="/settings/audit")
    table = page.locator("table.audit-table")
    expect(table).to_contain_text("tag.create")
    expect(table).to_contain_text("user.invite")
    page.get_by_label("Action").fill("api_key.create")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"action=api_key.create"))
    expect(table).not_to_contain_text("tag.create")
    page.get_by_role("link", name="Clear").click()
    expect(table).to_contain_text("tag.create")
    screenshot(page, "44-audit")

    # At phone width the widest pages still fit: tables turn into stacked rows.
    phone, _ = pages.new(viewport={"width": 375, "height": 740})
    sign_in(phone, OWNER, then="/settings/audit")
    for path in ("/settings/audit", "/settings/api-keys", "/team"):
        phone.goto(path)
        fits = phone.evaluate("() => { const m = document.getElementById('main');"
                              " return m.scrollWidth <= m.clientWidth + 1; }")
        assert fits, f"{path} overflows at 375px"


def test_enable_two_factor_on_the_profile(pages, wacc, screenshot):
    page, watch = pages.new()
    watch.expect(r"status of 40[01]")
    sign_in(page, OWNER, then="/profile")
    page.get_by_role("button", name="Set up two-factor").click()
    expect(page.get_by_role("img", name="QR code")).to_be_visible()
    secret = page.locator("#mfa-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret

    page.get_by_label("Code from the app").fill("000000")
    page.get_by_role("button", name="Turn on two-factor").click()
    expect(page.locator("#mfa-enable-form .form-error")).to_be_visible()

    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor").click()
    codes = page.locator("#recovery-codes li")
    expect(codes.first).to_be_visible()
    assert codes.count() >= 5
    screenshot(page, "43-profile-2fa")
    page.get_by_role("button", name="I saved them").click()
    expect(page.get_by_role("button", name="Turn off two-factor")).to_be_visible()
    assert secret not in page.content()
