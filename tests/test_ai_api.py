"""The AI configuration API: providers (keys sealed at rest, write-only), POST /ai/test
against fakes of each provider over real HTTP, and the organization's AI settings.
Reply generation and guardrails in action: tests/test_ai_replies.py."""

from __future__ import annotations

import pytest

from tests.helpers import API, add_member, assert_error, bearer, register
from tests.support.ai import Fakes
from tests.support.tenancy import second_org
from wacc.ai.tables import AiProvider
from wacc.cli.keys import reencrypt_all
from wacc.orgs import services as orgs

LONG_KEY = "sk-live-0123456789abcdefWXYZ"


@pytest.fixture
async def owner(client):
    data = await register(client)
    return {"head": bearer(data["accessToken"]), "token": data["accessToken"],
            "org": data["user"]["organizationId"]}


def openai_body(fakes: Fakes, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {"provider": "openai", "name": "primary", "model": "gpt-4o-mini",
                               "apiKey": fakes.openai.key, "baseUrl": fakes.openai.url + "/v1"}
    body.update(changes)
    return body


async def _providers(client, owner) -> list[dict[str, object]]:
    r = await client.get(f"{API}/ai/providers", headers=owner["head"])
    assert r.status_code == 200, r.text
    return r.json()


async def test_provider_crud_keeps_the_key_sealed_and_write_only(client, server, owner, fakes):
    r = await client.post(f"{API}/ai/providers", headers=owner["head"],
                          json=openai_body(fakes, apiKey=LONG_KEY, temperature=0.3, maxTokens=300))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["provider"] == "OPENAI" and created["hasApiKey"] is True
    assert created["apiKeyLast4"] == "WXYZ" and created["priority"] == 0
    assert LONG_KEY not in r.text and "apiKey" not in created
    raw = await AiProvider.select(AiProvider.api_key).where(AiProvider.id == created["id"]).first()
    assert raw["api_key"].startswith("v1.") and LONG_KEY not in raw["api_key"]
    assert LONG_KEY[:-4] not in raw["api_key"]

    # A second provider goes after the first; a short key shows no characters at all.
    r = await client.post(f"{API}/ai/providers", headers=owner["head"], json={
        "provider": "ANTHROPIC", "model": "claude-3-5-haiku-20241022", "apiKey": "sk-ant-test"})
    assert r.status_code == 201, r.text
    second = r.json()
    assert (second["name"], second["priority"], second["apiKeyLast4"]) == ("anthropic", 1, None)
    listed = await _providers(client, owner)
    assert [p["id"] for p in listed] == [created["id"], second["id"]]
    assert LONG_KEY not in str(listed)

    # Reorder, change the model, remove the key.
    r = await client.patch(f"{API}/ai/providers/{second['id']}", headers=owner["head"],
                           json={"priority": 0})
    assert r.status_code == 200
    r = await client.patch(f"{API}/ai/providers/{created['id']}", headers=owner["head"],
                           json={"priority": 5, "model": "gpt-4o", "apiKey": ""})
    assert r.status_code == 200, r.text
    assert (r.json()["model"], r.json()["hasApiKey"], r.json()["apiKeyLast4"]) == ("gpt-4o", False, None)
    assert [p["id"] for p in await _providers(client, owner)] == [second["id"], created["id"]]
    # An empty key is sealed too, so `wacc keys rotate` can check every row.
    checked = await reencrypt_all(server.app.state["runtime"].keyring, write=False)
    assert checked.failed == [] and checked.current >= 2

    r = await client.delete(f"{API}/ai/providers/{created['id']}", headers=owner["head"])
    assert r.status_code == 204
    assert_error(await client.delete(f"{API}/ai/providers/{created['id']}", headers=owner["head"]),
                 404, "NOT_FOUND")
    assert [p["id"] for p in await _providers(client, owner)] == [second["id"]]


@pytest.mark.parametrize(("changes", "field", "status", "code"), [
    ({"provider": "skynet"}, "provider", 400, "VALIDATION_ERROR"),
    ({"baseUrl": "ftp://example.com/v1"}, "baseUrl", 400, "VALIDATION_ERROR"),
    ({"baseUrl": "http://user:pw@example.com/v1"}, "baseUrl", 400, "VALIDATION_ERROR"),
    ({"baseUrl": "http://" + "a" * 520}, None, 400, "VALIDATION_ERROR"),
    ({"provider": "custom", "baseUrl": None, "model": "llama3.2"}, "baseUrl", 400, "VALIDATION_ERROR"),
    ({"temperature": 3}, None, 400, "VALIDATION_ERROR"),
    ({"config": {"k" * 70: 1}}, None, 400, "VALIDATION_ERROR"),
    ({"surprise": True}, None, 400, "VALIDATION_ERROR"),
    # Sent in a header: a pasted key with a non-ASCII character would fail every call.
    ({"apiKey": "sk-ключ"}, "apiKey", 400, "VALIDATION_ERROR"),
    ({"apiKey": "sk-abc def"}, "apiKey", 400, "VALIDATION_ERROR"),
])
async def test_bad_provider_input_is_refused_and_stores_nothing(client, owner, fakes, changes, field,
                                                               status, code):
    body = openai_body(fakes, **changes)
    error = assert_error(await client.post(f"{API}/ai/providers", headers=owner["head"], json=body),
                         status, code)
    if field:
        assert field in str(error["details"]) or field in error["message"]
    if changes.get("provider") == "skynet":
        assert "openai" in str(error["details"])  # names the installed types
    assert await AiProvider.count() == 0


async def test_names_are_unique_and_patches_are_checked(client, owner, fakes):
    first = (await client.post(f"{API}/ai/providers", headers=owner["head"], json=openai_body(fakes))).json()
    assert_error(await client.post(f"{API}/ai/providers", headers=owner["head"], json=openai_body(fakes)),
                 409, "CONFLICT")
    r = await client.post(f"{API}/ai/providers", headers=owner["head"],
                          json=openai_body(fakes, name="backup"))
    assert r.status_code == 201
    backup = r.json()["id"]
    for patch in ({"name": "primary"}, {"baseUrl": "javascript:alert(1)"}, {"timeoutSeconds": 0}):
        r = await client.patch(f"{API}/ai/providers/{backup}", headers=owner["head"], json=patch)
        assert r.status_code in (400, 409), r.text
    stored = await AiProvider.select(AiProvider.name, AiProvider.base_url).order_by(AiProvider.priority)
    assert [s["name"] for s in stored] == ["primary", "backup"]
    assert all(s["base_url"] == fakes.openai.url + "/v1" for s in stored)
    assert first["baseUrl"] == fakes.openai.url + "/v1"


async def test_roles_and_other_organizations(client, server, owner, fakes):
    provider = (await client.post(f"{API}/ai/providers", headers=owner["head"],
                                  json=openai_body(fakes))).json()
    manager = bearer((await add_member(client, owner["token"], owner["org"], "MANAGER"))["accessToken"])
    agent = bearer((await add_member(client, owner["token"], owner["org"], "AGENT"))["accessToken"])
    assert (await client.get(f"{API}/ai/providers", headers=manager)).status_code == 200
    assert_error(await client.get(f"{API}/ai/providers", headers=agent), 403, "AUTHORIZATION_ERROR")
    assert_error(await client.patch(f"{API}/ai/providers/{provider['id']}", headers=manager,
                                    json={"model": "gpt-4o"}), 403, "AUTHORIZATION_ERROR")
    assert_error(await client.post(f"{API}/ai/test", headers=manager,
                                   json={"providerId": provider["id"]}), 403, "AUTHORIZATION_ERROR")

    head = bearer(await second_org(client, server))
    assert await _providers(client, {"head": head}) == []
    for call in (client.patch(f"{API}/ai/providers/{provider['id']}", headers=head, json={"model": "x"}),
                 client.delete(f"{API}/ai/providers/{provider['id']}", headers=head),
                 client.post(f"{API}/ai/test", headers=head, json={"providerId": provider["id"]})):
        assert_error(await call, 404, "NOT_FOUND")
    [row] = await AiProvider.select(AiProvider.model)
    assert row["model"] == "gpt-4o-mini"
    assert fakes.openai.requests == []


async def test_testing_a_stored_provider_records_the_check(client, owner, fakes):
    good = (await client.post(f"{API}/ai/providers", headers=owner["head"], json=openai_body(fakes))).json()
    r = await client.post(f"{API}/ai/test", headers=owner["head"], json={"providerId": good["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True and r.json()["kind"] is None and r.json()["latencyMs"] >= 0
    assert fakes.openai.calls("/v1/models/gpt-4o-mini")  # the free check, no completion
    assert not fakes.openai.calls("/chat/completions")
    [listed] = await _providers(client, owner)
    assert listed["lastCheckAt"] and listed["lastCheckError"] is None

    # A wrong key is a result, not a fault of the request: 200, ok false, kind auth.
    await client.patch(f"{API}/ai/providers/{good['id']}", headers=owner["head"],
                       json={"apiKey": "sk-wrong-key"})
    r = await client.post(f"{API}/ai/test", headers=owner["head"], json={"providerId": good["id"]})
    assert r.status_code == 200
    assert (r.json()["ok"], r.json()["kind"]) == (False, "auth")
    assert "Incorrect API key" in r.json()["error"] and "sk-wrong-key" not in r.text
    [listed] = await _providers(client, owner)
    assert listed["lastCheckError"].startswith("auth:")


async def test_testing_an_unsaved_configuration(client, owner, fakes):
    body = {"provider": {"provider": "anthropic", "model": "claude-3-5-haiku-20241022",
                         "apiKey": fakes.anthropic.key, "baseUrl": fakes.anthropic.url},
            "prompt": "ping pong"}
    r = await client.post(f"{API}/ai/test", headers=owner["head"], json=body)
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True and r.json()["text"] == "You said: ping pong"
    assert await AiProvider.count() == 0  # nothing saved

    fakes.anthropic.garbage_next()
    r = await client.post(f"{API}/ai/test", headers=owner["head"], json=body)
    assert (r.json()["ok"], r.json()["kind"]) == (False, "bad_response")

    fakes.anthropic.hang_next()
    body["provider"]["timeoutSeconds"] = 1
    r = await client.post(f"{API}/ai/test", headers=owner["head"], json=body)
    assert (r.json()["ok"], r.json()["kind"]) == (False, "timeout")
    assert r.json()["latencyMs"] < 5000

    for bad in ({}, {"providerId": "x", "provider": body["provider"]},
                {"provider": {**body["provider"], "provider": "nope"}}):
        assert_error(await client.post(f"{API}/ai/test", headers=owner["head"], json=bad),
                     400, "VALIDATION_ERROR")


async def test_ai_settings_default_patch_and_template_variables(client, owner):
    r = await client.get(f"{API}/ai/settings", headers=owner["head"])
    assert r.status_code == 200, r.text
    defaults = r.json()
    assert defaults["requestsPerMinute"] == 20 and defaults["dailySpendCapUsd"] is None
    assert defaults["spentTodayUsd"] == 0

    change = {"requestsPerMinute": 5, "dailySpendCapUsd": 2.5, "cacheTtlSeconds": 60,
              "prices": {"llama3.2": {"input": 0.1, "output": 0.2}},
              "timeoutFallbackMessage": "One moment, a colleague will answer.",
              "systemPrompt": "You answer for {{org.name}}. The customer is {{ contact.name }}."}
    r = await client.patch(f"{API}/ai/settings", headers=owner["head"], json=change)
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in change} == change

    # An unknown variable names itself; nothing changes.
    for prompt, name in (("Hi {{contact.nickname}}", "contact.nickname"),
                         ("{{contact.custom.vip}}", "contact.custom.vip"),
                         ("{{ ''.__class__ }}", "''.__class__")):
        error = assert_error(await client.patch(f"{API}/ai/settings", headers=owner["head"],
                                                json={"systemPrompt": prompt}), 400, "VALIDATION_ERROR")
        assert name in error["message"] and error["details"][0]["field"] == "systemPrompt"
    for bad in ({"requestsPerMinute": 0}, {"prices": {"m": {"input": -1, "output": 0}}},
                {"contextTokenBudget": 10}):
        assert_error(await client.patch(f"{API}/ai/settings", headers=owner["head"], json=bad),
                     400, "VALIDATION_ERROR")
    r = await client.get(f"{API}/ai/settings", headers=owner["head"])
    assert {k: r.json()[k] for k in change} == change

    # A custom field's key becomes a known variable.
    await client.post(f"{API}/custom-fields", headers=owner["head"],
                      json={"name": "VIP", "key": "vip", "type": "TEXT"})
    r = await client.patch(f"{API}/ai/settings", headers=owner["head"],
                           json={"systemPrompt": "VIP: {{contact.custom.vip}}"})
    assert r.status_code == 200, r.text

    # The organization's own PATCH keeps the AI section, and does not show it.
    r = await client.patch(f"{API}/organizations/{owner['org']}", headers=owner["head"],
                           json={"settings": {"timezone": "Europe/Paris"}})
    assert r.status_code == 200, r.text
    assert "ai" not in r.json()["settings"]
    stored = await orgs.settings_of(owner["org"])
    assert stored["ai"]["requestsPerMinute"] == 5 and stored["timezone"] == "Europe/Paris"


async def test_usage_range_is_checked(client, owner):
    r = await client.get(f"{API}/ai/usage", headers=owner["head"])
    assert r.status_code == 200 and r.json() == {"items": [], "totalCostUsd": 0, "totalCalls": 0}
    for params in ({"from": "2026-02-01", "to": "2026-01-01"}, {"from": "2020-01-01", "to": "2026-01-01"},
                   {"from": "yesterday"}):
        assert_error(await client.get(f"{API}/ai/usage", headers=owner["head"], params=params),
                     400, "VALIDATION_ERROR")


async def test_a_test_completion_is_usage_and_passes_the_rate_limit(client, owner, fakes):
    from wacc.ai.tables import AiUsage

    provider = (await client.post(f"{API}/ai/providers", headers=owner["head"],
                                  json=openai_body(fakes))).json()
    await client.patch(f"{API}/ai/settings", headers=owner["head"], json={"requestsPerMinute": 1})
    body = {"providerId": provider["id"], "prompt": "say hi"}
    r = await client.post(f"{API}/ai/test", headers=owner["head"], json=body)
    assert r.json()["ok"] is True and r.json()["text"] == "You said: say hi"
    [usage] = await AiUsage.select()
    assert (usage["purpose"], usage["outcome"], usage["conversation"]) == ("test", "ok", None)
    assert usage["prompt_tokens"] == 2 and usage["cost_micros"] > 0
    assert_error(await client.post(f"{API}/ai/test", headers=owner["head"], json=body),
                 429, "RATE_LIMIT_EXCEEDED")
    assert len(fakes.openai.calls("/chat/completions")) == 1
    assert await AiUsage.count() == 1
