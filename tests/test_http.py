"""API hygiene: the error format for every kind of error, request ids, security
headers, CORS, body limits, rate limits and the OpenAPI docs."""

from __future__ import annotations

import asyncio

from tests.helpers import API, assert_error, bearer, register
from wacc.features import BUILTIN_PLUGINS
from wacc.plugins.manager import PluginManager


async def test_unknown_route_is_404_in_seed_format(client):
    r = await client.get(f"{API}/nope")
    assert_error(r, 404, "NOT_FOUND")
    r = await client.get("/definitely/not/here")
    assert_error(r, 404, "NOT_FOUND")


async def test_wrong_method_is_405(client):
    r = await client.put(f"{API}/auth/login", json={})
    assert_error(r, 405, "METHOD_NOT_ALLOWED")


async def test_malformed_json_is_400(client):
    r = await client.post(f"{API}/auth/login", content=b"{not json",
                          headers={"Content-Type": "application/json"})
    err = assert_error(r, 400, "VALIDATION_ERROR")
    assert "JSON" in err["message"]


async def test_deeply_nested_json_is_400_and_stores_nothing(client):
    from wacc.contacts.tables import Contact

    tokens = await register(client)
    nested = "[" * 100_000 + "]" * 100_000
    body = '{"phone": "+14155550123", "customFields": {"x": ' + nested + "}}"
    r = await client.post(f"{API}/contacts", content=body.encode(), headers={
        **bearer(tokens["accessToken"]), "Content-Type": "application/json"})
    assert "nested" in assert_error(r, 400, "VALIDATION_ERROR")["message"]
    assert await Contact.count() == 0


async def test_unknown_field_wrong_type_and_missing_field_are_400_with_details(client):
    r = await client.post(f"{API}/auth/login", json={"email": "a@b.c", "password": "x", "admin": True})
    err = assert_error(r, 400, "VALIDATION_ERROR")
    assert any("admin" in d["message"] or d["field"] == "admin" for d in err["details"]), err
    r = await client.post(f"{API}/auth/login", json={"email": 5, "password": "x"})
    err = assert_error(r, 400, "VALIDATION_ERROR")
    assert err["details"] and "email" in (err["details"][0]["field"] + err["details"][0]["message"])
    r = await client.post(f"{API}/auth/login", json={"email": "a@b.c"})
    assert_error(r, 400, "VALIDATION_ERROR")


async def test_huge_body_is_413_and_nothing_is_stored(client, server):
    from wacc.orgs.tables import Organization

    limit = server.settings.security.max_body_bytes
    r = await client.post(f"{API}/auth/register", content=b'{"organizationName":"' + b"x" * limit + b'"}',
                          headers={"Content-Type": "application/json"})
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    assert await Organization.count() == 0


async def test_request_id_is_echoed_or_generated(client):
    r = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["x-request-id"].startswith("req_")
    r1, r2 = await asyncio.gather(client.get("/health"), client.get("/health"))
    assert r1.headers["x-request-id"] != r2.headers["x-request-id"]


async def test_security_headers(client):
    r = await client.get("/health")
    for header in ("x-content-type-options", "x-frame-options", "referrer-policy",
                   "content-security-policy"):
        assert header in r.headers, header
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in r.headers  # only with WACC_HSTS


async def test_internal_error_hides_details(make_client):
    plugins = PluginManager(["none"], [*BUILTIN_PLUGINS, "tests.boom_plugin"])
    c = await make_client(plugins=plugins)
    r = await c.get(f"{API}/boom")
    err = assert_error(r, 500, "INTERNAL_ERROR")
    assert err["message"] == "Internal error"
    assert "passwd" not in r.text and "RuntimeError" not in r.text


async def test_rate_limit_per_ip_answers_429_with_retry_after(make_client):
    c = await make_client({"WACC_RATE_LIMIT_PER_MINUTE": "5"})
    statuses = [(await c.get(f"{API}/auth/invites/nope")).status_code for _ in range(5)]
    assert statuses == [404] * 5
    r = await c.get(f"{API}/auth/invites/nope")
    assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
    assert int(r.headers["retry-after"]) > 0


async def test_rate_limit_is_per_user_not_per_ip(make_client):
    c = await make_client({"WACC_RATE_LIMIT_PER_MINUTE": "6"})
    a = await register(c)  # 1 anonymous request from this IP
    me = bearer(a["accessToken"])
    for _ in range(6):
        assert (await c.get(f"{API}/auth/me", headers=me)).status_code == 200
    r = await c.get(f"{API}/auth/me", headers=me)
    assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
    assert r.headers["retry-after"]
    # The anonymous budget of the same IP is separate and not used up.
    assert (await c.get(f"{API}/auth/invites/nope")).status_code == 404


async def test_cors_allowlist(make_client):
    c = await make_client({"WACC_CORS_ORIGINS": "https://app.example.com"})
    ok = await c.options(f"{API}/auth/login", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"})
    assert ok.headers.get("access-control-allow-origin") == "https://app.example.com"
    bad = await c.options(f"{API}/auth/login", headers={
        "Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"})
    assert bad.headers.get("access-control-allow-origin") != "https://evil.example.com"


async def test_openapi_describes_every_endpoint_with_models(client):
    r = await client.get("/api/docs/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    paths = spec["paths"]
    assert "/api/v1/auth/login" in paths and "/api/v1/api-keys" in paths
    login = paths["/api/v1/auth/login"]["post"]
    assert "requestBody" in login and "200" in login["responses"]
    schemas = spec["components"]["schemas"]
    assert any("LoginIn" in name for name in schemas)
    for path, item in paths.items():
        for method, op in item.items():
            if method in ("get", "post", "patch", "put", "delete"):
                assert op.get("responses"), f"{method} {path} has no responses"


async def test_interactive_docs_page_uses_local_assets(client):
    r = await client.get("/api/docs")
    assert r.status_code == 200
    assert "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in r.text
    assert "unpkg" not in r.text and "cdn.jsdelivr" not in r.text
    asset = await client.get("/static/vendor/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000


async def test_echo_round_trip_keeps_unicode(make_client):
    plugins = PluginManager(["none"], [*BUILTIN_PLUGINS, "tests.boom_plugin"])
    c = await make_client(plugins=plugins)
    r = await c.post(f"{API}/echo", json={"text": "héllo ✓ 🙂"})
    assert r.status_code == 201 and r.json() == {"text": "héllo ✓ 🙂"}


async def test_request_id_appears_in_the_json_log_of_an_error(make_client, capsys):
    import json
    import logging

    from wacc.logs import configure_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    plugins = PluginManager(["none"], [*BUILTIN_PLUGINS, "tests.boom_plugin"])
    c = await make_client({"WACC_LOG_FORMAT": "json"}, plugins=plugins)
    try:
        configure_logging(c.app.state["settings"], role="web")
        r = await c.get(f"{API}/boom", headers={"X-Request-ID": "trace-me-42"})
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    assert r.status_code == 500 and r.headers["x-request-id"] == "trace-me-42"
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()
             if line.startswith("{")]
    errors = [x for x in lines if x.get("event") == "unhandled error"]
    assert errors and errors[0]["request_id"] == "trace-me-42"
    assert errors[0]["role"] == "web" and "RuntimeError" in errors[0]["exception"]


async def test_links_for_the_listen_address_are_warned_about_once_when_people_use_another(
        make_client, capsys, caplog):
    """WACC_BASE_URL unset: links point at the listen address. A request that reached wacc
    under another host name gets one warning saying so; loopback requests say nothing."""
    app = await make_client({"WACC_BASE_URL": ""})
    caplog.set_level("WARNING")
    capsys.readouterr()

    def warnings_so_far() -> list[str]:
        # Printed by structlog, or handed to logging once a test configured it so.
        seen = capsys.readouterr()
        lines = (seen.out + seen.err).splitlines() + [r.getMessage() for r in caplog.records]
        caplog.clear()
        return [line for line in lines if "WACC_BASE_URL is not set" in line]

    await app.get("/health", headers={"host": "127.0.0.1:8000"})
    assert warnings_so_far() == []
    for _ in range(3):
        await app.get("/health", headers={"host": "inbox.example.com"})
    warned = warnings_so_far()
    assert len(warned) == 1, warned
    assert "inbox.example.com" in warned[0] and "http://127.0.0.1:8000" in warned[0]
