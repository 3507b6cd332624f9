"""Starting a conversation in a real browser against `wacc run` with the simulator playing
the customer: "Send message" on a contact's page sends the first message, the inbox
opens on the conversation and the customer's phone receives it; "New conversation" in
the inbox does the same for a phone number that is not a contact yet, and a bad number
is refused in words without leaving the dialog."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.support.browser import connected_simulator, register_owner, sign_in, until

CONTACT = "+14155550188"
STRANGER = "+14155550199"


def _outbox(wacc: Any, head: dict[str, str], sid: str, phone: str) -> list[str]:
    with wacc.api() as http:
        r = http.get(f"/api/v1/whatsapp/sessions/{sid}/simulator/outbox", headers=head,
                     params={"to": phone})
        assert r.status_code == 200, r.text
        return [m.get("body") for m in r.json()]


def test_send_message_from_a_contact_and_new_conversation_from_the_inbox(pages, wacc,
                                                                         screenshot):
    tokens = register_owner(wacc)
    head = {"Authorization": f"Bearer {tokens['accessToken']}"}
    with wacc.api() as http:
        sid = connected_simulator(http, head)
        r = http.post("/api/v1/contacts", headers=head,
                      json={"phoneNumber": CONTACT, "name": "Nora Neumann"})
        assert r.status_code == 201, r.text
        contact_id = r.json()["id"]
    page, watch = pages.new()
    sign_in(page, "owner@example.com")

    # A contact's page: "Send message".
    page.goto(f"/contacts/{contact_id}")
    page.get_by_role("button", name="Send message").click()
    dialog = page.locator("#start-conversation")
    expect(dialog.get_by_role("heading", name="Send a message to Nora Neumann")).to_be_visible()
    dialog.get_by_label("Your message").fill("Hello Nora, your order has shipped.")
    screenshot(page, "contact-send-message")
    dialog.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/inbox/[\w-]+$"))
    expect(page.locator("#thread-pane")).to_contain_text("Hello Nora, your order has shipped.")
    until(lambda: _outbox(wacc, head, sid, CONTACT) == ["Hello Nora, your order has shipped."])
    first = page.url

    # Again from the contact: the open conversation is reused, not duplicated.
    page.goto(f"/contacts/{contact_id}")
    page.get_by_role("button", name="Send message").click()
    page.locator("#start-conversation").get_by_label("Your message").fill("Tracking: 1Z999")
    page.locator("#start-conversation").get_by_role("button", name="Send").click()
    page.wait_for_url(first)
    until(lambda: len(_outbox(wacc, head, sid, CONTACT)) == 2)

    # The inbox: "New conversation" to a number that is no contact yet.
    page.goto("/inbox")
    page.get_by_role("button", name="New conversation").click()
    dialog = page.locator("#start-conversation")
    watch.expect(r"400")  # the refused number below, reported in the form
    dialog.get_by_label("Phone number").fill("12345")
    dialog.get_by_label("Your message").fill("Hi there")
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.locator(".field-error")).to_contain_text("not a valid phone number")
    assert page.url.endswith("/inbox")
    dialog.get_by_label("Phone number").fill(STRANGER)
    dialog.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/inbox/[\w-]+$"))
    assert page.url != first
    expect(page.locator("#thread-pane")).to_contain_text("Hi there")
    until(lambda: _outbox(wacc, head, sid, STRANGER) == ["Hi there"])
