"""A message type WhatsApp added after our adapter, from the REAL wa-js over the stand-in
WhatsApp Web, stored by wacc's real inbound pipeline: UNSUPPORTED with its raw type in
the message's metadata (what the inbox shows), never TEXT with the base64 preview
WhatsApp keeps in ``body`` (issue 11, "Bad input"). Starts Chromium."""

from __future__ import annotations

import pytest

from tests.fakes.whatsapp_web import FakeWhatsAppWeb
from tests.helpers import API, bearer, register
from tests.simulator_support import org_id
from tests.web_engine_support import CUSTOMER_ID, DRIVER, RecordingHost, browser, has
from wacc.engines.contract import InboundMessage, Ready
from wacc.engines.web.engine import WebEngine
from wacc.messages.ingest import Pipeline, SessionRef
from wacc.messages.tables import Message


@browser
@pytest.mark.slow
async def test_an_unknown_whatsapp_type_is_stored_as_unsupported_with_its_raw_type(client, server, tmp_path):
    head = bearer((await register(client))["accessToken"])
    r = await client.post(f"{API}/whatsapp/sessions", headers=head,
                          json={"name": "Desk", "engine": "web", "connect": False})
    assert r.status_code == 201, r.text
    ref = SessionRef(id=r.json()["id"], organization_id=await org_id(client, head))

    fake = FakeWhatsAppWeb(paired=True)
    host = RecordingHost(tmp_path)
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    try:
        await host.wait_for(Ready)
        # WhatsApp keeps a JPEG preview in `body` for media-like types.
        preview = "/9j/4AAQSkZJRgABAQ=="
        wa_id = await fake.inbound(**{"from": CUSTOMER_ID, "type": "future_type", "body": preview})
        event = await host.wait_for(InboundMessage, has(id=wa_id))
    finally:
        await engine.stop()

    runtime = server.app.state["runtime"]
    pipeline = Pipeline(runtime.bus, runtime.media, jobs=runtime.jobs)
    try:
        await pipeline.handle(ref, event)
        await pipeline.handle(ref, event)  # WhatsApp delivering it again stores nothing twice
    finally:
        await pipeline.close()
    rows = await Message.select().where(Message.whatsapp_message_id == wa_id).output(load_json=True)
    assert len(rows) == 1
    stored = rows[0]
    assert stored["type"] == "UNSUPPORTED" and not stored["body"]
    assert stored["metadata"]["details"] == {"unsupported": {"type": "future_type"}}
