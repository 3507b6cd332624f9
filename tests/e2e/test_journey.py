"""Issue 5's "done when", as one person would live it: a new user opens wacc, goes
through the wizard, talks to themselves through the simulator's customer phone, and
works the inbox with a teammate in a second browser who sees every change live; then
edits the contact and imports a CSV, watching its progress."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support.browser import PASSWORD

OWNER, MATE = "olivia@example.com", "alex@example.com"
CUSTOMER = "+14155550199"
SLOW = 20_000


def test_a_new_user_from_the_wizard_to_a_shared_inbox(pages, wacc, screenshot):
    # The wizard: the owner and the organization, then a simulator session.
    page, _ = pages.new()
    page.goto("/")
    page.get_by_label("Organization name").fill("Bike Shop")
    page.get_by_label("Your name").fill("Olivia Owner")
    page.get_by_label("E-mail").fill(OWNER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create organization").click()
    expect(page).to_have_url(re.compile(r"/setup/session$"))
    page.get_by_role("radio", name=re.compile("Simulator")).check()
    page.get_by_label("Session name").fill("Shop phone")
    page.get_by_role("button", name="Create session").click()
    page.get_by_role("button", name="Scan with the simulated phone").click(timeout=SLOW)
    expect(page.locator(".connect-state .badge")).to_have_text("Connected", timeout=SLOW)
    page.get_by_role("link", name="Done").click()
    expect(page).to_have_url(re.compile(r"/inbox$"))

    # A teammate joins through an invite link, in a second browser.
    page.goto("/team")
    page.get_by_role("button", name="Invite a teammate").click()
    dialog = page.locator("#invite-dialog")
    dialog.get_by_label("E-mail").fill(MATE)
    dialog.get_by_label("Name").fill("Alex Agent")
    dialog.get_by_label("Role").select_option("AGENT")
    dialog.get_by_role("button", name="Send invite").click()
    link = dialog.get_by_label("Invite link")
    expect(link).to_have_value(re.compile(r"/invite/[\w-]+$"))
    invite_url = link.input_value()
    dialog.get_by_role("button", name="Done").click()
    mate, _ = pages.new()
    mate.goto(invite_url)
    mate.get_by_label("Choose a password").fill(PASSWORD)
    mate.get_by_role("button", name="Join").click()
    expect(mate).to_have_url(re.compile(r"/inbox$"))

    # The owner plays the customer on the simulator's phone, in another tab.
    page.goto("/inbox")
    phone = page.context.new_page()
    pages.watch(phone)
    phone.goto("/sessions")
    phone.locator("tr", has_text="Shop phone").get_by_role(
        "link", name="Open customer phone").click()
    phone.get_by_label("Customer's phone number").fill(CUSTOMER)
    phone.get_by_label("Customer's name").fill("Carla Customer")
    phone.get_by_role("button", name="Be this customer").click()
    phone.get_by_label("Message to the business").fill("Hi, where is my new bike?")
    phone.get_by_role("button", name="Send").click()

    # It appears live in both inboxes, without a reload.
    row = page.locator(".conversation-row", has_text="Carla Customer")
    expect(row).to_be_visible(timeout=SLOW)
    expect(mate.locator(".conversation-row", has_text="Carla Customer")).to_be_visible(
        timeout=SLOW)
    row.locator("a").click()
    thread = page.locator("#messages")
    expect(thread.get_by_text("Hi, where is my new bike?")).to_be_visible()
    mate.locator(".conversation-row", has_text="Carla Customer").locator("a").click()

    # The owner replies; the customer's phone shows it; reading it turns the ticks blue.
    box = page.get_by_label("Message", exact=True)
    box.fill("It ships today, Carla.")
    box.press("Enter")
    sent = thread.locator(".bubble.outbound", has_text="It ships today, Carla.")
    expect(sent).to_be_visible()
    expect(phone.locator(".bubble.theirs", has_text="It ships today, Carla.")).to_be_visible(
        timeout=SLOW)
    phone.get_by_role("button", name="Mark replies as read").click()
    expect(sent.locator(".ack-read")).to_be_visible(timeout=SLOW)
    expect(mate.locator(".bubble.outbound", has_text="It ships today, Carla.")).to_be_visible()

    # Assign, note, tag and resolve; the teammate sees each change live.
    page.get_by_role("button", name="Assign to me").click()
    expect(mate.locator("#thread-header")).to_contain_text("Assigned to Olivia Owner")
    page.get_by_role("switch", name="Note").check()
    box.fill("Frame size 56, check stock")
    box.press("Enter")
    expect(mate.locator(".note", has_text="Frame size 56, check stock")).to_be_visible()
    page.goto("/settings/tags")
    page.get_by_label("Name", exact=True).fill("delivery")
    page.get_by_role("button", name=re.compile("^(Create|Add) tag")).click()
    expect(page.locator("main")).to_contain_text("delivery")
    page.go_back()
    page.get_by_label("Add a tag to the conversation").select_option(label="delivery")
    expect(mate.locator(".conversation-row", has_text="Carla Customer")
           .locator(".tag")).to_have_text("delivery")
    screenshot(page, "02-journey-inbox")
    page.get_by_role("button", name="Resolve").click()
    expect(mate.locator("#thread-status")).to_have_text("Resolved")

    # The contact: edit the name on its page.
    page.get_by_role("link", name=re.compile("Open contact|Carla Customer")).first.click()
    expect(page).to_have_url(re.compile(r"/contacts/[\w-]+$"))
    page.get_by_label("Name").fill("Carla Cyclist")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", name="Carla Cyclist")).to_be_visible()

    # A CSV import, with its progress to the end.
    rows = ["phone,name"] + [f"+4915113{i:05d},Rider {i}" for i in range(40)] + ["nope,Broken"]
    page.goto("/contacts/import")
    page.set_input_files("#import-file", files=[{
        "name": "riders.csv", "mimeType": "text/csv", "buffer": ("\n".join(rows) + "\n").encode()}])
    page.get_by_label("Field for column phone").select_option("phone")
    page.get_by_role("button", name="Import contacts").click()
    expect(page.locator("#import-bar")).to_have_attribute("aria-valuenow", "100", timeout=60_000)
    expect(page.locator('[data-count="created"]')).to_have_text("40")
    expect(page.locator('[data-count="failed"]')).to_have_text("1")
