"""AI settings in a real browser: a custom (OpenAI-compatible) provider pointing at a
fake OpenAI server that `wacc run` reaches over loopback — its Test button says OK, a
wrong key says so in words —, guardrails and prices saved, a knowledge-base article
written, uploaded and found by the search box, and a session's auto-responder saved
after an unknown prompt variable was shown next to its field."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.fakes.ai_providers import FakeOpenAI
from tests.support.ai import Served
from tests.support.browser import PASSWORD, register_owner, sign_in

OWNER = "owner@example.com"
KEY = "sk-e2e-right-key-0123456789"
WRONG = "sk-e2e-wrong-key-9876543210"


@pytest.fixture
def fake_openai(openai_fake: Served) -> FakeOpenAI:
    """The shared fake OpenAI (tests/e2e/conftest.py) with this module's key and reply."""
    fake = openai_fake.fake
    fake.key, fake.reply = KEY, "Hello from the fake."
    return fake


def _token(wacc: Any) -> dict[str, str]:
    with wacc.api() as http:
        r = http.post("/api/v1/auth/login", json={"email": OWNER, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['accessToken']}"}


def _add_provider(page: Any, name: str, url: str, key: str) -> None:
    page.get_by_role("button", name="Add a provider").click()
    dialog = page.locator("#provider-new")
    dialog.get_by_label("Type").select_option("custom")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("Model").fill("gpt-4o-mini")
    dialog.get_by_label("Base URL").fill(url)
    dialog.get_by_label("API key").fill(key)
    dialog.get_by_role("button", name="Add provider").click()
    expect(page.locator("#provider-table")).to_contain_text(name)


def test_providers_are_added_tested_reordered_and_guardrails_saved(pages, wacc, fake_openai, screenshot):
    register_owner(wacc)
    page, watch = pages.new()
    watch.expect(r"status of 400")  # the unknown prompt variable, on purpose
    sign_in(page, OWNER, then="/settings/ai")
    expect(page.get_by_text("No AI providers configured.")).to_be_visible()

    _add_provider(page, "Local", f"{fake_openai.url}/v1", KEY)
    _add_provider(page, "Wrong key", f"{fake_openai.url}/v1", WRONG)
    rows = page.locator("#provider-table tbody tr")
    expect(rows.first).to_contain_text("Local")

    page.get_by_role("button", name="Test Local").click()
    local_id = rows.first.get_attribute("data-provider-id")
    expect(page.locator(f"#test-result-{local_id}")).to_contain_text(re.compile(r"OK: answered in \d+ ms"))
    page.get_by_role("button", name="Test Wrong key").click()
    wrong_id = rows.nth(1).get_attribute("data-provider-id")
    expect(page.locator(f"#test-result-{wrong_id}")).to_contain_text("Failed: the API key was refused")
    # Each test is the provider's last check, shown at once (it said "never" until a reload).
    expect(page.locator(f"#last-check-{local_id}")).to_have_text("just now: OK")
    expect(page.locator(f"#last-check-{wrong_id}")).to_contain_text("just now: auth")
    assert fake_openai.calls("/v1/models/gpt-4o-mini")  # wacc really called the fake

    # The backup goes first; the order survives a reload.
    page.get_by_role("button", name="Move Wrong key up").click()
    expect(rows.first).to_contain_text("Wrong key")
    page.reload()
    expect(rows.first).to_contain_text("Wrong key")
    expect(rows.nth(1)).to_contain_text("Local")

    form = page.locator("#guardrails-form")
    form.get_by_label("Requests per minute").fill("9")
    form.get_by_label("Daily spend cap (USD)").fill("1.5")
    form.get_by_label("Default system prompt").fill("You help {{customer.name}}.")
    form.get_by_role("button", name="Save guardrails").click()
    expect(form.locator(".field-error")).to_contain_text("unknown variable {{customer.name}}")
    form.get_by_label("Default system prompt").fill("You help {{contact.name}} for {{org.name}}.")
    form.get_by_role("button", name="Save guardrails").click()
    expect(page.locator(".toast")).to_contain_text("Guardrails saved.")

    prices = page.locator("#prices-form")
    prices.get_by_role("button", name="Add a model price").click()
    prices.get_by_label("Model").fill("llama3.2")
    prices.get_by_label("Output USD per million tokens").fill("0.25")
    prices.get_by_role("button", name="Save prices").click()
    expect(page.locator(".toast").last).to_contain_text("Prices saved.")

    page.reload()
    expect(page.get_by_label("Requests per minute")).to_have_value("9")
    expect(page.get_by_label("Daily spend cap (USD)")).to_have_value("1.5")
    expect(page.get_by_label("Output USD per million tokens for llama3.2")).to_have_value("0.25")
    prompt = page.get_by_label("Default system prompt")
    expect(prompt).to_have_value("You help {{contact.name}} for {{org.name}}.")
    prompt.fill("")  # cleared, not kept: back to no default prompt
    page.get_by_role("button", name="Save guardrails").click()
    expect(page.locator(".toast").last).to_contain_text("Guardrails saved.")
    with wacc.api() as http:
        saved = http.get("/api/v1/ai/settings", headers=_token(wacc)).json()
    assert saved["systemPrompt"] == "" and saved["requestsPerMinute"] == 9
    assert saved["prices"]["llama3.2"] == {"input": 0, "output": 0.25}
    # The edit form never shows a key back.
    page.get_by_role("button", name="Edit Local").click()
    dialog = page.locator(f"#provider-edit-{local_id}")
    expect(dialog.get_by_label(re.compile("^API key"))).to_have_value("")
    dialog.get_by_role("button", name="Cancel").click()
    html = page.content()
    assert KEY not in html and WRONG not in html
    screenshot(page, "45-settings-ai")
    # A phone's width: the provider table folds, nothing scrolls sideways.
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_provider_form_offers_a_model_and_last_check_follows_a_test(pages, wacc, fake_openai):
    """The Model field starts as the type's everyday model with a hint (it was empty and
    required, with no hint); a test's result is the provider's last check at once and
    after a reload (it said "never"); a provider named after its type is listed once
    (it read "openai openai")."""
    page, _ = pages.new()
    sign_in(page, OWNER, then="/settings/ai")
    page.get_by_role("button", name="Add a provider").click()
    dialog = page.locator("#provider-new")
    model = dialog.get_by_label("Model")
    dialog.get_by_label("Type").select_option("openai")
    expect(model).to_have_value("gpt-4o-mini")
    expect(dialog.locator("#pn-model-hint")).to_contain_text("OpenAI's small, cheap model")
    dialog.get_by_label("Type").select_option("anthropic")
    expect(model).to_have_value("claude-3-5-haiku-latest")
    expect(dialog.locator("#pn-model-hint")).to_contain_text("Anthropic")
    dialog.get_by_label("Type").select_option("custom")
    expect(model).to_have_value("")  # a server of one's own names its models
    expect(dialog.locator("#pn-model-hint")).to_contain_text("llama3.2")
    model.fill("my-model")
    dialog.get_by_label("Type").select_option("openai")
    expect(model).to_have_value("my-model")  # what a person typed is kept
    dialog.get_by_label("Name").fill("Ollama box")
    dialog.get_by_label("Type").select_option("custom")
    model.fill("gpt-4o-mini")
    dialog.get_by_label("Base URL").fill(f"{fake_openai.url}/v1")
    dialog.get_by_label("API key").fill(KEY)
    dialog.get_by_role("button", name="Add provider").click()
    expect(page.locator("#provider-table")).to_contain_text("Ollama box")
    with wacc.api() as http:
        listed = http.get("/api/v1/ai/providers", headers=_token(wacc)).json()
        pid = next(p["id"] for p in listed if p["name"] == "Ollama box")
        r = http.post("/api/v1/ai/providers", headers=_token(wacc), json={
            "provider": "openai", "name": "OpenAI", "model": "gpt-4o-mini"})
        assert r.status_code == 201, r.text
        named_as_type = r.json()["id"]
    row = page.locator(f'tr[data-provider-id="{pid}"]')
    last = row.locator(".last-check")
    expect(last).to_have_text("never")
    page.get_by_role("button", name="Test Ollama box").click()
    expect(page.locator(f"#test-result-{pid}")).to_contain_text("OK: answered")
    expect(last).to_have_text("just now: OK")
    page.reload()
    expect(last).to_have_text("just now: OK")
    kind = row.locator('td[data-label="Provider"]')
    expect(kind).to_have_text(re.compile(r"^Ollama box\s*OpenAI-compatible"))
    # A provider named after its type: the name once, the type not again.
    cell = page.locator(f'tr[data-provider-id="{named_as_type}"] td[data-label="Provider"]')
    expect(cell).to_have_text("OpenAI")


def test_knowledge_base_article_written_uploaded_and_found(pages, wacc, fake_openai, screenshot):
    page, _ = pages.new()
    sign_in(page, OWNER, then="/settings/knowledge-base")
    expect(page.get_by_text("No articles yet.")).to_be_visible()

    page.get_by_role("button", name="New article").click()
    dialog = page.locator("#kb-new")
    dialog.get_by_label("Title").fill("Opening hours")
    dialog.get_by_label("Content").fill(
        "# Opening hours\n\nWe are open Monday to Friday from nine to five.\n\n"
        "## Parking\n\nParking is free in the courtyard behind the shop.")
    dialog.get_by_role("button", name="Create article").click()
    expect(page.locator("#kb-articles")).to_contain_text("Opening hours")

    page.get_by_role("button", name="Upload a file").click()
    upload = page.locator("#kb-upload")
    upload.get_by_label(re.compile("^File")).set_input_files(files=[{
        "name": "returns.md", "mimeType": "text/markdown",
        "buffer": b"# Returns policy\n\nYou can return any item within 30 days.\n"}])
    upload.get_by_role("button", name="Upload").click()
    expect(page.locator("#kb-articles")).to_contain_text("Returns policy")
    expect(page.locator("#kb-articles")).to_contain_text("from returns.md")

    page.get_by_label("Question").fill("Is parking free?")
    page.get_by_role("button", name="Search").click()
    results = page.locator("#kb-results")
    expect(results).to_contain_text("Parking is free in the courtyard")
    expect(results.locator("li").first).to_contain_text("Opening hours")
    expect(results).not_to_contain_text("Returns policy")
    screenshot(page, "46-knowledge-base")


def test_session_auto_responder_shows_a_bad_prompt_then_saves(pages, wacc, fake_openai, screenshot):
    head = _token(wacc)
    with wacc.api() as http:
        r = http.post("/api/v1/whatsapp/sessions", headers=head,
                      json={"name": "Front desk", "engine": "simulator"})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]

    page, watch = pages.new()
    watch.expect(r"status of 400")  # the unknown prompt variable, on purpose
    sign_in(page, OWNER, then=f"/sessions/{sid}")
    panel = page.locator(".ai-responder")
    expect(panel.get_by_label("Answer customers automatically")).not_to_be_checked()

    panel.get_by_label("Answer customers automatically").check()
    panel.get_by_label("Only during business hours").check()
    panel.get_by_label("Time zone").select_option("Europe/Berlin")
    panel.get_by_label("Monday").fill("09:00-12:30, 13:30-17:00")
    panel.get_by_label("Tuesday").fill("nine to five")
    panel.get_by_role("button", name="Save auto-responder").click()
    expect(panel.locator(".field-error")).to_contain_text("is not a span like 09:00-17:00")
    panel.get_by_label("Tuesday").fill("09:00-17:00")

    panel.get_by_label(re.compile("^System prompt")).fill("Greet {{customer.first_name}} warmly.")
    panel.get_by_label(re.compile("^Hand-off keywords")).fill("refund, manager")
    panel.get_by_label(re.compile("^Hand-off message")).fill("A colleague will answer shortly.")
    panel.get_by_role("button", name="Save auto-responder").click()
    prompt = panel.get_by_label(re.compile("^System prompt"))
    expect(prompt).to_have_attribute("aria-invalid", "true")
    expect(panel.locator(".field-error")).to_contain_text("unknown variable {{customer.first_name}}")

    prompt.fill("Greet {{contact.name}} warmly, on behalf of {{org.name}}.")
    panel.get_by_role("button", name="Save auto-responder").click()
    expect(page.locator(".toast")).to_contain_text("Auto-responder saved.")
    with wacc.api() as http:
        saved = http.get(f"/api/v1/whatsapp/sessions/{sid}/ai-responder", headers=head).json()
    assert saved["enabled"] is True
    assert saved["systemPrompt"] == "Greet {{contact.name}} warmly, on behalf of {{org.name}}."
    assert saved["businessHours"] == {"timezone": "Europe/Berlin", "days": {
        "mon": [["09:00", "12:30"], ["13:30", "17:00"]], "tue": [["09:00", "17:00"]]}}
    assert saved["handoffKeywords"] == ["refund", "manager"]
    assert saved["handoffMessage"] == "A colleague will answer shortly."

    page.reload()
    expect(panel.get_by_label("Monday")).to_have_value("09:00-12:30, 13:30-17:00")
    panel.scroll_into_view_if_needed()
    screenshot(page, "47-ai-responder")
