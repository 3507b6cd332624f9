"""Password reset in a real browser, with a real SMTP server catching the e-mail: ask for
a link, follow it, choose a weak password (refused in words), then a good one, and sign
in with it; the used link is refused the second time."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import expect

from tests.support.browser import register_owner, sign_in
from tests.support.env import free_port

OWNER = "owner@example.com"
NEW_PASSWORD = "a-brand-new-passphrase"


class Inbox:
    def __init__(self) -> None:
        self.mails: list[Message] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(message_from_bytes(envelope.content))
        self.arrived.set()
        return "250 OK"


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="module")
def wacc_env(smtp: tuple[Inbox, int]) -> dict[str, str]:
    return {"WACC_SMTP_HOST": "127.0.0.1", "WACC_SMTP_PORT": str(smtp[1]),
            "WACC_SMTP_SECURITY": "none"}


def test_forgot_password_link_sets_a_new_one(pages, wacc, smtp):
    inbox, _ = smtp
    register_owner(wacc)
    page, watch = pages.new()
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("E-mail").fill(OWNER)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("status").filter(has_text="reset link is on its way")).to_be_visible()

    assert inbox.arrived.wait(20), "no reset e-mail arrived"
    body = inbox.mails[-1].get_payload(decode=True).decode()
    link = re.search(r"(https?://\S+/reset/\S+)", body).group(1)
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()

    watch.expect(r"status of 400")
    page.get_by_label("New password").fill("short")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator("#reset-form .field-error")).to_be_visible()
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page).to_have_url(re.compile(r"/login$"))

    sign_in(page, OWNER, NEW_PASSWORD)
    # The same link again: used up, and the page says so in words.
    page.goto(link)
    page.get_by_label("New password").fill("yet-another-passphrase")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator("#reset-form .form-error")).to_be_visible()
    expect(page.locator("#reset-form")).to_contain_text(re.compile("expired or was already used"))
