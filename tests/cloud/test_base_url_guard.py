"""A session's ``base_url`` receives its access token, so it passes the same SSRF guard
as automation webhooks (issue 14): loopback, private, link-local (cloud metadata) and
unresolvable hosts are refused with a 400 and nothing is stored, unless the operator
sets WACC_WA_ALLOW_PRIVATE_URLS (the test server does, for the fake Graph API)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import API, assert_error, bearer, register
from wacc.sessions.tables import WhatsAppSession

REFUSED = ["http://127.0.0.1:9/", "http://localhost:8080", "http://10.1.2.3/graph",
           "http://169.254.169.254/latest", "http://[::1]:9/", "https://no-such-host.invalid/",
           "ftp://93.184.216.34/", "not a url"]


@pytest.fixture
def strict(server: Any) -> Iterator[None]:
    """The guard as in production: internal addresses not allowed."""
    rt = server.app.state["runtime"]
    original = rt.settings
    rt.settings = dataclasses.replace(original, whatsapp=dataclasses.replace(
        original.whatsapp, allow_private_urls=False))
    yield
    rt.settings = original


def _cloud(base_url: str) -> dict[str, Any]:
    return {"name": "Cloud line", "engine": "cloud", "connect": False,
            "settings": {"base_url": base_url, "phone_number_id": "1234567890"},
            "credentials": {"access_token": "EAAG-token", "app_secret": "s", "verify_token": "v"}}


@pytest.mark.parametrize("base_url", REFUSED)
async def test_internal_base_url_is_refused_on_create(client: Any, strict: None,
                                                      base_url: str) -> None:
    head = bearer((await register(client))["accessToken"])
    r = await client.post(f"{API}/whatsapp/sessions", headers=head, json=_cloud(base_url))
    error = assert_error(r, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "settings.base_url"
    assert await WhatsAppSession.count() == 0


async def test_internal_base_url_is_refused_on_update_public_one_accepted(
        client: Any, strict: None) -> None:
    head = bearer((await register(client))["accessToken"])
    # An address literal: resolvable without DNS, public.
    r = await client.post(f"{API}/whatsapp/sessions", headers=head,
                          json=_cloud("https://93.184.216.34"))
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = await client.patch(f"{API}/whatsapp/sessions/{sid}", headers=head, json={
        "settings": {"base_url": "http://127.0.0.1:9", "phone_number_id": "1234567890"}})
    assert_error(r, 400, "VALIDATION_ERROR")
    row = await WhatsAppSession.select(WhatsAppSession.settings).first()
    settings = row["settings"]
    assert "93.184.216.34" in str(settings)


async def test_the_operator_setting_allows_loopback(client: Any) -> None:
    # The test server runs with WACC_WA_ALLOW_PRIVATE_URLS=true (tests/support/env.py).
    head = bearer((await register(client))["accessToken"])
    r = await client.post(f"{API}/whatsapp/sessions", headers=head,
                          json=_cloud("http://127.0.0.1:9/"))
    assert r.status_code == 201, r.text
