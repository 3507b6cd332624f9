"""AI settings pages over real HTTP: providers, guardrails and usage (/settings/ai), the
knowledge base, and a session's auto-responder panel. Owners get the controls, managers
(read:ai only) a read-only view, agents a 403 page; keys never reach the HTML, hostile
titles are escaped and another organization's article or session is a 404."""

from __future__ import annotations

import re

from tests.fakes.ai_providers import FakeOpenAI
from tests.helpers import API, PASSWORD, add_member, bearer, register, register_other_org
from tests.ui_support import browse_as as ui_login

HOSTILE = "<script>alert(1)</script>"
SECRET = "sk-very-secret-key-never-shown-4242"


async def _owner(client) -> dict:
    tokens = await register(client)
    await ui_login(client, "owner@example.com", PASSWORD)
    return bearer(tokens["accessToken"])


async def _session(client, head: dict, name: str = "Front desk") -> str:
    r = await client.post(f"{API}/whatsapp/sessions", headers=head,
                          json={"name": name, "engine": "simulator"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _article(client, head: dict, title: str, content: str = "We open at nine.") -> str:
    r = await client.post(f"{API}/ai/knowledge-base", headers=head,
                          json={"title": title, "content": content, "format": "markdown"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_owner_sees_providers_guardrails_usage_and_never_the_key(client):
    head = await _owner(client)
    async with FakeOpenAI(key=SECRET, reply="Pong.").serve() as fake:
        r = await client.post(f"{API}/ai/providers", headers=head, json={
            "provider": "custom", "name": "Local llama", "model": "gpt-4o-mini",
            "baseUrl": f"{fake.url}/v1", "apiKey": SECRET, "temperature": 0.3})
        assert r.status_code == 201, r.text
        provider_id = r.json()["id"]
        # A test with a prompt is a real completion, recorded as usage.
        r = await client.post(f"{API}/ai/test", headers=head,
                              json={"providerId": provider_id, "prompt": "ping"})
        assert r.status_code == 200 and r.json()["ok"], r.text
    r = await client.patch(f"{API}/ai/settings", headers=head, json={
        "requestsPerMinute": 7, "dailySpendCapUsd": 2.5, "systemPrompt": "You help {{org.name}}.",
        "prices": {"gpt-4o-mini": {"input": 0.15, "output": 0.6}}})
    assert r.status_code == 200, r.text

    html = (await client.get("/settings/ai")).text
    assert SECRET not in html and SECRET[:-4] not in html
    assert "…4242" in html  # the last 4 characters only
    assert "Local llama" in html and f"{fake.url}/v1" in html
    assert f'data-test-provider="{provider_id}"' in html
    assert f'id="provider-edit-{provider_id}"' in html
    assert 'placeholder="leave empty to keep"' in html
    assert 'id="provider-new-form"' in html and '<option value="custom" ' in html
    assert 'name="requestsPerMinute"' in html and 'value="7"' in html and 'value="2.5"' in html
    assert "You help {{org.name}}." in html
    assert 'value="gpt-4o-mini"' in html  # the price row
    # The usage table: the test completion, by the provider's name and model.
    usage = html.split('id="usage-heading"', 1)[1]
    assert "Local llama" in usage and "gpt-4o-mini" in usage
    assert "No AI calls" not in usage
    assert 'href="/settings/knowledge-base"' in html


async def test_agent_is_refused_and_manager_sees_a_read_only_view(client):
    owner = await register(client)
    head = bearer(owner["accessToken"])
    org = owner["user"]["organizationId"]
    sid = await _session(client, head)
    r = await client.post(f"{API}/ai/providers", headers=head, json={
        "provider": "openai", "model": "gpt-4o-mini", "apiKey": SECRET})
    assert r.status_code == 201, r.text
    await _article(client, head, "Opening hours")
    await add_member(client, owner["accessToken"], org, "AGENT")
    await add_member(client, owner["accessToken"], org, "MANAGER")

    await ui_login(client, "agent@example.com", PASSWORD)
    for path in ("/settings/ai", "/settings/knowledge-base", f"/ui/ai/responder/{sid}"):
        response = await client.get(path)
        assert response.status_code == 403, path
        assert "read:ai" in response.text
    detail = await client.get(f"/sessions/{sid}")
    assert detail.status_code == 200
    assert "/ui/ai/responder/" not in detail.text  # no panel without read:ai

    client.cookies.clear()  # sign out the agent
    await ui_login(client, "manager@example.com", PASSWORD)
    ai = await client.get("/settings/ai")
    assert ai.status_code == 200
    assert "gpt-4o-mini" in ai.text and SECRET not in ai.text
    # A provider named after its type shows the name once, not "openai openai" (issue 16).
    cell = ai.text.split('data-label="Provider">', 1)[1].split("</td>", 1)[0]
    assert re.sub(r"<[^>]+>", " ", cell).split() == ["openai"], cell
    assert "Add a provider" not in ai.text and "data-test-provider" not in ai.text
    assert "Save guardrails" not in ai.text and "<fieldset disabled>" in ai.text
    kb = await client.get("/settings/knowledge-base")
    assert kb.status_code == 200 and "Opening hours" in kb.text
    assert "New article" not in kb.text and "Reindex" not in kb.text
    assert 'id="kb-search"' in kb.text  # searching is reading
    article_id = kb.text.split('href="/settings/knowledge-base/', 1)[1].split('"', 1)[0]
    article = await client.get(f"/settings/knowledge-base/{article_id}")
    assert article.status_code == 200 and "We open at nine." in article.text
    assert "<fieldset disabled>" in article.text and "Save article" not in article.text
    detail = await client.get(f"/sessions/{sid}")
    assert f'hx-get="/ui/ai/responder/{sid}"' in detail.text
    panel = await client.get(f"/ui/ai/responder/{sid}")
    assert panel.status_code == 200
    assert "<fieldset disabled>" in panel.text and "Save auto-responder" not in panel.text


async def test_hostile_article_title_is_escaped(client):
    head = await _owner(client)
    article_id = await _article(client, head, HOSTILE, content=f"# {HOSTILE}\n\nText.")
    for path in ("/settings/knowledge-base", f"/settings/knowledge-base/{article_id}"):
        html = (await client.get(path)).text
        assert HOSTILE not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


async def test_article_page_has_the_edit_form(client):
    head = await _owner(client)
    article_id = await _article(client, head, "Returns", content="Returns within 30 days.")
    listing = (await client.get("/settings/knowledge-base")).text
    assert f'href="/settings/knowledge-base/{article_id}"' in listing
    assert 'data-max-bytes="1048576"' in listing and 'enctype="multipart/form-data"' in listing
    html = (await client.get(f"/settings/knowledge-base/{article_id}")).text
    assert f'data-api="/api/v1/ai/knowledge-base/{article_id}"' in html
    assert "Returns within 30 days." in html and "Save article" in html


async def test_another_organizations_article_and_session_are_not_found(client, server):
    await _owner(client)
    other = await register_other_org(server)
    theirs = bearer(other["accessToken"])
    article_id = await _article(client, theirs, "Globex secrets")
    sid = await _session(client, theirs, name="Globex line")
    assert (await client.get(f"/settings/knowledge-base/{article_id}")).status_code == 404
    assert (await client.get(f"/ui/ai/responder/{sid}")).status_code == 404
    assert "Globex secrets" not in (await client.get("/settings/knowledge-base")).text


async def test_responder_panel_shows_the_saved_configuration(client):
    head = await _owner(client)
    sid = await _session(client, head)
    panel = (await client.get(f"/ui/ai/responder/{sid}")).text
    assert f'data-api="/api/v1/whatsapp/sessions/{sid}/ai-responder"' in panel
    assert 'value="always" checked' in panel and "Save auto-responder" in panel
    r = await client.put(f"{API}/whatsapp/sessions/{sid}/ai-responder", headers=head, json={
        "enabled": True, "systemPrompt": f"Be brief. {HOSTILE}", "handoffKeywords": ["refund", "agent"],
        "businessHours": {"timezone": "Europe/Berlin",
                          "days": {"mon": [["09:00", "12:30"], ["13:30", "17:00"]]}},
        "minConfidence": 0.4, "handoffMessage": "A colleague will answer."})
    assert r.status_code == 200, r.text
    panel = (await client.get(f"/ui/ai/responder/{sid}")).text
    assert 'value="09:00-12:30, 13:30-17:00"' in panel
    assert '<option value="Europe/Berlin" selected>' in panel
    assert 'value="hours" checked' in panel
    assert "refund, agent" in panel and 'value="0.4"' in panel
    assert "A colleague will answer." in panel
    assert HOSTILE not in panel and "Be brief. &lt;script&gt;" in panel
