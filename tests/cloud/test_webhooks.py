"""The cloud engine's webhook side (Meta's verification handshake, signatures, parsing
every message and status type) and its vCard conversion."""

from __future__ import annotations

import pytest

from tests.cloud.support import (
    CUSTOMER,
    SECRET,
    VERIFY,
)
from tests.fakes.graph_api import (
    inbound,
    signature,
    signed_webhook,
    status,
    webhook_body,
)
from wacc.engines.cloud import CloudEngine, WebhookError, check_signature, parse, verify_subscription
from wacc.engines.cloud.outbound import vcard_to_contacts
from wacc.engines.cloud.webhook import contacts_to_vcard, phone_number_ids
from wacc.engines.contract import (
    Ack,
    InboundMessage,
    Location,
    Media,
    Peer,
    PermanentEngineError,
    Reaction,
    decode_event,
    encode_event,
)

# -- webhooks ----------------------------------------------------------------------------------------


def test_verify_subscription() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    assert verify_subscription(params, VERIFY) == "1158201444"
    with pytest.raises(WebhookError, match="verify_token"):
        verify_subscription({**params, "hub.verify_token": "guess"}, VERIFY)
    with pytest.raises(WebhookError, match=r"hub\.mode"):
        verify_subscription({**params, "hub.mode": "unsubscribe"}, VERIFY)
    with pytest.raises(WebhookError, match="verify_token"):
        verify_subscription({**params, "hub.verify_token": ""}, "")  # no token configured: refuse


async def test_engine_answers_the_handshake_with_its_own_token(engine: CloudEngine) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "42"}
    assert engine.verify_subscription(params) == "42"


def test_check_signature() -> None:
    body = webhook_body(messages=[inbound("text", {"body": "hi"})])
    check_signature(body, signature(body, SECRET), SECRET)
    with pytest.raises(WebhookError, match="does not match"):
        check_signature(body, signature(body, "other-secret"), SECRET)
    with pytest.raises(WebhookError, match="does not match"):
        check_signature(body + b" ", signature(body, SECRET), SECRET)  # body changed in transit
    with pytest.raises(WebhookError, match="missing"):
        check_signature(body, None, SECRET)
    with pytest.raises(WebhookError, match="sha256="):
        check_signature(body, signature(body, SECRET).removeprefix("sha256="), SECRET)
    with pytest.raises(WebhookError, match="no app secret"):
        check_signature(body, signature(body, ""), "")


async def test_engine_refuses_unsigned_webhooks(engine: CloudEngine) -> None:
    body = webhook_body(messages=[inbound("text", {"body": "forged"})])
    with pytest.raises(WebhookError):
        await engine.receive_webhook(body, signature(body, "not-the-secret"))
    assert not any(isinstance(e, InboundMessage) for e in engine.host.events)  # type: ignore[attr-defined]


def test_parse_every_message_type() -> None:
    ts = 1_749_416_383
    you = Peer(wa_id=f"{CUSTOMER}@c.us", phone=f"+{CUSTOMER}", name="Sheena Nelson")
    media = {"mime_type": "image/jpeg", "sha256": "abc123", "id": "1001"}
    card = [{"name": {"formatted_name": "Barbara Johnson", "first_name": "Barbara", "last_name": "Johnson"},
             "phones": [{"phone": "+1 650-555-9999", "type": "CELL", "wa_id": "16505559999"}]}]
    messages = [
        inbound("text", {"body": "Does it come in blue?"}, message_id="m1", timestamp=ts),
        inbound("image", {**media, "caption": "this one"}, message_id="m2", timestamp=ts,
                context_id="wamid.OURS"),
        inbound("video", {"mime_type": "video/mp4", "sha256": "v", "id": "1002"},
                message_id="m3", timestamp=ts),
        inbound("audio", {"mime_type": "audio/ogg; codecs=opus", "sha256": "a", "id": "1003", "voice": True},
                message_id="m4", timestamp=ts),
        inbound("document", {"mime_type": "application/pdf", "sha256": "d", "id": "1004",
                             "filename": "order.pdf"}, message_id="m5", timestamp=ts),
        inbound("sticker", {"mime_type": "image/webp", "sha256": "s", "id": "1005", "animated": False},
                message_id="m6", timestamp=ts),
        inbound("location", {"latitude": 37.48, "longitude": -122.14, "name": "HQ",
                             "address": "1 Hacker Way"}, message_id="m7", timestamp=ts),
        inbound("contacts", card, message_id="m8", timestamp=ts),
        inbound("reaction", {"message_id": "wamid.OURS", "emoji": "❤️"}, message_id="m9", timestamp=ts),
        inbound("reaction", {"message_id": "wamid.OURS"}, message_id="m10", timestamp=ts),
        inbound("interactive", {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes please"}},
                message_id="m11", timestamp=ts, context_id="wamid.BUTTONS"),
        inbound("interactive", {"type": "list_reply", "list_reply": {"id": "express", "title": "Express",
                                                                    "description": "1 day"}},
                message_id="m12", timestamp=ts),
        inbound("button", {"payload": "STOP_PROMOS", "text": "Stop promotions"},
                message_id="m13", timestamp=ts),
        inbound("order", {"catalog_id": "1", "product_items": []}, message_id="m14", timestamp=ts),
        inbound("unsupported", None, message_id="m15", timestamp=ts),
        inbound("some_type_meta_adds_next_year", {"x": 1}, message_id="m16", timestamp=ts),
    ]
    events = parse(webhook_body(messages=messages, profiles={CUSTOMER: "Sheena Nelson"}))
    by_id = {e.id: e for e in events if isinstance(e, InboundMessage)}
    assert list(by_id) == ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m11", "m12", "m13"]
    text = by_id["m1"]
    assert (text.type, text.body, text.chat, text.sender, text.timestamp, text.from_me) == (
        "TEXT", "Does it come in blue?", you, you, float(ts), False)
    assert text.raw == messages[0]
    image = by_id["m2"]
    assert (image.type, image.body, image.quoted_id) == ("IMAGE", "this one", "wamid.OURS")
    assert image.media == Media(mime_type="image/jpeg", sha256="abc123", fetch="1001")
    assert [by_id[i].type for i in ("m3", "m4", "m5", "m6")] == ["VIDEO", "AUDIO", "DOCUMENT", "STICKER"]
    assert by_id["m4"].media is not None and by_id["m4"].media.mime_type == "audio/ogg; codecs=opus"
    assert by_id["m5"].media is not None and by_id["m5"].media.filename == "order.pdf"
    assert by_id["m7"].location == Location(latitude=37.48, longitude=-122.14, name="HQ",
                                            address="1 Hacker Way")
    contact = by_id["m8"]
    assert contact.type == "CONTACT" and contact.vcard is not None
    assert "FN:Barbara Johnson" in contact.vcard and "waid=16505559999" in contact.vcard
    assert vcard_to_contacts(contact.vcard) == card  # a shared contact can be sent on unchanged
    assert (by_id["m11"].type, by_id["m11"].body, by_id["m11"].quoted_id) == ("TEXT", "Yes please",
                                                                              "wamid.BUTTONS")
    assert by_id["m11"].raw["interactive"]["button_reply"]["id"] == "yes"
    assert by_id["m12"].body == "Express"
    assert by_id["m13"].body == "Stop promotions"
    reactions = [e for e in events if isinstance(e, Reaction)]
    assert reactions == [
        Reaction(message_id="wamid.OURS", chat=you, sender=you, emoji="❤️", timestamp=float(ts)),
        Reaction(message_id="wamid.OURS", chat=you, sender=you, emoji="", timestamp=float(ts)),
    ]
    for event in events:  # every event crosses process boundaries as JSON unchanged
        assert decode_event(encode_event(event)) == event


def test_parse_statuses() -> None:
    failure = [{"code": 131047, "title": "Re-engagement message",
                "error_data": {"details": "more than 24 hours"}}]
    body = webhook_body(statuses=[status("wamid.1", "sent"), status("wamid.1", "delivered"),
                                  status("wamid.1", "read"), status("wamid.2", "failed", errors=failure),
                                  status("wamid.3", "deleted")])
    peer = Peer(wa_id=f"{CUSTOMER}@c.us", phone=f"+{CUSTOMER}")
    assert parse(body) == [Ack(id="wamid.1", chat=peer, ack=1), Ack(id="wamid.1", chat=peer, ack=2),
                           Ack(id="wamid.1", chat=peer, ack=3),
                           Ack(id="wamid.2", chat=peer, ack=-1,
                               error="131047 Re-engagement message: more than 24 hours")]


def test_parse_routes_by_phone_number_and_skips_other_fields() -> None:
    ours = webhook_body(messages=[inbound("text", {"body": "hi"})], phone_number_id="111")
    assert phone_number_ids(ours) == ["111"]
    assert len(parse(ours, phone_number_id="111")) == 1
    assert parse(ours, phone_number_id="222") == []
    templates = webhook_body(messages=[inbound("text", {"body": "hi"})],
                             field_name="message_template_status_update")
    assert parse(templates) == []
    assert parse(webhook_body()) == []


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"object": "whatsapp_business_account"}', b'{"entry": [{"id": "1"}]}',
    b'{"entry": [{"changes": [{"field": "messages"}]}]}',
    b'{"entry": [{"changes": [{"field": "messages", "value": {"messages": "nope"}}]}]}',
    b'{"entry": [{"changes": [{"field": "messages", "value": {"messages": [{"type": "text"}]}}]}]}',
])
def test_malformed_webhooks_raise(body: bytes) -> None:
    with pytest.raises(WebhookError):
        parse(body)


async def test_receive_webhook_reports_events_in_order(engine: CloudEngine) -> None:
    body, headers = signed_webhook(SECRET, messages=[inbound("text", {"body": "one"}, message_id="w1")],
                                   statuses=[status("wamid.S", "delivered")], profiles={CUSTOMER: "Ana"})
    events = await engine.receive_webhook(body, headers["X-Hub-Signature-256"])
    assert engine.host.events[-2:] == events  # type: ignore[attr-defined]
    assert isinstance(events[0], InboundMessage) and events[0].sender.name == "Ana"
    assert isinstance(events[1], Ack) and events[1].ack == 2


# -- vCards ------------------------------------------------------------------------------------------


def test_vcard_to_contacts_handles_real_world_cards() -> None:
    cards = ("BEGIN:VCARD\nVERSION:2.1\nN:Doe;John\nTEL;CELL:+49 151\n 1234 5678\nEND:VCARD\n"
             "BEGIN:VCARD\nVERSION:3.0\nFN:Acme\\, Inc.\nitem1.TEL;type=MAIN:+1 800 555 0100\nEND:VCARD")
    assert vcard_to_contacts(cards) == [
        {"name": {"formatted_name": "John Doe", "first_name": "John", "last_name": "Doe"},
         "phones": [{"phone": "+49 1511234 5678", "type": "CELL"}]},
        {"name": {"formatted_name": "Acme, Inc.", "first_name": "Acme, Inc."},
         "phones": [{"phone": "+1 800 555 0100", "type": "MAIN"}]},
    ]
    with pytest.raises(PermanentEngineError, match="no name"):
        vcard_to_contacts("BEGIN:VCARD\nTEL:+1\nEND:VCARD")
    with pytest.raises(PermanentEngineError, match="empty"):
        vcard_to_contacts("just text")
    assert "FN:Acme\\, Inc." in contacts_to_vcard([{"name": {"formatted_name": "Acme, Inc."}}])

