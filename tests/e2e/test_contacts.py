"""Contacts in a real browser: create one (a bad phone number first), edit its fields and
tags, search the list, import a CSV with a column mapping and follow its progress, and
merge two contacts."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support.browser import PASSWORD, register_owner, sign_in

OWNER = "owner@example.com"


def _api(wacc, token: str, method: str, path: str, **kwargs):
    with wacc.api() as http:
        response = http.request(method, f"/api/v1{path}",
                                headers={"Authorization": f"Bearer {token}"}, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def _owner_token(wacc) -> str:
    with wacc.api() as http:
        r = http.post("/api/v1/auth/login", json={"email": OWNER, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return r.json()["accessToken"]


def test_create_edit_and_tag_a_contact(pages, wacc, screenshot):
    token = register_owner(wacc)["accessToken"]
    _api(wacc, token, "POST", "/tags", json={"name": "VIP"})
    _api(wacc, token, "POST", "/custom-fields",
         json={"name": "Plan", "key": "plan", "type": "SELECT", "options": ["free", "pro"]})
    page, watch = pages.new()
    sign_in(page, OWNER, then="/contacts")
    expect(page.get_by_text("No contacts yet")).to_be_visible()

    # A phone number that is none: the API's field error shows under the field, in words.
    watch.expect(r"status of 400")
    page.get_by_role("button", name="New contact").click()
    dialog = page.locator("#new-contact")
    dialog.get_by_label("Phone number").fill("call me maybe")
    dialog.get_by_label("Name").fill("Hanna Schmidt")
    dialog.get_by_role("button", name="Create contact").click()
    error = dialog.locator(".field-error")
    expect(error).to_contain_text("not a phone number")
    expect(dialog.get_by_label("Phone number")).to_have_attribute("aria-invalid", "true")
    dialog.get_by_label("Phone number").fill("+49 30 1234567")
    dialog.get_by_role("button", name="Create contact").click()
    expect(page).to_have_url(re.compile(r"/contacts/[\w-]+$"))
    expect(page.get_by_role("heading", name="Hanna Schmidt")).to_be_visible()
    expect(page.get_by_label("Phone number")).to_have_value("+49301234567")

    # Edit a field and a custom field, add a tag; all of it is there after a reload.
    page.get_by_label("Name").fill("Hanna Schmidt-Meyer")
    page.get_by_label("Plan").select_option("pro")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", name="Hanna Schmidt-Meyer")).to_be_visible()
    page.get_by_label("Tag to add").select_option(label="VIP")
    page.get_by_role("button", name="Add tag").click()
    expect(page.get_by_role("button", name="Remove tag VIP")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Name")).to_have_value("Hanna Schmidt-Meyer")
    expect(page.get_by_label("Plan")).to_have_value("pro")
    expect(page.locator(".tag-list .tag")).to_have_text(["VIP"])
    screenshot(page, "31-contact-detail")

    # The list: typing searches as you type; the export link follows the search.
    _api(wacc, token, "POST", "/contacts", json={"phoneNumber": "+4930765432", "name": "Otto Other"})
    page.goto("/contacts")
    expect(page.locator("#contact-rows .contact-link")).to_have_count(2)
    page.get_by_label("Search").press_sequentially("hanna")
    expect(page.locator("#contact-rows .contact-link")).to_have_count(1)
    expect(page.locator("#contact-rows")).to_contain_text("Hanna Schmidt-Meyer")
    expect(page.locator("#contact-rows")).to_contain_text("VIP")
    expect(page).to_have_url(re.compile(r"/contacts\?search=hanna$"))
    expect(page.get_by_role("link", name="Export CSV")).to_have_attribute(
        "href", "/api/v1/contacts/export?search=hanna")
    page.get_by_label("Search").fill("")
    expect(page.locator("#contact-rows .contact-link")).to_have_count(2)
    screenshot(page, "30-contacts")


def test_csv_import_with_a_mapping_shows_progress_counts_and_errors(pages, wacc, screenshot):
    lines = ["Mobile Number,Full Name,Plan,Favourite colour"]
    for i in range(300):
        phone = "not-a-number" if i % 60 == 7 else f"+4915112{i:05d}"
        plan = "gold" if i == 100 else ("pro" if i % 2 else "free")
        lines.append(f"{phone},Imported Person {i},{plan},blue")
    csv = ("\n".join(lines) + "\n").encode()
    bad = sum(1 for i in range(300) if i % 60 == 7) + 1

    page, _ = pages.new()
    # Record the live events the page receives: the bar follows them (polling is only
    # the fallback), so the test checks they arrive.
    # (The page's CSP refuses eval, so they are written to an attribute, not polled.)
    page.add_init_script(
        "const seen = (what) => { const html = document.documentElement;"
        " html.dataset.live = `${html.dataset.live || ''} ${what}`; };"
        "document.addEventListener('live:connected', () => seen('connected'));"
        "document.addEventListener('live:import:progress', (e) => seen(e.detail.status));")
    sign_in(page, OWNER, then="/contacts")
    page.goto("/contacts/import")
    live = page.locator("html")
    expect(live).to_have_attribute("data-live", re.compile("connected"))
    recent = page.locator("#recent-imports")
    expect(recent).to_contain_text("No imports yet")
    page.set_input_files("#import-file", files=[
        {"name": "people.csv", "mimeType": "text/csv", "buffer": csv}])
    expect(page.locator("#mapping-rows tr")).to_have_count(4)
    expect(page.get_by_label("Field for column Full Name")).to_have_value("name")
    expect(page.get_by_label("Field for column Plan")).to_have_value("custom.plan")
    expect(page.get_by_label("Field for column Favourite colour")).to_have_value("")
    page.get_by_label("Field for column Mobile Number").select_option("phone")
    page.get_by_role("button", name="Import contacts").click()

    bar = page.locator("#import-bar")
    expect(bar).to_be_visible()
    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=60_000)
    expect(page.locator('[data-count="created"]')).to_have_text(str(300 - bad))
    expect(page.locator('[data-count="failed"]')).to_have_text(str(bad))
    expect(page.locator('[data-count="skipped"]')).to_have_text("0")
    expect(page.get_by_role("heading", name="Import finished")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="300 rows read")).to_be_visible()
    # The recent imports list shows this one without a reload (it said "No imports yet").
    expect(recent.locator("tbody tr", has_text="people.csv")).to_contain_text("Done")
    expect(recent).not_to_contain_text("No imports yet")
    # 300 rows are one batch of the job: its only event is the last one (DONE).
    expect(live).to_have_attribute("data-live", re.compile("connected.* DONE"))
    link = page.get_by_role("link", name="Download the error report (CSV)")
    expect(link).to_be_visible()
    report = page.request.get(link.get_attribute("href"))
    assert report.status == 200
    text = report.text()
    assert "not-a-number" in text and "gold" in text
    screenshot(page, "32-contacts-import")

    page.goto("/contacts?search=Imported")
    expect(page.locator("#contact-rows .contact-link")).to_have_count(25)
    expect(page.get_by_role("button", name="Load more contacts")).to_be_visible()


def test_merge_two_contacts_then_delete(pages, wacc):
    token = _owner_token(wacc)
    keep = _api(wacc, token, "POST", "/contacts", json={"phoneNumber": "+4930700001", "name": "Ivy Keep"})
    drop = _api(wacc, token, "POST", "/contacts",
                json={"phoneNumber": "+4930700002", "name": "Ivy Duplicate", "email": "ivy@example.com"})
    vip = next(t for t in _api(wacc, token, "GET", "/tags") if t["name"] == "VIP")
    _api(wacc, token, "POST", f"/contacts/{drop['id']}/tags", json={"tagId": vip["id"]})

    page, _ = pages.new()
    sign_in(page, OWNER, then="/contacts")
    page.goto(f"/contacts/{keep['id']}")
    page.get_by_role("button", name="Merge…").click()
    dialog = page.locator("#merge-contact")
    dialog.get_by_label("Find the other contact").press_sequentially("duplicate")
    choice = dialog.get_by_label(re.compile("Ivy Duplicate"))
    expect(choice).to_be_visible()
    choice.check()
    page.once("dialog", lambda d: d.accept())
    dialog.get_by_role("button", name="Merge", exact=True).click()
    expect(page.locator(".tag-list .tag")).to_have_text(["VIP"])
    expect(page).to_have_url(re.compile(rf"/contacts/{keep['id']}$"))
    expect(page.get_by_label("E-mail")).to_have_value("ivy@example.com")
    with wacc.api() as http:
        gone = http.get(f"/api/v1/contacts/{drop['id']}", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 404

    # Deleting asks first, then lands on the list without the contact.
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/contacts$"))
    expect(page.locator("#contact-rows")).not_to_contain_text("Ivy Keep")
