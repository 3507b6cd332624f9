"""Agent assist in the inbox, in a real browser against `wacc run`: the composer's AI tools
ask a fake OpenAI (tests/fakes/ai_providers.py, served over HTTP on 127.0.0.1 from a
thread of this test process) for a suggested reply, a summary and a rewrite; nothing is
sent until the agent sends; Undo restores the draft; a failing provider is an error in
words while the tools show that they are busy."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.support.browser import (
    accessibility_problems,
    connected_simulator,
    register_owner,
    sign_in,
    until,
)

CUSTOMER = "+14155550123"


def _setup(wacc: Any) -> dict[str, Any]:
    """Owner and a connected simulator session whose customer asked a question."""
    tokens = register_owner(wacc)
    head = {"Authorization": f"Bearer {tokens['accessToken']}"}
    with wacc.api() as http:
        sid = connected_simulator(http, head)
        r = http.post(f"/api/v1/whatsapp/sessions/{sid}/simulator", headers=head, json={
            "action": "message", "payload": {"phone": CUSTOMER, "id": "C1", "name": "Carla Customer",
                                             "body": "How much is a brake repair?"}})
        assert r.status_code == 200, r.text
    return {"head": head, "sid": sid}


def _outbox(wacc: Any, state: dict[str, Any]) -> list[str]:
    with wacc.api() as http:
        r = http.get(f"/api/v1/whatsapp/sessions/{state['sid']}/simulator/outbox",
                     headers=state["head"], params={"to": CUSTOMER})
        return [m.get("body") for m in r.json()]


def test_suggest_summarise_rewrite_undo_and_a_failure_in_words(pages, wacc, openai_fake, screenshot):
    fake = openai_fake.fake
    state = _setup(wacc)
    page, watch = pages.new()
    sign_in(page, "owner@example.com")
    page.goto("/inbox")
    page.locator(".conversation-row", has_text="Carla Customer").locator("a").click()
    box = page.get_by_label("Message", exact=True)
    expect(box).to_be_visible()

    # No provider yet: the owner is pointed at the AI settings, and there are no tools.
    expect(page.get_by_role("link", name="set one up in Settings → AI")).to_have_attribute(
        "href", "/settings/ai")
    expect(page.get_by_role("button", name="Suggest a reply")).to_have_count(0)
    with wacc.api() as http:
        r = http.post("/api/v1/ai/providers", headers=state["head"], json={
            "provider": "openai", "model": "gpt-4o-mini", "apiKey": fake.key,
            "baseUrl": fake.url + "/v1", "timeoutSeconds": 10})
        assert r.status_code == 201, r.text
    page.reload()
    tools = page.get_by_role("group", name="AI assist")
    expect(tools).to_be_visible()
    expect(page.get_by_role("link", name="set one up in Settings → AI")).to_have_count(0)

    # Suggest (from the keyboard): the draft lands in the message box and is not sent.
    fake.reply = "A brake repair costs 25 euros and takes one day."
    page.get_by_role("button", name="Suggest a reply").focus()
    page.keyboard.press("Enter")
    expect(box).to_have_value("A brake repair costs 25 euros and takes one day.")
    expect(box).to_be_focused()
    expect(page.locator("#assist-status")).to_contain_text("edit it, then send")
    assert "How much is a brake repair?" in str(fake.calls("/chat/completions")[-1].json)
    assert _outbox(wacc, state) == []

    # Summarise: the model's words shown as text above the composer, markup included.
    fake.reply = "- Carla asks what a brake repair costs.\n- <b>Nothing</b> promised yet."
    page.get_by_role("button", name="Summarise").click()
    summary = page.get_by_role("region", name="Conversation summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("- <b>Nothing</b> promised yet.")
    expect(summary.locator("b")).to_have_count(0)
    expect(page.get_by_role("button", name="Summarise")).to_have_attribute("aria-expanded", "true")
    screenshot(page, "23-inbox-assist")
    page.keyboard.press("Escape")  # focus is on the summary
    expect(summary).to_be_hidden()
    expect(page.get_by_role("button", name="Summarise")).to_be_focused()
    page.get_by_role("button", name="Summarise").click()
    expect(summary).to_be_visible()
    page.get_by_role("button", name="Close the summary").click()
    expect(summary).to_be_hidden()

    # Rewrite the agent's own draft in a tone; Undo puts it back.
    box.fill("its 25 bucks, ready tomorrow")
    page.get_by_label("Tone of the rewrite").select_option(label="Formal")
    fake.reply = "Dear Carla, the repair costs 25 euros and will be ready tomorrow."
    page.get_by_role("button", name="Rewrite").click()
    expect(box).to_have_value("Dear Carla, the repair costs 25 euros and will be ready tomorrow.")
    asked = str(fake.calls("/chat/completions")[-1].json)
    assert "formal, polite" in asked and "its 25 bucks, ready tomorrow" in asked
    page.get_by_role("button", name="Undo").click()
    expect(box).to_have_value("its 25 bucks, ready tomorrow")
    expect(page.get_by_role("button", name="Undo")).to_be_hidden()
    page.get_by_role("button", name="Rewrite").click()
    expect(box).to_have_value("Dear Carla, the repair costs 25 euros and will be ready tomorrow.")

    # The agent sends it: only now does the customer get anything.
    box.press("Enter")
    expect(page.locator(".bubble.outbound", has_text="will be ready tomorrow")).to_be_visible()
    expect(page.get_by_role("button", name="Undo")).to_be_hidden()
    sent = ["Dear Carla, the repair costs 25 euros and will be ready tomorrow."]
    until(lambda: _outbox(wacc, state) == sent)

    # Nothing to rewrite: said in words, no model call.
    calls = len(fake.calls("/chat/completions"))
    page.get_by_role("button", name="Rewrite").click()
    error = page.locator("#composer .form-error")
    expect(error).to_have_text("Write a draft in the message box first, then rewrite it.")
    assert len(fake.calls("/chat/completions")) == calls

    # The provider hangs, then fails: the tools show they are busy, then the reason. (A
    # rewrite, since a suggestion asks the fake for embeddings first.)
    watch.expect(r"status of 503")
    fake.hang_next()
    box.fill("my draft")
    page.get_by_role("button", name="Rewrite").click()
    expect(tools).to_have_attribute("aria-busy", "true")
    expect(page.get_by_role("button", name="Suggest a reply")).to_be_disabled()
    expect(page.locator("#assist-status")).to_have_text("Rewriting your draft…")
    expect(box).to_have_attribute("readonly", "")
    expect(error).to_be_hidden()
    box.press("Enter")  # the draft being rewritten is not sent meanwhile
    openai_fake.call(fake._release.set)  # the hung request now gets the fake's 500
    expect(error).to_have_text(re.compile(r"^Could not rewrite the draft\. The AI providers did not answer"))
    expect(error).not_to_contain_text("{")
    expect(tools).to_have_attribute("aria-busy", "false")
    expect(page.get_by_role("button", name="Suggest a reply")).to_be_enabled()
    expect(box).not_to_have_attribute("readonly", "")
    expect(box).to_have_value("my draft")
    expect(page.locator(".bubble.outbound")).to_have_count(1)
    assert _outbox(wacc, state) == sent

    # The daily spend cap reached (429), then no enabled provider left (409), in words.
    watch.expect(r"status of 429")
    watch.expect(r"status of 409")
    with wacc.api() as http:
        r = http.patch("/api/v1/ai/settings", headers=state["head"], json={"dailySpendCapUsd": 0})
        assert r.status_code == 200, r.text
    page.get_by_role("button", name="Summarise").click()
    expect(error).to_have_text("Could not summarise the conversation. "
                               "The organization's daily AI spend cap is reached.")
    with wacc.api() as http:
        provider = http.get("/api/v1/ai/providers", headers=state["head"]).json()[0]
        r = http.patch(f"/api/v1/ai/providers/{provider['id']}", headers=state["head"],
                       json={"enabled": False})
        assert r.status_code == 200, r.text
    page.get_by_role("button", name="Rewrite").click()
    expect(error).to_have_text(re.compile(r"^Could not rewrite the draft\. No AI provider is set up"))
    expect(box).to_have_value("my draft")
    with wacc.api() as http:
        r = http.patch(f"/api/v1/ai/providers/{provider['id']}", headers=state["head"],
                       json={"enabled": True})
        assert r.status_code == 200, r.text

    # On a phone the tools wrap inside the screen and stay usable.
    phone, _ = pages.new(viewport={"width": 375, "height": 740})
    sign_in(phone, "owner@example.com")
    phone.goto(page.url)
    for name in ("Suggest a reply", "Summarise", "Rewrite"):
        button = phone.get_by_role("button", name=name)
        expect(button).to_be_visible()
        box_of = button.bounding_box()
        assert box_of and box_of["x"] >= 0 and box_of["x"] + box_of["width"] <= 375, (name, box_of)
    assert accessibility_problems(phone) == []
