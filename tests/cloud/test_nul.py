"""A customer's text and profile name containing U+0000 arrive through Meta's signed
webhook: the webhook answers 200 and the message is stored with the NUL removed, on
SQLite and PostgreSQL alike (issue 14: before, PostgreSQL refused the row, the webhook
answered 503 and Meta re-sent the message for days)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.cloud.meta_fixtures import FIXTURE_DISPLAY_NUMBER, FIXTURE_NUMBER_ID
from tests.cloud.wired import cloud_session, signed, until
from tests.fakes.graph_api import FakeGraphAPI, inbound, webhook_body
from tests.helpers import API, bearer, register
from wacc.contacts.tables import Contact
from wacc.messages.tables import Message


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphAPI]:
    async with FakeGraphAPI(phone_number_id=FIXTURE_NUMBER_ID,
                            display_phone_number=f"+{FIXTURE_DISPLAY_NUMBER}").serve() as fake:
        yield fake


async def test_a_text_with_nul_is_stored_cleaned_and_answered_200(
        client: Any, graph: FakeGraphAPI, wa: Any) -> None:
    owner = bearer((await register(client))["accessToken"])
    await wa()
    sid = await cloud_session(client, owner, graph)
    body = webhook_body(messages=[inbound("text", {"body": "hello\x00 world"}, sender="16505550111",
                                          message_id="wamid.NUL1")],
                        profiles={"16505550111": "Nu\x00l Person"},
                        phone_number_id=FIXTURE_NUMBER_ID)
    assert b"\\u0000" in body  # JSON escapes the NUL, as Meta's JSON does
    raw, headers = signed(body)
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/webhook", content=raw, headers=headers)
    assert r.status_code == 200, r.text

    async def stored() -> Any:
        return await Message.select(Message.body).where(
            Message.whatsapp_message_id == "wamid.NUL1").first()

    row = await until(stored)
    assert row["body"] == "hello world"
    contact = await Contact.select(Contact.name).where(
        Contact.phone_number == "+16505550111").first()
    assert contact is not None and contact["name"] == "Nul Person"
    # The same message again (Meta retries) changes nothing.
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/webhook", content=raw, headers=headers)
    assert r.status_code == 200, r.text
    assert await Message.count().where(Message.whatsapp_message_id == "wamid.NUL1") == 1
