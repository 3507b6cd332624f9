"""The first hour of a new user, the items of issue 16 a person only sees in a browser:
the empty inbox points to the customer phone, the customer phone attaches a file that
arrives as a media message, times of day read the same on both sides, a conversation
that ends with an image opens at its newest message, and at a phone's width the tables
keep their labels while the thread keeps room for messages."""

from __future__ import annotations

import re
import struct
import time
import zlib
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.support.browser import connected_simulator, register_owner, sign_in, until

OWNER = "owner@example.com"
CUSTOMER = "+14155550188"
PHONE = {"width": 375, "height": 812}
state: dict[str, Any] = {}


def png(width: int, height: int) -> bytes:
    """A plain PNG of that size (a tall one makes an image message tall)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"\x2a\x8c\x5e" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _head() -> dict[str, str]:
    return state["head"]  # type: ignore[no-any-return]


def test_empty_inbox_points_to_connecting_then_to_the_customer_phone(pages, wacc):
    tokens = register_owner(wacc)
    state["head"] = {"Authorization": f"Bearer {tokens['accessToken']}"}
    state["org"] = tokens["user"]["organizationId"]
    page, _ = pages.new()
    sign_in(page, OWNER)
    hint = page.locator("#inbox-first-steps")
    connect = hint.get_by_role("link", name="Connect a WhatsApp number")
    expect(connect).to_have_attribute("href", "/sessions/new")

    with wacc.api() as http:
        state["sid"] = connected_simulator(http, _head())
    page.reload()
    link = hint.get_by_role("link", name="write as a customer")
    expect(link).to_have_attribute("href", f"/simulator/{state['sid']}")
    expect(hint).to_contain_text("Front desk")
    link.click()
    expect(page.get_by_role("heading", name="Customer phone")).to_be_visible()


def test_customer_phone_attaches_a_file_and_both_sides_tell_the_same_time(pages, wacc, screenshot):
    # The organization keeps time in India (UTC+5:30): a time shown in UTC on one side or
    # in the browser's zone and 12-hour style ("2:05 PM") on the other would differ.
    with wacc.api() as http:
        r = http.patch(f"/api/v1/organizations/{state['org']}", headers=_head(),
                       json={"settings": {"timezone": "Asia/Kolkata"}})
        assert r.status_code == 200, r.text
    phone, _ = pages.new()
    sign_in(phone, OWNER, then=f"/simulator/{state['sid']}")
    phone.get_by_label("Customer's phone number").fill(CUSTOMER)
    phone.get_by_label("Customer's name").fill("Pia Photo")
    phone.get_by_role("button", name="Be this customer").click()
    for n in range(12):  # enough to fill the thread, so the image opens below them
        phone.get_by_label("Message to the business").fill(f"Message number {n}")
        phone.get_by_role("button", name="Send").click()
        expect(phone.locator(".bubble.mine").nth(n)).not_to_contain_text("sending")
    phone.get_by_label("Message to the business").fill("Here is the receipt")
    phone.get_by_label("Attach a photo or document").set_input_files(files=[{
        "name": "receipt.png", "mimeType": "image/png", "buffer": png(240, 480)}])
    mine = phone.locator(".bubble.mine").last
    expect(mine).to_contain_text("receipt.png")
    expect(mine).to_contain_text("Here is the receipt")
    expect(mine).not_to_contain_text("sending")
    expect(mine).not_to_contain_text("not sent")
    phone_time = mine.locator(".bubble-meta").inner_text().split(" · ")[0]
    assert re.fullmatch(r"\d{2}:\d{2}", phone_time), phone_time
    screenshot(phone, "first-hour-simulator-attach")

    # The agent sees it as an image message (its file fetched from the engine).
    with wacc.api() as http:
        def conversation() -> str | None:
            r = http.get("/api/v1/conversations", headers=_head())
            found = [c for c in r.json()["items"] if c["contact"]["phone"] == CUSTOMER]
            return found[0]["id"] if found else None
        cid = until(conversation)

        def image_stored() -> bool:
            r = http.get(f"/api/v1/conversations/{cid}/messages", headers=_head())
            return any(m["type"] == "IMAGE" and m.get("mediaUrl") for m in r.json()["items"])
        until(image_stored)
    state["cid"] = cid

    agent, _ = pages.new()
    sign_in(agent, OWNER, then=f"/inbox/{cid}")
    last = agent.locator("#messages .item").last
    expect(last.locator("img.media")).to_be_visible()
    expect(last).to_contain_text("Here is the receipt")
    # One clock everywhere: the inbox says the same HH:MM as the customer phone.
    expect(last.locator(".meta time")).to_have_text(phone_time)


AT_END = """() => {
    const box = document.getElementById('messages');
    const img = [...box.querySelectorAll('.item')].pop()?.querySelector('img.media');
    return img && img.complete && img.naturalHeight > 0
        && box.scrollHeight - box.scrollTop - box.clientHeight < 4;
}"""


def _at_end(page: Any) -> None:
    """Wait until the last message's image has loaded and the thread shows its end."""
    try:
        page.wait_for_function(AT_END, timeout=10_000, polling=100)
    except PlaywrightTimeout:
        where = page.evaluate("""() => { const b = document.getElementById('messages');
            return {scrollHeight: b.scrollHeight, scrollTop: b.scrollTop, clientHeight: b.clientHeight,
                    images: [...b.querySelectorAll('img')].map(i => [i.complete, i.naturalHeight])}; }""")
        raise AssertionError(f"the thread is not at its newest message: {where}") from None


def test_a_thread_ending_with_an_image_opens_at_its_newest_message(pages, wacc, screenshot):
    page, _ = pages.new()
    sign_in(page, OWNER)
    # Slow the image down: the thread is shown and scrolled before it arrives.
    page.route("**/ui/inbox/media/**", lambda route: (time.sleep(0.8), route.continue_()))
    page.goto(f"/inbox/{state['cid']}")
    image = page.locator("#messages .item").last.locator("img.media")
    image.wait_for()
    page.wait_for_function("img => img.complete && img.naturalHeight > 0", arg=image.element_handle())
    _at_end(page)
    box = page.locator("#messages").bounding_box()
    last = page.locator("#messages .item").last.bounding_box()
    assert box and last and last["y"] + last["height"] <= box["y"] + box["height"] + 1, (box, last)
    screenshot(page, "first-hour-thread-image")


def _label_of(cell: Any) -> str:
    return str(cell.evaluate("td => getComputedStyle(td, '::before').content"))


def test_phone_width_tables_keep_labels_and_the_thread_keeps_room(pages, wacc, screenshot):
    with wacc.api() as http:
        r = http.post("/api/v1/ai/providers", headers=_head(), json={
            "provider": "openai", "name": "openai", "model": "gpt-4o-mini", "apiKey": "sk-test-0123456789"})
        assert r.status_code == 201, r.text
    desktop, _ = pages.new()
    sign_in(desktop, OWNER, then="/team")
    screenshot(desktop, "first-hour-team-desktop")
    desktop.goto("/settings/ai")
    screenshot(desktop, "first-hour-ai-desktop")
    desktop.goto(f"/inbox/{state['cid']}")
    screenshot(desktop, "first-hour-thread-desktop")

    page, _ = pages.new(viewport=PHONE)
    sign_in(page, OWNER, then="/team")
    row = page.locator("table.members tbody tr").first
    expect(row).to_contain_text(OWNER)
    for label in ("E-mail", "Role", "Status", "Two-factor", "Last sign-in"):
        assert _label_of(row.locator(f'td[data-label="{label}"]')) == f'"{label}: "', label
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "first-hour-team-phone")

    page.goto("/settings/ai")
    row = page.locator("#provider-table tbody tr").first
    for label in ("Model", "Key", "Status", "Last check"):
        assert _label_of(row.locator(f'td[data-label="{label}"]')) == f'"{label}: "', label
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "first-hour-ai-phone")

    page.goto(f"/inbox/{state['cid']}")
    messages = page.locator("#messages")
    expect(messages.locator(".item").last).to_be_visible()
    _at_end(page)
    screenshot(page, "first-hour-thread-phone")
    height = messages.bounding_box()["height"]
    assert height >= 400, f"the thread leaves {height:.0f} px for messages at 375x812"
    composer = page.get_by_role("textbox", name="Message")
    expect(composer).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
