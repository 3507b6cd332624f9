"""Agent assist in the inbox over real HTTP with the session cookie: the composer's AI
tools show for staff when the organization has an enabled provider, an admin without
one gets a hint to Settings → AI, a viewer gets neither; and the calls the tools make
work from the browser's session (cookie and CSRF header) against a fake OpenAI."""

from __future__ import annotations

import pytest

from tests.helpers import API, PASSWORD, add_member, bearer, register
from tests.support.polling import until
from tests.support.whatsapp import connected_session, simulate
from tests.ui_support import csrf_headers, ui_login
from wacc.ai.providers.router import router_of
from wacc.messages.tables import Message

CUSTOMER = "+14155550123"
TOOLS = 'id="assist"'
HINT = 'href="/settings/ai"'


@pytest.fixture
async def inbox(client, wa, server, servers):
    """An owner, a customer's conversation, an agent and a viewer; no AI provider yet."""
    router_of(server.app.state["runtime"])._breakers.clear()
    servers.reset()
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    org = tokens["user"]["organizationId"]
    await wa()
    sid, _ = await connected_session(client, head)
    await simulate(client, head, sid, "message", phone=CUSTOMER, id="W1",
                   body="How much is a brake repair?", name="Carla Customer")

    async def stored():
        return await Message.select().where(Message.whatsapp_message_id == "W1").first()

    cid = (await until(stored))["conversation"]
    await add_member(client, tokens["accessToken"], org, "AGENT")
    await add_member(client, tokens["accessToken"], org, "VIEWER")
    return {"head": head, "org": org, "cid": cid, "fakes": servers}


async def _provider(client, inbox, **extra) -> dict:
    fake = inbox["fakes"].openai
    r = await client.post(f"{API}/ai/providers", headers=inbox["head"], json={
        "provider": "openai", "model": "gpt-4o-mini", "apiKey": fake.key,
        "baseUrl": fake.url + "/v1", **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def _login(client, email: str) -> str:
    client.cookies.clear()  # a fresh browser: signing in while signed in needs the CSRF token
    return await ui_login(client, email, PASSWORD)


async def _pages(client, cid) -> list[str]:
    """The conversation as a whole page and as the fragment a row click swaps in."""
    page = await client.get(f"/inbox/{cid}")
    fragment = await client.get(f"/ui/inbox/conversation/{cid}")
    assert page.status_code == fragment.status_code == 200
    assert '<script src="/static/js/inbox-assist.js" defer></script>' in page.text
    return [page.text, fragment.text]


async def test_tools_show_for_staff_once_a_provider_is_enabled(client, inbox):
    cid = inbox["cid"]
    # No provider: the owner is pointed at the settings, the agent sees nothing of it.
    await _login(client, "owner@example.com")
    for html in await _pages(client, cid):
        assert TOOLS not in html and HINT in html and 'id="composer"' in html
    await _login(client, "agent@example.com")
    for html in await _pages(client, cid):
        assert TOOLS not in html and HINT not in html and 'id="composer"' in html

    # A disabled provider is no provider.
    provider = await _provider(client, inbox, enabled=False)
    for html in await _pages(client, cid):
        assert TOOLS not in html

    r = await client.patch(f"{API}/ai/providers/{provider['id']}", headers=inbox["head"],
                           json={"enabled": True})
    assert r.status_code == 200, r.text
    for who in ("agent@example.com", "owner@example.com"):
        await _login(client, who)
        for html in await _pages(client, cid):
            assert TOOLS in html and HINT not in html
            assert 'data-assist="suggest"' in html and 'data-assist="summarize"' in html
            assert 'data-assist="rewrite"' in html and 'id="assist-undo"' in html
            # Every tone the API accepts, and nothing else.
            for tone, label in (("friendly", "Friendly"), ("formal", "Formal"),
                                ("short", "Shorter"), ("apologetic", "Apologetic"),
                                ("confident", "Confident"), ("empathetic", "Empathetic")):
                assert f'<option value="{tone}">{label}</option>' in html
            assert html.count("<option value=", html.index('id="assist-tone"'),
                              html.index('data-assist="rewrite"')) == 6
            assert '<label for="assist-tone"' in html

    # A viewer cannot reply nor ask the AI: no composer, no tools, no hint.
    await _login(client, "viewer@example.com")
    for html in await _pages(client, cid):
        assert TOOLS not in html and HINT not in html and 'id="composer"' not in html


async def test_the_tools_calls_work_with_the_session_cookie(client, inbox):
    """What the script sends, as the browser sends it: a draft, never a message."""
    await _provider(client, inbox)
    fakes = inbox["fakes"]
    url = f"{API}/conversations/{inbox['cid']}/ai"
    csrf = await _login(client, "agent@example.com")
    head = csrf_headers(csrf)
    fakes.openai.reply = "A brake repair costs 25 euros."
    r = await client.post(f"{url}/suggest", headers=head, json={})
    assert r.status_code == 200, r.text
    assert r.json()["text"] == "A brake repair costs 25 euros."
    fakes.openai.reply = "- Carla asks about a brake repair."
    r = await client.post(f"{url}/summarize", headers=head, json={})
    assert r.status_code == 200 and r.json()["text"] == "- Carla asks about a brake repair."
    fakes.openai.reply = "Dear Carla, it is 25 euros."
    r = await client.post(f"{url}/rewrite", headers=head, json={"text": "25 bucks", "tone": "formal"})
    assert r.status_code == 200 and r.json()["text"] == "Dear Carla, it is 25 euros."
    assert await Message.count().where(Message.direction == "OUTBOUND") == 0

    # Without the CSRF header a cookie alone cannot spend the organization's AI budget.
    r = await client.post(f"{url}/suggest", headers={"Accept": "application/json"}, json={})
    assert r.status_code == 403, r.text
    # A failing provider is an error with a message the composer can show.
    fakes.openai.fail_next(1, status=500)
    r = await client.post(f"{url}/summarize", headers=head, json={})
    assert r.status_code == 503 and r.json()["error"]["message"]

    csrf = await _login(client, "viewer@example.com")
    r = await client.post(f"{url}/summarize", headers=csrf_headers(csrf), json={})
    assert r.status_code == 403, r.text
