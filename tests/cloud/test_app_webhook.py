"""One callback URL per Meta app: /whatsapp/cloud/webhook routes each change by
metadata.phone_number_id to its session; the per-session URL routes the other numbers
of its POSTs the same way; unknown numbers are skipped with a 200."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.cloud.meta_fixtures import FIXTURE_NUMBER_ID, fixture
from tests.cloud.wired import VERIFY, cloud_session, signed
from tests.fakes.graph_api import FakeGraphAPI
from tests.helpers import API, assert_error, bearer, register
from wacc.messages.tables import Message

APP_URL = f"{API}/whatsapp/cloud/webhook"
OTHER_NUMBER_ID = "9988776655443"  # the batch fixture's second number


@pytest.fixture
async def two_lines(client: Any, wa: Any) -> AsyncIterator[tuple[str, str]]:
    """Two numbers of one Meta app (same app secret), each a cloud session."""
    owner = bearer((await register(client))["accessToken"])
    await wa()
    other = FakeGraphAPI(phone_number_id=OTHER_NUMBER_ID, display_phone_number="+1 555-010-0002")
    async with FakeGraphAPI(phone_number_id=FIXTURE_NUMBER_ID).serve() as first, other.serve() as second:
        yield (await cloud_session(client, owner, first, "First"),
               await cloud_session(client, owner, second, "Second"))


async def _sessions_of(*wamids: str) -> dict[str, str]:
    rows = await Message.select(Message.whatsapp_message_id, Message.session).where(
        Message.whatsapp_message_id.is_in(list(wamids)))
    return {r["whatsapp_message_id"]: r["session"] for r in rows}


async def test_the_app_url_routes_each_number_to_its_session(client: Any, two_lines: Any) -> None:
    first, second = two_lines
    raw, headers = signed(fixture("batch_entries_and_numbers"))
    r = await client.post(APP_URL, content=raw, headers=headers)
    assert r.status_code == 200, r.text
    assert await _sessions_of("wamid.fixture.batch1", "wamid.fixture.batch2", "wamid.fixture.batch3") == {
        "wamid.fixture.batch1": first, "wamid.fixture.batch2": first, "wamid.fixture.batch3": second}
    stored = await Message.select(Message.body).where(Message.whatsapp_message_id == "wamid.fixture.batch1")
    assert stored[0]["body"] == "café 😀 שלום"  # Meta's \\u escapes, decoded
    again = await client.post(APP_URL, content=raw, headers=headers)  # Meta's retry: stored once
    assert again.status_code == 200 and await Message.count() == 3


async def test_the_per_session_url_routes_other_numbers_instead_of_dropping_them(
        client: Any, two_lines: Any) -> None:
    first, second = two_lines
    raw, headers = signed(fixture("batch_entries_and_numbers"))
    r = await client.post(f"{API}/whatsapp/sessions/{first}/webhook", content=raw, headers=headers)
    assert r.status_code == 200, r.text
    assert (await _sessions_of("wamid.fixture.batch3"))["wamid.fixture.batch3"] == second
    assert await Message.count() == 3


async def test_unknown_numbers_are_skipped_with_200_and_forgeries_refused(
        client: Any, two_lines: Any) -> None:
    body = fixture("text")
    body["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "5550000000000"
    raw, headers = signed(body)
    r = await client.post(APP_URL, content=raw, headers=headers)
    assert r.status_code == 200 and r.json()["unknownPhoneNumberIds"] == ["5550000000000"]
    assert await Message.count() == 0
    raw, headers = signed(fixture("text"), app_secret="not-the-app-secret")
    assert_error(await client.post(APP_URL, content=raw, headers=headers), 401, "AUTHENTICATION_ERROR")
    raw, _ = signed(fixture("text"))
    assert_error(await client.post(APP_URL, content=raw, headers={"Content-Type": "application/json"}),
                 401, "AUTHENTICATION_ERROR")
    assert_error(await client.post(APP_URL, content=b"{not json", headers=headers), 400, "VALIDATION_ERROR")
    assert await Message.count() == 0


async def test_the_app_url_answers_metas_handshake(client: Any, two_lines: Any) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    ok = await client.get(APP_URL, params=params)
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = await client.get(APP_URL, params={**params, "hub.verify_token": "guess"})
    assert_error(bad, 403, "AUTHORIZATION_ERROR")
    assert json.loads((await client.get(APP_URL, params={**params, "hub.mode": "x"})).text)["error"]
