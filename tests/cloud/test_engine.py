"""The cloud engine against a fake Graph API over real HTTP, and its webhook functions.

The fake (tests/fakes/graph_api.py) validates request bodies as Meta does, so each
send test asserts the exact JSON Meta receives and that Meta would have accepted it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.cloud.support import (
    CUSTOMER,
    HOUR,
    SECRET,
    TO,
    Host,
    envelope,
    msg,
    settings,
    started,
)
from tests.fakes.graph_api import (
    API_VERSION,
    FakeGraphAPI,
    inbound,
    signed_webhook,
)
from wacc.engines.cloud import CloudEngine
from wacc.engines.cloud.outbound import window_open
from wacc.engines.contract import (
    Disconnected,
    DisconnectReason,
    InboundMessage,
    Location,
    Media,
    NotConnectedError,
    OutboundMessage,
    Peer,
    PermanentEngineError,
    Poll,
    Ready,
    TransientEngineError,
)

# -- the 24-hour window, as a pure function ------------------------------------------------


def test_window_open() -> None:
    now = 1_700_000_000.0
    assert window_open(None, now) is False
    assert window_open(now - 60, now) is True
    assert window_open(now - 24 * HOUR + 1, now) is True
    assert window_open(now - 24 * HOUR, now) is False  # exactly 24 hours: closed
    assert window_open(now - 30 * HOUR, now) is False
    assert window_open(now + 5, now) is True  # Meta's clock a little ahead of ours


# -- lifecycle ---------------------------------------------------------------------------------


async def test_start_checks_the_phone_number_and_reports_ready(api: FakeGraphAPI, tmp_path: Path) -> None:
    host = Host(settings(api), tmp_path)
    engine = CloudEngine(host)
    assert (engine.name, engine.default_rate) == ("cloud", 80.0)
    await engine.start()
    assert host.events == [Ready(me=Peer(wa_id="15550783881@c.us", phone="+15550783881",
                                         name="Acme Support"))]
    (request,) = api.requests
    assert (request.method, request.path) == ("GET", f"/{API_VERSION}/{api.phone_number_id}")
    assert request.query == {"fields": "display_phone_number,verified_name"}
    assert request.headers["authorization"] == f"Bearer {api.token}"
    await engine.stop()
    assert host.events[-1] == Disconnected(reason=DisconnectReason.STOPPED)
    with pytest.raises(NotConnectedError):
        await engine.send(msg(body="after stop"))


async def test_start_with_a_bad_token_disconnects_for_good(api: FakeGraphAPI, tmp_path: Path) -> None:
    host = Host(settings(api, access_token="EAAG-wrong-token-123"), tmp_path)
    engine = CloudEngine(host)
    await engine.start()
    (event,) = host.events
    assert isinstance(event, Disconnected) and event.reason == DisconnectReason.LOGGED_OUT
    assert "190" in event.detail and "access token" in event.detail
    assert "EAAG-wrong-token-123" not in event.detail + repr(engine)
    with pytest.raises(NotConnectedError):
        await engine.send(msg(body="hello"))
    assert len(api.requests) == 1


async def test_start_without_credentials_or_with_meta_down(api: FakeGraphAPI, tmp_path: Path) -> None:
    host = Host({"base_url": api.url}, tmp_path)
    await CloudEngine(host).start()
    assert host.events == [Disconnected(reason=DisconnectReason.LOGGED_OUT,
                                        detail="cloud settings missing: phone_number_id, access_token")]
    assert api.requests == []

    api.fail_next(status=500)
    host = Host(settings(api), tmp_path)
    await CloudEngine(host).start()
    (event,) = host.events
    assert isinstance(event, Disconnected) and event.reason == DisconnectReason.NETWORK

    host = Host(settings(api, phone_number_id="999"), tmp_path)  # a number Meta does not know
    await CloudEngine(host).start()
    (event,) = host.events
    assert isinstance(event, Disconnected) and event.reason == DisconnectReason.LOGGED_OUT
    assert "phone number id 999" in event.detail and "does not exist" in event.detail


async def test_a_token_revoked_while_running_holds_messages(api: FakeGraphAPI, tmp_path: Path) -> None:
    engine, host = await started(api, tmp_path)
    api.token = "EAAG-rotated"
    with pytest.raises(NotConnectedError):  # transient: the message waits for new credentials
        await engine.send(msg(body="hello"))
    assert isinstance(host.events[-1], Disconnected)
    assert host.events[-1].reason == DisconnectReason.LOGGED_OUT


# -- sending -------------------------------------------------------------------------------------


async def test_send_text(engine: CloudEngine, api: FakeGraphAPI) -> None:
    result = await engine.send(msg(body="Hello https://example.com"))
    assert result.id.startswith("wamid.")
    assert abs(result.timestamp - time.time()) < 5
    (request,) = api.requests
    assert (request.method, request.path) == ("POST", f"/{API_VERSION}/{api.phone_number_id}/messages")
    assert request.headers["authorization"] == f"Bearer {api.token}"
    assert request.json == envelope("text", {"preview_url": False, "body": "Hello https://example.com"})


async def test_send_quoted_reply(engine: CloudEngine, api: FakeGraphAPI) -> None:
    await engine.send(msg(body="Yes", quoted_id="wamid.ORIGINAL"))
    assert api.sent() == [envelope("text", {"preview_url": False, "body": "Yes"},
                                   context={"message_id": "wamid.ORIGINAL"})]


async def test_send_image_uploads_then_sends_by_id(engine: CloudEngine, api: FakeGraphAPI,
                                                  tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG fake image")
    await engine.send(msg(type="IMAGE", body="Our new shop", media_path=path))
    upload, send = api.requests
    assert (upload.method, upload.path) == ("POST", f"/{API_VERSION}/{api.phone_number_id}/media")
    assert upload.form == {"messaging_product": "whatsapp", "type": "image/png"}
    assert upload.files == {"file": ("photo.png", b"\x89PNG fake image", "image/png")}
    (media_id,) = api.media
    assert send.json == envelope("image", {"id": media_id, "caption": "Our new shop"})


async def test_send_document_and_audio_from_bytes(engine: CloudEngine, api: FakeGraphAPI) -> None:
    await engine.send(msg("d", type="DOCUMENT", body="Invoice",
                          media=Media(mime_type="application/pdf", filename="invoice.pdf", data=b"%PDF")))
    await engine.send(msg("a", type="AUDIO", body="no caption on audio",
                          media=Media(mime_type="audio/ogg", data=b"OggS")))
    uploads = api.calls("POST", "/media")
    assert [u.files["file"][0] for u in uploads] == ["invoice.pdf", "file"]
    doc_id, audio_id = api.media
    assert api.sent() == [
        envelope("document", {"id": doc_id, "caption": "Invoice", "filename": "invoice.pdf"}),
        envelope("audio", {"id": audio_id}),
    ]


async def test_send_media_without_content_is_refused(engine: CloudEngine, api: FakeGraphAPI) -> None:
    with pytest.raises(PermanentEngineError, match=r"needs media_path or media\.data"):
        await engine.send(msg(type="VIDEO", media=Media(mime_type="video/mp4")))
    with pytest.raises(PermanentEngineError, match="cannot read the media file"):
        await engine.send(msg(type="VIDEO", media_path=Path("/nonexistent/clip.mp4")))
    assert api.requests == []


async def test_send_location(engine: CloudEngine, api: FakeGraphAPI) -> None:
    await engine.send(msg(type="LOCATION", location=Location(latitude=37.4847, longitude=-122.1477,
                                                             name="HQ", address="1 Hacker Way")))
    assert api.sent() == [envelope("location", {"latitude": 37.4847, "longitude": -122.1477,
                                                "name": "HQ", "address": "1 Hacker Way"})]


async def test_send_contact_from_vcard(engine: CloudEngine, api: FakeGraphAPI) -> None:
    vcard = ("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Johnson;Barbara;;;\r\nFN:Barbara Johnson\r\n"
             "TEL;type=CELL;waid=16505559999:+1 650-555-9999\r\nTEL;TYPE=WORK:+1 650 555 0000\r\n"
             "EMAIL:barbara@example.com\r\nEND:VCARD")
    await engine.send(msg(type="CONTACT", vcard=vcard))
    assert api.sent() == [envelope("contacts", [{
        "name": {"formatted_name": "Barbara Johnson", "first_name": "Barbara", "last_name": "Johnson"},
        "phones": [{"phone": "+1 650-555-9999", "type": "CELL", "wa_id": "16505559999"},
                   {"phone": "+1 650 555 0000", "type": "WORK"}],
    }])]


async def test_send_reaction(engine: CloudEngine, api: FakeGraphAPI) -> None:
    await engine.send(msg("r1", type="REACTION", reaction_to="wamid.THEIRS", body="👍"))
    await engine.send(msg("r2", type="REACTION", reaction_to="wamid.THEIRS"))  # removes it
    assert api.sent() == [envelope("reaction", {"message_id": "wamid.THEIRS", "emoji": "👍"}),
                          envelope("reaction", {"message_id": "wamid.THEIRS", "emoji": ""})]


async def test_send_template_passes_through(engine: CloudEngine, api: FakeGraphAPI) -> None:
    components = [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]
    api.add_template("order_ready", "en_US", body=1)
    await engine.send(msg("t1", template={"name": "order_ready", "language": {"code": "en_US"},
                                          "components": components}))
    await engine.send(msg("t2", template={"name": "hello_world", "language": "en_US"}))
    assert api.sent() == [
        envelope("template", {"name": "order_ready", "language": {"code": "en_US"},
                              "components": components}),
        envelope("template", {"name": "hello_world", "language": {"code": "en_US"}}),
    ]
    with pytest.raises(PermanentEngineError, match="language"):
        await engine.send(msg("t3", template={"name": "no_language"}))


async def test_send_interactive_passes_through(engine: CloudEngine, api: FakeGraphAPI) -> None:
    interactive = {"type": "button", "body": {"text": "Ship today?"},
                   "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                                          {"type": "reply", "reply": {"id": "no", "title": "No"}}]}}
    await engine.send(msg(interactive=interactive, quoted_id="wamid.Q"))
    assert api.sent() == [envelope("interactive", interactive, context={"message_id": "wamid.Q"})]


async def test_polls_and_hidden_ids_are_refused_without_calling_meta(engine: CloudEngine,
                                                                   api: FakeGraphAPI) -> None:
    with pytest.raises(PermanentEngineError, match="polls are not supported") as exc:
        await engine.send(msg(type="POLL", poll=Poll(question="Lunch?", options=["Pizza", "Sushi"])))
    assert exc.value.permanent and exc.value.code == "UNSUPPORTED"
    with pytest.raises(PermanentEngineError, match="only message phone numbers"):
        await engine.send(OutboundMessage(idempotency_key="lid", to=Peer(wa_id="123456789@lid"), body="hi"))
    assert api.requests == []


@pytest.mark.parametrize("status_code", [429, 500])
async def test_overload_and_server_errors_are_transient(engine: CloudEngine, api: FakeGraphAPI,
                                                        status_code: int) -> None:
    api.fail_next(status=status_code)
    with pytest.raises(TransientEngineError) as exc:
        await engine.send(msg(body="hello"))
    assert not exc.value.permanent
    assert f"HTTP {status_code}" in str(exc.value)
    # The retry, with the same key, goes through.
    assert (await engine.send(msg(body="hello"))).id.startswith("wamid.")
    assert len(api.sent()) == 2


async def test_a_hanging_meta_times_out_as_transient(api: FakeGraphAPI, tmp_path: Path) -> None:
    engine, _ = await started(api, tmp_path, read_timeout=0.3)
    api.hang_next()
    begun = time.monotonic()
    with pytest.raises(TransientEngineError) as exc:
        await engine.send(msg(body="hello"))
    assert exc.value.code == "TIMEOUT"
    assert time.monotonic() - begun < 3
    await engine.stop()


async def test_unreachable_meta_is_transient(tmp_path: Path) -> None:
    gone = FakeGraphAPI()
    async with gone.serve():
        engine, _ = await started(gone, tmp_path)
    # The server is shut down now: nothing listens on its port any more.
    with pytest.raises(TransientEngineError) as exc:
        await engine.send(msg(body="hello"))
    assert exc.value.code == "NETWORK"
    await engine.stop()


@pytest.mark.parametrize(("code", "text", "ours"), [
    (131047, "Re-engagement message", "WINDOW_CLOSED"),
    (131026, "Message undeliverable", "131026"),
    (100, "Invalid parameter", "100"),
])
async def test_meta_refusals_are_permanent_with_code_and_message(engine: CloudEngine, api: FakeGraphAPI,
                                                                 code: int, text: str, ours: str) -> None:
    api.error_next(code)
    with pytest.raises(PermanentEngineError) as exc:
        await engine.send(msg(body="hello"))
    assert exc.value.permanent and exc.value.code == ours
    assert str(code) in str(exc.value) and text in str(exc.value)


async def test_meta_saying_the_window_closed_closes_it_here(engine: CloudEngine, api: FakeGraphAPI) -> None:
    api.error_next(131047)
    with pytest.raises(PermanentEngineError):
        await engine.send(msg("k1", body="hello"))
    api.requests.clear()
    with pytest.raises(PermanentEngineError) as exc:
        await engine.send(msg("k2", body="hello again"))
    assert exc.value.code == "WINDOW_CLOSED"
    assert api.requests == []


async def test_invalid_bodies_get_metas_details(engine: CloudEngine, api: FakeGraphAPI) -> None:
    # An interactive message Meta refuses (no action): the error says why.
    with pytest.raises(PermanentEngineError) as exc:
        await engine.send(msg(interactive={"type": "button", "body": {"text": "?"}}))
    assert exc.value.code == "100"
    assert "interactive.type and interactive.action are required" in str(exc.value)


async def test_a_retried_send_is_not_sent_twice(engine: CloudEngine, api: FakeGraphAPI) -> None:
    first = await engine.send(msg("same-key", body="once"))
    again = await engine.send(msg("same-key", body="once"))
    assert again == first
    racing = await asyncio.gather(*(engine.send(msg("race", body="once")) for _ in range(5)))
    assert len({r.id for r in racing}) == 1
    assert len(api.sent()) == 2


async def test_a_retry_after_a_failed_send_does_not_upload_again(engine: CloudEngine,
                                                                 api: FakeGraphAPI) -> None:
    image = msg("img", type="IMAGE", media=Media(mime_type="image/jpeg", data=b"\xff\xd8"))
    api.fail_next(status=500, path="/messages")
    with pytest.raises(TransientEngineError):
        await engine.send(image)
    await engine.send(image)
    assert len(api.calls("POST", "/media")) == 1
    assert len(api.sent()) == 2


# -- the 24-hour window ---------------------------------------------------------------------------


async def test_outside_the_window_only_templates_go(api: FakeGraphAPI, tmp_path: Path) -> None:
    engine, _ = await started(api, tmp_path, last_inbound={f"{CUSTOMER}@c.us": time.time() - 25 * HOUR})
    with pytest.raises(PermanentEngineError) as exc:
        await engine.send(msg("text", body="hello"))
    assert exc.value.code == "WINDOW_CLOSED"
    assert str(exc.value) == ("outside the 24-hour customer service window: only approved "
                              "templates may be sent")
    with pytest.raises(PermanentEngineError, match="24-hour"):
        await engine.send(msg("img", type="IMAGE", media=Media(mime_type="image/png", data=b"x")))
    assert api.requests == []  # refused before any upload or send
    await engine.send(msg("tpl", template={"name": "hello_world", "language": {"code": "en_US"}}))
    assert [body["type"] for body in api.sent()] == ["template"]
    await engine.stop()


async def test_a_customer_message_opens_the_window(api: FakeGraphAPI, tmp_path: Path) -> None:
    engine, host = await started(api, tmp_path, last_inbound={})
    # Nothing known about this customer: the send is attempted and Meta's 131047 decides.
    with pytest.raises(PermanentEngineError, match="24-hour") as exc:
        await engine.send(msg("before", body="hello"))
    assert exc.value.code == "WINDOW_CLOSED" and "131047" in str(exc.value)
    body, headers = api.signed_webhook(SECRET, messages=[inbound("text", {"body": "Hi!"})])
    await engine.receive_webhook(body, headers["X-Hub-Signature-256"])
    assert isinstance(host.events[-1], InboundMessage)
    await engine.send(msg("after", body="Hello, how can we help?"))
    assert [b.get("text", {}).get("body") for b in api.sent()] == ["hello", "Hello, how can we help?"]
    await engine.stop()


async def test_window_seeds_in_any_customer_form(api: FakeGraphAPI, tmp_path: Path) -> None:
    recent = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - HOUR))
    engine, _ = await started(api, tmp_path, last_inbound={CUSTOMER: recent, "+4915112345678": "junk"})
    api.customer_wrote(CUSTOMER, time.time() - HOUR)
    await engine.send(msg(body="within the window"))
    with pytest.raises(PermanentEngineError, match="24-hour"):
        await engine.send(OutboundMessage(idempotency_key="de", to=Peer(wa_id="4915112345678@c.us"),
                                          body="never wrote validly"))
    await engine.stop()


# -- other actions ---------------------------------------------------------------------------------


async def test_mark_read_and_typing(engine: CloudEngine, api: FakeGraphAPI) -> None:
    await engine.mark_read(TO, ["wamid.A", "wamid.B"])
    await engine.typing(TO, True)  # no message from this customer seen yet: nothing to hang it on
    body, headers = signed_webhook(SECRET, messages=[inbound("text", {"body": "?"}, message_id="wamid.C")])
    await engine.receive_webhook(body, headers["X-Hub-Signature-256"])
    await engine.typing(TO, True)
    await engine.typing(TO, False)  # Meta has no "stop typing"; it ends when we reply
    assert [r.json for r in api.requests] == [
        {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.A"},
        {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.B"},
        {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.C",
         "typing_indicator": {"type": "text"}},
    ]


async def test_unsupported_actions(engine: CloudEngine, api: FakeGraphAPI) -> None:
    for action in (engine.edit(TO, "wamid.X", "new text"), engine.revoke(TO, "wamid.X"),
                   engine.request_pairing_code("+15550001111")):
        with pytest.raises(PermanentEngineError, match="not supported by the Cloud API") as exc:
            await action
        assert exc.value.code == "UNSUPPORTED"
    assert await engine.profile_picture(TO) is None
    assert api.requests == []


async def test_block_and_unblock(engine: CloudEngine, api: FakeGraphAPI) -> None:
    await engine.set_blocked(TO, True)
    assert api.blocked == {CUSTOMER}
    await engine.set_blocked(TO, False)
    assert api.blocked == set()
    expected = {"messaging_product": "whatsapp", "block_users": [{"user": CUSTOMER}]}
    assert [(r.method, r.path, r.json) for r in api.requests] == [
        ("POST", f"/{API_VERSION}/{api.phone_number_id}/block_users", expected),
        ("DELETE", f"/{API_VERSION}/{api.phone_number_id}/block_users", expected),
    ]


async def test_download_media(engine: CloudEngine, api: FakeGraphAPI) -> None:
    media_id = api.add_media(b"\xff\xd8 a customer's photo", "image/jpeg")
    data = await engine.download_media(Media(mime_type="image/jpeg", fetch=media_id))
    assert data == b"\xff\xd8 a customer's photo"
    (lookup,) = api.requests
    (download,) = api.media_requests  # on another origin, with the same bearer token
    assert (lookup.method, lookup.path) == ("GET", f"/{API_VERSION}/{media_id}")
    assert download.path.startswith("/whatsapp_business/attachments")
    assert download.headers["authorization"] == f"Bearer {api.token}"
    with pytest.raises(PermanentEngineError) as exc:
        await engine.download_media(Media(mime_type="image/jpeg", fetch="999"))
    assert exc.value.code == "100"


