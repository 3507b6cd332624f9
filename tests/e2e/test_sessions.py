"""Sessions in a real browser: the first run (wizard step 1, then step 2 with the
simulator, its QR code and the simulated scan), the sessions list following the status
live (disconnect, reconnect, the phone logging out), and the customer phone talking to
the business."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.support.browser import PASSWORD, sign_in

OWNER = "owner@example.com"
CUSTOMER = "+15550002222"
SLOW = 20_000  # the `wa` role picks a new session up within a few seconds


def _page(pages: Any) -> tuple[Any, Any]:
    """A page whose /inbox is a stub: this module only checks that flows end there (the
    inbox page is tested, with its own scripts, in test_inbox.py)."""
    page, watch = pages.new()
    page.route(lambda url: urlsplit(url).path == "/inbox", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>Inbox</title>"))
    return page, watch


def _api_token(wacc: Any) -> dict[str, str]:
    with wacc.api() as http:
        tokens = http.post("/api/v1/auth/login", json={"email": OWNER, "password": PASSWORD})
        assert tokens.status_code == 200, tokens.text
        return {"Authorization": f"Bearer {tokens.json()['accessToken']}"}


def test_first_run_wizard_connects_the_simulator(pages, wacc, screenshot):
    page, _ = _page(pages)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    page.get_by_label("Organization name").fill("Acme Support")
    page.get_by_label("Your name").fill("Olivia Owner")
    page.get_by_label("E-mail").fill(OWNER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create organization").click()

    expect(page).to_have_url(re.compile(r"/setup/session$"))
    expect(page.get_by_role("heading", name="Connect WhatsApp")).to_be_visible()
    for engine in ("Simulator", "WhatsApp Web", "WhatsApp Cloud API"):
        expect(page.get_by_role("radio", name=re.compile(engine))).to_be_visible()
    # Choosing Cloud API asks for its credentials; back to the simulator hides them.
    page.get_by_role("radio", name=re.compile("Cloud API")).check()
    expect(page.get_by_label("Access token", exact=True)).to_be_visible()
    page.get_by_role("radio", name=re.compile("Simulator")).check()
    expect(page.get_by_label("Access token", exact=True)).to_be_hidden()
    page.get_by_label("Session name").fill("Front desk")
    page.get_by_role("button", name="Create session").click()

    expect(page).to_have_url(re.compile(r"/setup/session\?session=\w+"))
    scan = page.get_by_role("button", name="Scan with the simulated phone")
    expect(scan).to_be_visible(timeout=SLOW)  # the QR code arrived live
    expect(page.get_by_role("img", name="QR code to scan with WhatsApp")).to_be_visible()
    screenshot(page, "10-setup-session")
    scan.click()
    expect(page.locator(".connect-state .badge")).to_have_text("Connected", timeout=SLOW)
    # Connected: the wizard offers "Done", no longer "I'll do this later" (issue 16).
    expect(page.get_by_role("link", name="I'll do this later")).to_be_hidden()
    page.reload()
    expect(page.get_by_role("link", name="I'll do this later")).to_be_hidden()
    page.get_by_role("link", name="Done").click()
    expect(page).to_have_url(re.compile(r"/inbox$"))


def test_sessions_list_follows_the_status_live(pages, wacc, screenshot):
    page, _ = _page(pages)
    sign_in(page, OWNER)
    page.goto("/sessions")
    row = page.locator("tr", has_text="Front desk")
    badge = row.locator(".badge")
    expect(badge).to_have_text("Connected")
    expect(row).to_contain_text("+1555")
    # A connected session is seen now, not when it last became ready (issue 16).
    expect(row.locator('[data-label="Last seen"]')).to_have_text("now")
    screenshot(page, "11-sessions")
    page.evaluate("window.__samePage = true")  # proves later changes came without a reload

    row.get_by_role("button", name=re.compile("^Disconnect")).click()
    expect(badge).to_have_text("Disconnected", timeout=SLOW)
    row.get_by_role("button", name=re.compile("^Reconnect")).click()
    expect(badge).to_have_text("Connected", timeout=SLOW)  # the pairing was kept: no QR

    # The phone removes the linked device: the page says so in words, by itself.
    head = _api_token(wacc)
    session_id = row.get_attribute("data-session-id")
    with wacc.api() as http:
        r = http.post(f"/api/v1/whatsapp/sessions/{session_id}/simulator", headers=head,
                      json={"action": "logout"})
        assert r.status_code == 200, r.text
    expect(badge).to_have_text("Logged out", timeout=SLOW)
    expect(row).to_contain_text("The phone logged out")
    assert page.evaluate("window.__samePage") is True

    # Connecting again needs a new scan: the detail page shows the QR code.
    row.get_by_role("button", name=re.compile("^Reconnect")).click()
    row.get_by_role("link", name="QR code / pairing code").click(timeout=SLOW)
    expect(page).to_have_url(re.compile(rf"/sessions/{session_id}$"))
    page.get_by_role("button", name="Scan with the simulated phone").click(timeout=SLOW)
    expect(page.locator(".connect-state .badge")).to_have_text("Connected", timeout=SLOW)
    expect(page.locator(f'[data-status-log="{session_id}"] li').first).to_contain_text("Connected")


def test_customer_phone_talks_to_the_business(pages, wacc, screenshot):
    page, _ = _page(pages)
    sign_in(page, OWNER)
    page.goto("/sessions")
    page.locator("tr", has_text="Front desk").get_by_role("link", name="Open customer phone").click()
    expect(page).to_have_url(re.compile(r"/simulator/[\w-]+$"))
    session_id = page.url.rsplit("/", 1)[1]

    page.get_by_label("Customer's phone number").fill(CUSTOMER)
    page.get_by_label("Customer's name").fill("Casey Customer")
    page.get_by_role("button", name="Be this customer").click()
    expect(page.locator("#sim-who")).to_have_text(f"You are Casey Customer ({CUSTOMER}).")
    page.get_by_label("Message to the business").fill("Hello from the customer")
    page.get_by_role("button", name="Send").click()
    mine = page.locator(".bubble.mine", has_text="Hello from the customer")
    expect(mine).to_be_visible()
    expect(mine).not_to_contain_text("sending")

    # An agent answers through the API; the reply shows up on the phone.
    head = _api_token(wacc)
    with wacc.api() as http:
        listed = http.get("/api/v1/conversations", headers=head,
                          params={"sessionId": session_id}).json()
        items = listed.get("data") or listed.get("items") or []
        conversation = next(c for c in items if c["contact"]["phone"] == CUSTOMER)
        sent = http.post(f"/api/v1/conversations/{conversation['id']}/messages", headers=head,
                         json={"body": "Hi Casey, how can we help?"})
        assert sent.status_code in (200, 201, 202), sent.text
    reply = page.locator(".bubble.theirs", has_text="Hi Casey, how can we help?")
    expect(reply).to_be_visible(timeout=SLOW)

    page.get_by_role("button", name="Mark replies as read").click()
    expect(page.locator(".toast")).to_contain_text("blue ticks")
    reply_id = sent.json()["id"]
    with wacc.api() as http:  # the agent's copy of the reply is now READ (blue ticks)
        deadline = time.monotonic() + 10
        while http.get(f"/api/v1/messages/{reply_id}", headers=head).json()["status"] != "READ":
            assert time.monotonic() < deadline, "the reply never became READ"
            time.sleep(0.1)
    reply.get_by_role("button", name="React with heart").click()
    expect(reply).to_contain_text("You: ❤️")
    screenshot(page, "12-simulator-phone")


def test_add_a_cloud_session_then_delete_it(pages, wacc):
    page, _ = _page(pages)
    sign_in(page, OWNER)
    page.goto("/sessions")
    page.get_by_role("link", name="Add session").click()
    page.get_by_role("radio", name=re.compile("Cloud API")).check()
    page.get_by_label("Session name").fill("Meta line")
    page.get_by_label("Phone number id").fill("1234567890")
    page.get_by_label("Access token", exact=True).fill("EAAG-not-a-real-token")
    page.get_by_label("App secret").fill("app-secret")
    page.get_by_role("button", name="Create session").click()
    expect(page).to_have_url(re.compile(r"/sessions/[0-9a-f-]{36}$"))
    session_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", name="Meta line")).to_be_visible()
    expect(page.get_by_label("Callback URL", exact=True)).to_have_value(
        f"{wacc.url}/api/v1/whatsapp/sessions/{session_id}/webhook")
    # One URL for every number of the Meta app, shown beside the session's own.
    expect(page.get_by_role("textbox", name=re.compile("^Callback URL for all"))).to_have_value(
        f"{wacc.url}/api/v1/whatsapp/cloud/webhook")
    expect(page.locator("body")).not_to_contain_text("EAAG-not-a-real-token")

    page.goto("/sessions")
    row = page.locator("tr", has_text="Meta line")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete Meta line").click()
    expect(page.locator("tr", has_text="Meta line")).to_have_count(0)
    expect(page.locator("tr", has_text="Front desk")).to_have_count(1)
