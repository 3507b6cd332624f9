"""The inbox in a real browser against `wacc run` with the simulator engine playing the
customer: a message arrives live, the agent replies from the composer (canned response
included) and the ticks move as the customer reads it; note, assign, tag and resolve
through the UI while a teammate in a second browser sees it all live; and a lost
network connection that comes back catches up on what was missed."""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import expect

from tests.support.browser import PASSWORD, connected_simulator, register_owner, sign_in, until

CUSTOMER = "+14155550123"
state: dict[str, Any] = {}


def _setup(wacc: Any) -> dict[str, Any]:
    """Owner, a connected simulator session, a tag, a canned response and a teammate."""
    tokens = register_owner(wacc)
    head = {"Authorization": f"Bearer {tokens['accessToken']}"}
    org = tokens["user"]["organizationId"]
    with wacc.api() as http:
        sid = connected_simulator(http, head)
        assert http.post("/api/v1/tags", headers=head, json={"name": "VIP"}).status_code == 201
        assert http.post("/api/v1/canned-responses", headers=head, json={
            "shortcut": "hours", "content": "We are open 9 to 18."}).status_code == 201
        r = http.post(f"/api/v1/organizations/{org}/users", headers=head, json={
            "email": "alex@example.com", "name": "Alex Agent", "role": "AGENT"})
        assert r.status_code == 201, r.text
        secret = r.json()["inviteUrl"].rsplit("/", 1)[1]
        r = http.post("/api/v1/auth/invites/accept", json={"token": secret, "password": PASSWORD})
        assert r.status_code == 201, r.text
    return {"head": head, "sid": sid, "org": org}


def _customer(wacc: Any, action: str, **payload: Any) -> None:
    with wacc.api() as http:
        r = http.post(f"/api/v1/whatsapp/sessions/{state['sid']}/simulator",
                      headers=state["head"], json={"action": action, "payload": payload})
        assert r.status_code == 200, r.text


def _outbox(wacc: Any) -> list[str]:
    with wacc.api() as http:
        r = http.get(f"/api/v1/whatsapp/sessions/{state['sid']}/simulator/outbox",
                     headers=state["head"], params={"to": CUSTOMER})
        return [m.get("body") for m in r.json()]


def test_live_inbox_reply_ticks_and_teamwork(pages, wacc, screenshot):
    state.update(_setup(wacc))
    page, _ = pages.new()
    sign_in(page, "owner@example.com")
    page.goto("/inbox")
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    expect(page.locator("#conversation-list .empty")).to_be_visible()
    expect(page.locator("#connection-status")).to_have_text("")

    # The customer writes: the conversation appears without a reload.
    _customer(wacc, "message", phone=CUSTOMER, body="Hello, is my order shipped?",
              name="Carla Customer", id="C1")
    _customer(wacc, "message", phone=CUSTOMER, body="<img src=x onerror=alert(1)> <b>hi</b>",
              id="C2")
    row = page.locator(".conversation-row", has_text="Carla Customer")
    expect(row).to_be_visible()
    expect(row.locator(".unread-badge")).to_have_text("2")
    screenshot(page, "20-inbox")

    row.locator("a").click()
    expect(page).to_have_url(re.compile(r"/inbox/[\w-]+$"))
    cid = page.url.rsplit("/", 1)[1]
    state["cid"] = cid
    thread = page.locator("#messages")
    expect(thread.get_by_text("Hello, is my order shipped?")).to_be_visible()
    expect(thread.get_by_text("<img src=x onerror=alert(1)> <b>hi</b>")).to_be_visible()
    expect(row.locator(".unread-badge")).to_have_count(0)

    # A teammate opens the same conversation in another browser.
    mate, _ = pages.new()
    sign_in(mate, "alex@example.com")
    mate.goto(f"/inbox/{cid}")
    expect(mate.locator("#thread-title")).to_have_text("Carla Customer")
    expect(mate.locator("#thread-header")).to_contain_text("Unassigned")
    expect(mate.locator("#conversation")).to_have_attribute("data-live", "joined")

    # Icons are the vendored SVGs, drawn without any emoji font (issue 16).
    attach = page.locator("#attach-label svg.icon-paperclip")
    expect(attach).to_be_visible()
    box_of = attach.bounding_box()
    assert box_of and box_of["width"] >= 12 and box_of["height"] >= 12
    expect(page.get_by_role("button", name="Insert emoji").locator("svg.icon-smile")).to_be_visible()

    # Reply with a canned response picked through "/", sent with Enter.
    box = page.get_by_label("Message", exact=True)
    box.fill("")
    box.press_sequentially("/hou")
    expect(page.locator("#canned-list [role=option]")).to_have_count(1)
    expect(mate.locator("#typing")).to_have_text("Olivia Owner is typing…")
    box.press("Enter")
    expect(box).to_have_value("We are open 9 to 18.")
    box.press("Enter")
    sent = thread.locator(".bubble.outbound", has_text="We are open 9 to 18.")
    expect(sent).to_be_visible()
    expect(box).to_have_value("")
    expect(sent.locator(".ack-delivered svg.icon-check-check")).to_be_visible()
    assert _outbox(wacc) == ["We are open 9 to 18."]
    expect(mate.locator(".bubble.outbound", has_text="We are open 9 to 18.")).to_be_visible()
    _customer(wacc, "read", phone=CUSTOMER)
    expect(sent.locator(".ack-read")).to_be_visible()
    expect(sent.locator(".ack-read")).to_have_attribute("aria-label", "Read")

    # Reply to a specific message: quoted in the composer, then in the sent bubble.
    first = thread.locator(".bubble.inbound", has_text="Hello, is my order shipped?")
    first.hover()
    first.get_by_role("button", name="Reply to this message").click()
    expect(page.locator("#reply-text")).to_have_text("Hello, is my order shipped?")
    box.fill("Yes, it left today.")
    box.press("Enter")
    quoted = thread.locator(".bubble.outbound", has_text="Yes, it left today.")
    expect(quoted.locator(".quoted")).to_have_text("Hello, is my order shipped?")

    # The emoji list inserts at the caret.
    box.fill("Thanks ")
    page.get_by_role("button", name="Insert emoji").click()
    page.get_by_role("button", name="Insert 👍").click()
    expect(box).to_have_value("Thanks 👍")
    expect(page.locator("#emoji-panel")).to_be_hidden()
    box.fill("")

    # The contact's tags, from the contact panel.
    page.get_by_label("Add a tag to the contact").select_option(label="VIP")
    chip = page.locator(".contact-tags .tag", has_text="VIP")
    expect(chip).to_be_visible()
    page.get_by_role("button", name="Remove contact tag VIP").click()
    expect(chip).to_have_count(0)

    # An internal note: shown apart, and never sent to the customer.
    page.get_by_role("switch", name="Note").check()
    box.fill("Check the warehouse before 5pm")
    box.press("Enter")
    note = thread.locator(".note", has_text="Check the warehouse before 5pm")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Internal note")
    assert "Check the warehouse before 5pm" not in _outbox(wacc)

    # Assign, tag and resolve from the header; the teammate sees each change live.
    page.get_by_role("button", name="Assign to me").click()
    expect(page.locator("#thread-header")).to_contain_text("Assigned to Olivia Owner")
    expect(mate.locator("#thread-header")).to_contain_text("Assigned to Olivia Owner")
    page.get_by_label("Add a tag to the conversation").select_option(label="VIP")
    expect(page.locator(".thread-tags .tag", has_text="VIP")).to_be_visible()
    expect(mate.locator(".conversation-row", has_text="Carla Customer").locator(".tag")).to_have_text("VIP")
    screenshot(page, "21-inbox-thread")
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("#thread-status")).to_have_text("Resolved")
    expect(mate.locator("#thread-status")).to_have_text("Resolved")
    # The open-only list drops the resolved conversation for both of them.
    expect(mate.locator(".conversation-row", has_text="Carla Customer")).to_have_count(0)
    # The customer writes again: the conversation reopens, and both open headers follow
    # (they said "Resolved" while the list and the API said OPEN).
    _customer(wacc, "message", phone=CUSTOMER, body="One more thing: gift wrap?", id="C3")
    expect(page.locator("#messages").get_by_text("One more thing: gift wrap?")).to_be_visible()
    expect(page.locator("#thread-status")).to_have_text("Open")
    expect(mate.locator("#thread-status")).to_have_text("Open")
    expect(page.get_by_role("button", name="Resolve")).to_be_visible()
    expect(mate.locator(".conversation-row", has_text="Carla Customer")).to_have_count(1)

    # Shortcuts: "?" shows the help; nothing fires while typing in the search box.
    page.locator("#messages").click()
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("/")
    expect(page.locator("#inbox-search")).to_be_focused()
    page.keyboard.type("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()


def test_attachments_on_a_phone_and_a_too_big_one_in_words(pages, wacc, screenshot):
    page, _ = pages.new(viewport={"width": 375, "height": 740})
    sign_in(page, "owner@example.com")
    page.goto(f"/inbox/{state['cid']}")
    # At phone width the thread takes the screen; "back" shows the list.
    expect(page.locator(".inbox-list")).to_be_hidden()
    expect(page.get_by_role("link", name="Back to the list")).to_be_visible()
    panel = page.get_by_role("complementary", name="Contact")
    expect(panel).to_be_hidden()
    page.get_by_role("button", name="Contact details").click()
    expect(panel).to_contain_text(CUSTOMER)
    page.get_by_role("button", name="Close contact details").click()
    expect(panel).to_be_hidden()
    limit = int(page.locator("#composer").get_attribute("data-max-bytes"))
    page.locator("#composer-file").set_input_files(files=[{
        "name": "huge.pdf", "mimeType": "application/pdf", "buffer": b"0" * (limit + 1)}])
    expect(page.locator("#composer .form-error")).to_contain_text("larger than the")
    expect(page.locator("#attachment-preview")).to_be_hidden()
    page.locator("#composer-file").set_input_files(files=[{
        "name": "menu.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 small"}])
    expect(page.locator("#attachment-name")).to_contain_text("menu.pdf")
    page.get_by_role("button", name="Send").click()
    document = page.locator(".bubble.outbound .document", has_text="menu.pdf")
    expect(document).to_be_visible()
    until(lambda: len(_outbox(wacc)) == 3)
    screenshot(page, "22-inbox-phone")

    # Snooze until tomorrow, then open it again by hand; priority from its menu.
    page.locator(".snooze summary").click()
    tomorrow = time.strftime("%Y-%m-%dT09:30", time.localtime(time.time() + 86400))
    page.get_by_label("Snooze until").fill(tomorrow)
    page.locator(".snooze-form").get_by_role("button", name="Snooze").click()
    expect(page.locator("#thread-status")).to_contain_text("Snoozed until")
    page.get_by_label("Conversation status").select_option("OPEN")
    expect(page.locator("#thread-status")).to_have_text("Open")
    page.get_by_label("Priority").select_option("HIGH")
    expect(page.get_by_label("Priority")).to_have_value("HIGH")
    expect(page.locator("#thread-header")).to_have_attribute("data-version", re.compile(r"\d+"))
    page.get_by_role("link", name="Back to the list").click()
    expect(page.locator(".inbox-list")).to_be_visible()


def test_lost_connection_reconnects_and_catches_up(pages, wacc):
    page, watch = pages.new()
    sign_in(page, "owner@example.com")
    page.goto(f"/inbox/{state['cid']}")
    status = page.locator("#connection-status")
    expect(page.locator("#thread-title")).to_have_text("Carla Customer")
    expect(status).to_have_text("")
    expect(page.locator("#conversation")).to_have_attribute("data-live", "joined")

    # Keyboard: k/j move between conversations, a assigns to me, e resolves.
    _customer(wacc, "message", phone="+14155550124", body="Do you ship to Lyon?",
              name="Dan Buyer", id="D1")
    expect(page.locator(".conversation-row", has_text="Dan Buyer")).to_be_visible()
    page.locator("#messages").focus()
    page.keyboard.press("k")
    expect(page.locator("#thread-title")).to_have_text("Dan Buyer")
    expect(page).to_have_url(re.compile(r"/inbox/[\w-]+$"))
    page.keyboard.press("a")
    expect(page.locator("#thread-header")).to_contain_text("Assigned to Olivia Owner")
    page.keyboard.press("e")
    expect(page.locator("#thread-status")).to_have_text("Resolved")
    expect(page.locator(".conversation-row", has_text="Dan Buyer")).to_have_count(0)
    page.keyboard.press("j")
    expect(page.locator("#thread-title")).to_have_text("Carla Customer")
    expect(page.locator("#conversation")).to_have_attribute("data-live", "joined")
    # While offline the socket and the token fetches fail; the browser logs those.
    watch.expect(r"ERR_INTERNET_DISCONNECTED|WebSocket|Failed to load resource")
    page.context.set_offline(True)
    expect(status).to_have_text(re.compile(r"Reconnecting…|Offline"))
    _customer(wacc, "message", phone=CUSTOMER, body="Are you still there?", id="C9")

    def stored() -> bool:  # in the database while this browser cannot hear about it
        with wacc.api() as http:
            r = http.get(f"/api/v1/conversations/{state['cid']}/messages", headers=state["head"])
            return any(m["body"] == "Are you still there?" for m in r.json()["items"])

    until(stored)
    page.context.set_offline(False)
    expect(status).to_have_text("", timeout=30_000)
    expect(page.locator("#messages").get_by_text("Are you still there?")).to_be_visible()
    expect(page.locator("#thread-status")).to_have_text("Open")
