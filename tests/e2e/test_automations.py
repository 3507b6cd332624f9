"""Automations in a real browser: build one in the step builder (trigger, steps, reorder,
an invalid step shown next to itself), enable it from the list, let a simulated customer
start it, read the run in the execution log, and dry-run it on that message."""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect

from tests.support.browser import connected_simulator, register_owner, sign_in, until

CUSTOMER = "+14155550123"


def test_build_enable_run_and_inspect_an_automation(pages, wacc, screenshot):
    tokens = register_owner(wacc)
    head = {"Authorization": f"Bearer {tokens['accessToken']}"}
    with wacc.api() as http:
        tag = http.post("/api/v1/tags", headers=head, json={"name": "lead"})
        assert tag.status_code == 201, tag.text
        sid = connected_simulator(http, head)

    page, watch = pages.new()
    sign_in(page, "owner@example.com", then="/automations")
    expect(page.get_by_text("No automations yet")).to_be_visible()
    page.get_by_role("link", name="New automation").click()
    expect(page).to_have_url(re.compile(r"/automations/new$"))

    # The builder: name, a keyword trigger, two steps.
    page.get_by_label("Name", exact=True).fill("Pricing")
    page.get_by_label("Enabled (runs when its trigger fires)").uncheck()
    expect(page.locator("#trigger-type")).to_have_value("message.received")
    page.get_by_label("Keywords (comma-separated)").fill("price")
    add_type = page.get_by_label("Add a step", exact=True)
    add_type.select_option("add_tag")
    page.get_by_role("button", name="Add step").click()
    first = page.locator('.step-card[data-path="actions[0]"]')
    expect(first.get_by_role("heading")).to_have_text("Step 1: Add a tag")
    expect(first.get_by_label("Tag")).to_have_value(tag.json()["id"])
    add_type.select_option("send_message")
    page.get_by_role("button", name="Add step").click()
    second = page.locator('.step-card[data-path="actions[1]"]')
    expect(second.get_by_role("heading")).to_have_text("Step 2: Send a message")

    # Reorder with the keyboard-reachable buttons: the message goes first.
    page.get_by_role("button", name="Move Step 2 up").click()
    expect(first.get_by_role("heading")).to_have_text("Step 1: Send a message")
    expect(second.get_by_role("heading")).to_have_text("Step 2: Add a tag")
    expect(page.get_by_role("button", name="Move Step 1 down")).to_be_focused()

    # Saved with an empty message: the API's error is next to that step, in words.
    watch.expect(r"status of 400")
    page.get_by_role("button", name="Save automation").click()
    alert = page.locator("#automation-form > .form-error")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("Step 1 (Send a message), text")
    assert "{" not in alert.inner_text().replace("{{", "")
    message = first.get_by_role("textbox", name="Message")
    expect(message).to_have_attribute("aria-invalid", "true")
    expect(first.locator(".field-error")).to_contain_text("must be text of 1 to")
    expect(first).to_have_class(re.compile(r"\binvalid\b"))
    expect(page).to_have_url(re.compile(r"/automations/new$"))  # nothing was stored

    message.fill("Our prices: ")
    first.get_by_role("button", name="Insert org.name").click()
    expect(message).to_have_value("Our prices: {{org.name}}")
    page.get_by_role("button", name="Save automation").click()
    expect(page.locator("#save-status")).to_have_text(re.compile(r"Saved \(version 1\)"))
    expect(alert).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/automations/[0-9a-f-]{36}$"))
    automation_id = page.url.rsplit("/", 1)[1]

    # The list: enable it with the switch (a PATCH), see its trigger in words.
    page.goto("/automations")
    row = page.locator(f'tr[data-automation-id="{automation_id}"]')
    expect(row).to_contain_text("with the keywords price (contains)")
    switch = row.get_by_label("Enabled: Pricing")
    expect(switch).not_to_be_checked()
    switch.check()
    expect(row.locator(".switch-text")).to_have_text("On")
    with wacc.api() as http:
        saved = http.get(f"/api/v1/automations/{automation_id}", headers=head).json()
        assert saved["enabled"] is True
        assert [s["type"] for s in saved["actions"]] == ["send_message", "add_tag"]

        # The customer asks for prices; the worker runs the automation.
        r = http.post(f"/api/v1/whatsapp/sessions/{sid}/simulator", headers=head, json={
            "action": "message", "payload": {"phone": CUSTOMER, "body": "what is the price?",
                                             "id": "WAMID-PRICE-1", "name": "Carla"}})
        assert r.status_code == 200, r.text
        runs = until(lambda: [x for x in http.get(
            f"/api/v1/automations/{automation_id}/executions", headers=head).json()["items"]
            if x["status"] != "RUNNING"])
        assert runs[0]["status"] == "COMPLETED", runs
    page.reload()
    expect(row).to_contain_text("1 run")
    expect(row).to_contain_text("1 completed")
    screenshot(page, "50-automations")

    # The execution log, and the run's steps.
    row.get_by_role("link", name="Execution log").click()
    run_row = page.locator(f'tr[data-run-id="{runs[0]["id"]}"]')
    expect(run_row).to_contain_text("Completed")
    expect(run_row).to_contain_text("what is the price?")
    screenshot(page, "52-automation-executions")
    run_row.get_by_role("link", name=re.compile("Step log")).click()
    steps = page.locator("#step-log tbody tr")
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_contain_text("send_message")
    expect(steps.nth(0)).to_contain_text("Our prices: Acme Support")
    expect(steps.nth(1)).to_contain_text("add_tag")

    # A dry run on the latest inbound messages shows what it would do, changing nothing.
    page.goto(f"/automations/{automation_id}")
    page.get_by_label("The latest inbound messages").check()
    page.get_by_role("button", name="Dry run").click()
    result = page.locator("#dry-run-results .dry-item").first
    expect(result).to_contain_text("“what is the price?”")
    expect(result).to_contain_text("Would run:")
    expect(result.locator(".effects li").nth(0)).to_have_text("Send “Our prices: Acme Support”")
    expect(result.locator(".effects li").nth(1)).to_have_text(
        "Add the tag “lead” to the conversation")
    # A sample text that does not match: the trigger would not fire.
    page.get_by_label("A sample message").check()
    page.get_by_label("Sample message text").fill("hello there")
    page.get_by_role("button", name="Dry run").click()
    expect(page.locator("#dry-run-results")).to_contain_text("The trigger would not fire.")
    page.get_by_label("The latest inbound messages").check()
    page.get_by_role("button", name="Dry run").click()
    expect(page.locator("#dry-run-results")).to_contain_text("Would run:")
    page.locator("#steps-heading").evaluate("el => el.scrollIntoView()")
    screenshot(page, "51-automation-builder")
    with wacc.api() as http:
        stats = http.get(f"/api/v1/automations/{automation_id}/stats", headers=head).json()
        assert stats["runs"] == 1  # the dry runs stored nothing

    # In the inbox the automation's reply says who sent it, as an agent's names the agent.
    page.goto("/inbox")
    page.locator(".conversation-row", has_text="Carla").locator("a").click()
    reply = page.locator(".bubble.outbound", has_text="Our prices: Acme Support")
    expect(reply.locator(".machine-sender")).to_have_text("Automation")
    expect(reply.locator(".machine-sender svg.icon-zap")).to_be_visible()
    screenshot(page, "53-automation-reply-in-inbox")


def test_conditions_branches_and_the_json_editor(pages, wacc):
    page, watch = pages.new()
    sign_in(page, "owner@example.com", then="/automations")
    page.goto("/automations/new")
    page.get_by_label("Name", exact=True).fill("Urgent branch")
    page.locator("#trigger-type").select_option("conversation.created")
    expect(page.get_by_label("Keywords (comma-separated)")).to_have_count(0)

    # A condition row and a nested group.
    page.get_by_role("button", name="Add condition").first.click()
    cond = page.locator('#conditions-editor [data-path="conditions.all[0]"]')
    cond.get_by_label("Field").select_option("contact.name")
    cond.get_by_label("Operator").select_option("contains")
    cond.get_by_label("Value").fill("VIP")
    page.locator("#conditions-editor").get_by_role("button", name="Add group").click()
    expect(page.locator('[data-path="conditions.all[1]"]')).to_be_visible()

    # An if/else step with a step in each branch, and a wait.
    add_type = page.get_by_label("Add a step", exact=True)
    add_type.select_option("if")
    page.locator(".add-step").last.get_by_role("button", name="Add step").click()
    branch = page.locator('.step-card[data-path="actions[0]"]')
    branch.get_by_label("Add a step (Then)").select_option("set_priority")
    branch.locator(".add-step").nth(0).get_by_role("button", name="Add step").click()
    branch.get_by_label("Add a step (Else)").select_option("stop")
    branch.locator(".add-step").nth(1).get_by_role("button", name="Add step").click()
    then_step = page.locator('.step-card[data-path="actions[0].then[0]"]')
    then_step.get_by_label("Priority").select_option("URGENT")
    expect(page.locator('.step-card[data-path="actions[0].else[0]"]')).to_contain_text("Stop")

    # An empty group is allowed; a bad value in the branch's own condition is reported
    # at its place (actions[0].conditions.all[0].value).
    branch.locator(".branch").first.get_by_role("button", name="Add condition").click()
    inner = page.locator('[data-path="actions[0].conditions.all[0]"]')
    inner.get_by_label("Field").select_option("time.hour")
    inner.get_by_label("Operator").select_option("gte")
    inner.get_by_label("Value").fill("99")
    watch.expect(r"status of 400")
    page.get_by_role("button", name="Save automation").click()
    expect(page.locator("#automation-form > .form-error")).to_contain_text("Step 1 (If / else branch)")
    expect(inner.locator(".field-error")).to_be_visible()
    inner.get_by_label("Value").fill("18")
    page.get_by_role("button", name="Save automation").click()
    expect(page.locator("#save-status")).to_have_text(re.compile("Saved"))

    # The JSON editor shows the same definition and can change it.
    page.get_by_text("Advanced: edit JSON").click()
    editor = page.get_by_label("Trigger, conditions and steps as JSON")
    expect(editor).to_have_value(re.compile(r'"priority": "URGENT"'))
    editor.fill(json.dumps({"trigger": {"type": "no_reply", "minutes": 30},
                            "actions": [{"type": "wait", "seconds": 7200}]}))
    page.get_by_role("button", name="Apply JSON").click()
    expect(page.get_by_label("Minutes without a reply")).to_have_value("30")
    card = page.locator('.step-card[data-path="actions[0]"]')
    expect(card.get_by_label("Wait for")).to_have_value("2")
    expect(card.get_by_label("Unit")).to_have_value("hours")
    page.get_by_role("button", name="Save automation").click()
    expect(page.locator("#save-status")).to_have_text(re.compile(r"Saved \(version 2\)"))
