"""Automation pages over real HTTP: the list, the builder and the execution log render
for managers, escape what people typed, refuse agents with the 403 page and answer
another organization's ids with the 404 page."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import urlsplit

import pytest

from tests.helpers import PASSWORD, add_member, bearer, register_other_org
from tests.support.automations import create
from tests.support.polling import until
from tests.ui_support import ui_login
from wacc.automations.tables import AutomationExecution

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def owner(automation_org):
    """An organization with one tag (tests/conftest.py)."""
    return automation_org


def pricing(tag_id, name="Pricing"):
    return {"name": name, "description": f"About {HOSTILE}",
            "trigger": {"type": "message.received", "match": "keywords",
                        "keywords": ["price"], "mode": "word"},
            "actions": [{"type": "add_tag", "tagId": tag_id},
                        {"type": "send_message", "text": "Our prices: {{org.name}}"}]}


async def browser_login(client, email):
    """Sign in with the cookie, then ask for pages as a browser does (error pages are
    HTML only for a client that accepts HTML)."""
    await ui_login(client, email, PASSWORD)
    client.headers["Accept"] = "text/html,application/xhtml+xml"


def no_raw_script(text: str) -> None:
    assert HOSTILE not in text
    assert "<script>alert" not in text


async def test_list_builder_and_log_render_and_escape(client, owner):
    made = await create(client, owner["head"], pricing(owner["tag"], name=HOSTILE))
    await browser_login(client, "owner@example.com")

    listing = await client.get("/automations")
    assert listing.status_code == 200, listing.text
    no_raw_script(listing.text)
    assert html.escape(HOSTILE, quote=False) in listing.text
    assert "with the keywords price (word)" in listing.text
    assert f'href="/automations/{made["id"]}/executions"' in listing.text
    assert 'href="/automations/new"' in listing.text
    assert 'class="enabled-toggle"' in listing.text and "checked" in listing.text
    assert "0 runs" in listing.text

    builder = await client.get(f"/automations/{made['id']}")
    assert builder.status_code == 200, builder.text
    no_raw_script(builder.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</h1>" in builder.text
    state = re.search(r"data-state='([^']*)'", builder.text)
    assert state, "the builder's state is on the form"
    assert json.loads(html.unescape(state.group(1)))["actions"][0]["type"] == "add_tag"
    catalog = re.search(r"data-catalog='([^']*)'", builder.text)
    assert catalog, "the builder's catalog is on the form"
    assert [t["name"] for t in json.loads(html.unescape(catalog.group(1)))["tags"]] == ["lead"]
    assert "/static/js/automation-builder.js" in builder.text
    assert 'id="dry-run-button"' in builder.text and "Save automation" in builder.text

    new = await client.get("/automations/new")
    assert new.status_code == 200 and "<h1 id=\"builder-title\">New automation</h1>" in new.text
    assert 'id="executions-link"' in new.text

    log = await client.get(f"/automations/{made['id']}/executions")
    assert log.status_code == 200, log.text
    no_raw_script(log.text)
    assert "No runs yet" in log.text


async def test_the_list_says_what_to_do_when_empty(client, owner):
    await browser_login(client, "owner@example.com")
    page = await client.get("/automations")
    assert page.status_code == 200
    assert "No automations yet" in page.text and "Create your first automation" in page.text


async def test_execution_log_lists_runs_and_a_run_shows_its_steps(client, owner, worker):
    made = await create(client, owner["head"], {
        "name": "Hook", "trigger": {"type": "webhook"}, "actions": [{"type": "stop"}]})
    r = await client.post(urlsplit(made["webhookUrl"]).path, json={"body": HOSTILE})
    assert r.status_code == 202, r.text
    run_id = r.json()["executionId"]

    async def done():
        row = await AutomationExecution.select().where(
            AutomationExecution.id == run_id).first()
        return row and row["status"] == "COMPLETED"

    await until(done, timeout=20)
    await browser_login(client, "owner@example.com")
    log = await client.get(f"/automations/{made['id']}/executions")
    assert log.status_code == 200
    assert f'data-run-id="{run_id}"' in log.text and "Completed" in log.text
    assert "1 run" in log.text
    one = await client.get(f"/automations/{made['id']}/executions/{run_id}")
    assert one.status_code == 200, one.text
    no_raw_script(one.text)
    assert 'id="step-log"' in one.text and "<strong>stop</strong>" in one.text
    missing = await client.get(f"/automations/{made['id']}/executions/nope")
    assert missing.status_code == 404 and "Page not found" in missing.text


async def test_agents_get_the_403_page(client, owner):
    made = await create(client, owner["head"], pricing(owner["tag"]))
    await add_member(client, owner["tokens"]["accessToken"], owner["orgId"], "AGENT")
    await browser_login(client, "agent@example.com")
    for path in ("/automations", "/automations/new", f"/automations/{made['id']}",
                 f"/automations/{made['id']}/executions"):
        page = await client.get(path)
        assert page.status_code == 403, (path, page.status_code)
        assert "Not allowed" in page.text
        assert re.search(r"(read|write):automations", page.text)
    inbox = await client.get("/inbox")
    assert 'href="/automations"' not in inbox.text  # not in the agent's navigation


async def test_another_organizations_automation_is_the_404_page(client, owner, server):
    other = await register_other_org(server)
    theirs = await create(client, bearer(other["accessToken"]), {
        "name": "Globex secret", "trigger": {"type": "conversation.created"},
        "actions": [{"type": "set_priority", "priority": "HIGH"}]})
    await browser_login(client, "owner@example.com")
    for path in (f"/automations/{theirs['id']}", f"/automations/{theirs['id']}/executions",
                 f"/automations/{theirs['id']}/executions/x"):
        page = await client.get(path)
        assert page.status_code == 404, (path, page.status_code)
        assert "Page not found" in page.text and "Globex secret" not in page.text
    assert "Globex secret" not in (await client.get("/automations")).text
