"""The cloud engine's webhook side (Meta's verification handshake, signatures, parsing
every message and status type) and its vCard conversion."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.cloud.meta_fixtures import names, raw
from tests.cloud.support import (
    CUSTOMER,
    SECRET,
    VERIFY,
    msg,
)
from tests.fakes.graph_api import (
    inbound,
    signature,
    signed_webhook,
    status,
    webhook_body,
)
from wacc.engines.cloud import CloudEngine, WebhookError, check_signature, parse, verify_subscription
from wacc.engines.cloud.graph import WINDOW_CLOSED
from wacc.engines.cloud.outbound import vcard_to_contacts
from wacc.engines.cloud.webhook import contacts_to_vcard, parse_report, phone_number_ids
from wacc.engines.contract import (
    Ack,
    Edited,
    IdentityChanged,
    IdentityMapped,
    InboundMessage,
    Location,
    Peer,
    PermanentEngineError,
    Reaction,
    Revoked,
    SessionAlert,
    TransientEngineError,
    decode_event,
    encode_event,
)
from wacc.lib.errors import ValidationError

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


BSUID = "US.13491208655302741918"
ME = Peer(wa_id="972987654321@c.us", phone="+972987654321", name="Test Name")
MAPPED = IdentityMapped(lid=f"{BSUID}@bsuid", phone="+972987654321")
FAILED = ("130472 User's number is part of an experiment: Failed to send message because this user's "
          "phone number is part of an experiment")
UNKNOWN_TYPE = [{"code": 131051, "title": "Message type unknown", "message": "Message type unknown",
                 "error_data": {"details": "Message type is currently not supported."}}]
ORDER_ITEMS = [{"product_retailer_id": "HAMBURGER", "quantity": 3, "item_price": 30, "currency": "ILS"},
               {"product_retailer_id": "FRENCH_FRIES", "quantity": 2, "item_price": 35, "currency": "ILS"},
               {"product_retailer_id": "SODA", "quantity": 2, "item_price": 10, "currency": "ILS"}]


def _msg(fixture: str, kind: str, body: str | None = None, **fields: object) -> tuple[str, object]:
    return ("message", {"id": f"wamid.fixture.{fixture}", "type": kind, "body": body, **fields})


# Every fixture (tests/cloud/fixtures, each citing its source) and what wacc reads from it:
# (event kind, fields) in Meta's order. A fixture missing here fails the completeness check.
EXPECTED: dict[str, list[tuple[str, object]]] = {
    "text": [("identity", MAPPED), _msg("text", "TEXT", "Body Text")],
    "reply": [("identity", MAPPED), _msg("reply", "TEXT", "replied text", quoted_id="wamid.xyzxyz==")],
    "referral": [("identity", MAPPED), _msg("referral", "TEXT", "BODY", details_keys=["referral"])],
    "image": [("identity", MAPPED), _msg("image", "IMAGE", media=("65463453", "image/jpeg", None))],
    "image_with_url": [("identity", MAPPED), _msg("image_with_url", "IMAGE",
                                                  media=("65463453", "image/jpeg", None))],
    "video_forwarded": [("identity", MAPPED), _msg("video_forwarded", "VIDEO", "caption",
                                                   media=("765756756", "video/mp4", None),
                                                   details={"forwarded": True})],
    "document": [("identity", MAPPED), _msg("document", "DOCUMENT", "caption", media=(
        "1234567890987654321", "application/pdf", "filename.pdf"), details={"forwarded": True})],
    "audio": [("identity", MAPPED), _msg("audio", "AUDIO", media=(
        "1234567890987654321", "audio/ogg; codecs=opus", None),
        details={"forwarded": True, "media": {"voice": False}})],
    "voice": [("identity", MAPPED), _msg("voice", "AUDIO", media=(
        "1234567890987654321", "audio/ogg; codecs=opus", None), details={"media": {"voice": True}})],
    "sticker": [("identity", MAPPED), _msg("sticker", "STICKER", media=(
        "1234567890987654321", "image/webp", None), details={"media": {"animated": False}})],
    "sticker_animated": [("identity", MAPPED), _msg("sticker_animated", "STICKER", media=(
        "1234567890987654321", "image/webp", None), details={"media": {"animated": True}})],
    "location_current": [("identity", MAPPED), _msg("location_current", "LOCATION", location=Location(
        latitude=12.25089, longitude=43.90539), details={"forwarded": True})],
    "location_chosen": [("identity", MAPPED), _msg("location_chosen", "LOCATION", location=Location(
        latitude=37.4611978, longitude=-122.2164385, name="Facebook HQ",
        address="1 Hacker Way, Menlo Park, CA 94025"), details={
            "forwarded": True, "location": {"url": "https://maps.google.com/?cid=2000000000000000000"}})],
    "contacts": [("identity", MAPPED), _msg("contacts", "CONTACT", vcard_has=[
        "FN:Chandler Bing", "TEL;type=CELL;waid=972987654321:+1 555-555-5555", "FN:Monica",
        "FN:Rachel Green"])],
    "reaction": [("identity", MAPPED), ("reaction", Reaction(
        message_id="wamid.yzxyzx=", chat=ME, sender=ME, emoji="😮", timestamp=1697044456.0))],
    "reaction_removed": [("identity", MAPPED), ("reaction", Reaction(
        message_id="wamid.yzxyzx=", chat=ME, sender=ME, emoji="", timestamp=1697044456.0))],
    "reaction_removed_no_emoji": [("identity", MAPPED), ("reaction", Reaction(
        message_id="wamid.yzxyzx=", chat=ME, sender=ME, emoji="", timestamp=1697044456.0))],
    "interactive_button_reply": [("identity", MAPPED), _msg(
        "interactive_button_reply", "TEXT", "title", quoted_id="wamid.xyzxyz", details={
            "interactive": {"type": "button_reply", "id": "callback_data", "title": "title"}})],
    "interactive_list_reply": [("identity", MAPPED), _msg(
        "interactive_list_reply", "TEXT", "title", quoted_id="wamid.xyzxyz", details={
            "interactive": {"type": "list_reply", "id": "callback_data", "title": "title",
                            "description": "description"}})],
    "interactive_nfm_reply": [("identity", MAPPED), _msg(
        "interactive_nfm_reply", "TEXT", "Form response: comment_text: Comment Text; delivery_rating: 4; "
        "purchase_rating: 2; recommend_radio: 0; cs_rating: 0", quoted_id="wamid.gvwegfretge==",
        details={"flow": {"name": "flow", "body": "Sent", "response": {
            "comment_text": "Comment Text", "delivery_rating": "4",
            "flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.", "purchase_rating": "2",
            "recommend_radio": "0", "cs_rating": "0"}}})],
    "button_quick_reply": [("identity", MAPPED), _msg(
        "button_quick_reply", "TEXT", "title", quoted_id="wamid.xyzxyz==",
        details={"button": {"payload": "callback_data", "text": "title"}})],
    "button_with_from_user_id": [("identity", MAPPED), _msg(
        "button_with_from_user_id", "TEXT", "title",
        details={"button": {"payload": "callback_data", "text": "title"}})],
    "order": [("identity", MAPPED), _msg(
        "order", "TEXT", "Order: 3 x HAMBURGER at 30 ILS, 2 x FRENCH_FRIES at 35 ILS, 2 x SODA at 10 ILS",
        details={"order": {"catalog_id": "354160437058781", "text": "", "product_items": ORDER_ITEMS}})],
    "unsupported": [("identity", MAPPED), _msg("unsupported", "UNSUPPORTED", details={"unsupported": {
        "type": "unsupported", "errors": UNKNOWN_TYPE,
        "error": "131051 Message type unknown: Message type is currently not supported."}})],
    "unsupported_with_type": [("identity", MAPPED), _msg("unsupported_with_type", "UNSUPPORTED", details={
        "unsupported": {"type": "unsupported:pool", "errors": UNKNOWN_TYPE,
                        "error": "131051 Message type unknown: Message type is currently not supported."}})],
    "interactive_with_value_errors": [
        ("alert", SessionAlert(
            code="131000", detail="Meta reported: 131000 Something went wrong: Unsupported webhook payload")),
        ("identity", MAPPED),
        _msg("interactive_with_value_errors", "UNSUPPORTED", quoted_id="wamid.gvwegfretge==", details={
            "unsupported": {"type": "interactive", "errors": [
                {"code": 131000, "title": "Something went wrong", "message": "Something went wrong",
                 "error_data": {"details": "Unsupported webhook payload"}}],
                "error": "131000 Something went wrong: Unsupported webhook payload"}})],
    "request_welcome": [("identity", MAPPED), _msg(
        "request_welcome", "UNSUPPORTED", "Opened the chat for the first time (request_welcome)",
        details={"unsupported": {"type": "request_welcome"}})],
    "system_user_changed_number": [
        ("changed", IdentityChanged(old=Peer(wa_id="972987654321@c.us", phone="+972987654321"),
                                    new=Peer(wa_id="972912345678@c.us", phone="+972912345678"))),
        _msg("system_user_changed_number", "UNSUPPORTED",
             "User A changed from 972987654321 to 972912345678", chat="972912345678@c.us",
             details={"unsupported": {"type": "system:user_changed_number"}})],
    "system_user_changed_number_meta_reference": [
        ("changed", IdentityChanged(old=Peer(wa_id="16505551234@c.us", phone="+16505551234"),
                                    new=Peer(wa_id="12195555358@c.us", phone="+12195555358"))),
        _msg("system_user_changed_number_meta", "UNSUPPORTED",
             "User Sheena Nelson changed from 16505551234 to 12195555358", chat="12195555358@c.us",
             details={"unsupported": {"type": "system:user_changed_number"}})],
    "system_identity_changed": [_msg(
        "system_identity_changed", "UNSUPPORTED", "User identity changed", name="User A",
        details={"unsupported": {"type": "system:customer_identity_changed"},
                 "identity": {"acknowledged": True, "created_timestamp": "1697044706", "hash": "xyzxyz"}})],
    "edit": [("edited", Edited(id="wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=",
                               chat=Peer(wa_id="16505551234@c.us", phone="+16505551234", name="Test Name"),
                               body="Updated image caption", timestamp=1749854575.0))],
    "revoke": [("identity", MAPPED), ("revoked", Revoked(id="wamid.fixture.text", chat=ME, by=ME))],
    "echo_text": [("identity", MAPPED), _msg("echo_text", "TEXT", "Test message", from_me=True,
                                             sender="972123456789@c.us")],
    "echo_edit": [("edited", Edited(
        id="wamid.fixture.echo_text", chat=Peer(wa_id="972123456789@c.us", phone="+972123456789",
                                                name="Test Name"),
        body="Text was edited", timestamp=1697044968.0))],
    "echo_revoke": [("revoked", Revoked(
        id="wamid.fixture.echo_text",
        chat=Peer(wa_id="972123456789@c.us", phone="+972123456789", name="Test Name"),
        by=Peer(wa_id="972987654321@c.us", phone="+972987654321")))],  # "from", as captured
    "username_only": [_msg("username_only", "TEXT", "this is a text message", chat=f"{BSUID}@bsuid",
                           phone=None, name="test user name", details={"username": "@testusername"})],
    "username_only_parent_bsuid": [_msg(
        "username_parent", "TEXT", "this is a text message", chat=f"{BSUID}@bsuid", phone=None,
        name="test user name", details={"username": "@testusername"})],
    "batch_entries_and_numbers": [
        ("identity", MAPPED), _msg("batch1", "TEXT", "café \U0001F600 שלום"),
        ("identity", MAPPED), _msg("batch2", "TEXT", "second"),
        ("identity", MAPPED), _msg("batch3", "TEXT", "for another number")],
    "status_sent": [("ack", ("wamid.xyzxyz", 1, "972987654321@c.us", None))],
    "status_with_tracker": [("ack", ("wamid.xyzxyz", 1, "972987654321@c.us", None))],
    "status_delivered": [("ack", ("wamid.xyzxyz", 2, "972987654321@c.us", None))],
    "status_read": [("ack", ("wamid.xyzxyz", 3, "972987654321@c.us", None))],
    "status_played": [("ack", ("wamid.xyzxyz", 4, "972987654321@c.us", None))],
    "status_failed": [("ack", ("wamid.xyzxyz", -1, "972987654321@c.us", FAILED))],
    "status_delivered_to_user_id": [("ack", ("wamid.xyzxyz", 2, f"{BSUID}@bsuid", None))],
    # Fields other than messages: nothing to store.
    "other_field_account_update": [],
    "other_field_template_status": [],
}


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(EXPECTED) == names()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parse_real_fixture(name: str) -> None:
    parsed = parse_report(raw(name))
    assert parsed.problems == []
    assert [_kind(e) for e in parsed.events] == [kind for kind, _ in EXPECTED[name]]
    for event, (kind, want) in zip(parsed.events, EXPECTED[name], strict=True):
        if kind == "message":
            _check_message(event, want)  # type: ignore[arg-type]
        elif kind == "ack":
            assert isinstance(event, Ack)
            assert (event.id, event.ack, event.chat.wa_id, event.error) == want
        else:
            assert event == want
        assert decode_event(encode_event(event)) == event  # crosses processes as JSON unchanged


def _kind(event: object) -> str:
    return {InboundMessage: "message", IdentityMapped: "identity", Reaction: "reaction", Ack: "ack",
            SessionAlert: "alert", IdentityChanged: "changed", Edited: "edited",
            Revoked: "revoked"}[type(event)]


def _check_message(event: object, want: dict[str, object]) -> None:
    assert isinstance(event, InboundMessage)
    chat = want.get("chat", "972987654321@c.us")
    assert (event.id, event.type, event.body, event.chat.wa_id) == (
        want["id"], want["type"], want["body"], chat)
    if want.get("from_me"):  # the business's own message, echoed from the Business app
        assert event.from_me is True and event.sender.wa_id == want["sender"]
    else:
        assert event.sender == event.chat and event.from_me is False
    phone = "+" + str(chat).partition("@")[0] if str(chat).endswith("@c.us") else None
    assert event.chat.phone == want.get("phone", phone)
    assert event.chat.name == want.get("name", "Test Name" if chat == "972987654321@c.us" else None)
    assert event.quoted_id == want.get("quoted_id")
    assert event.location == want.get("location")
    media = want.get("media")
    assert (event.media.fetch, event.media.mime_type, event.media.filename) == media if media \
        else event.media is None
    if "details_keys" in want:
        assert sorted(event.details) == want["details_keys"]
    else:
        assert event.details == want.get("details", {})
    for line in want.get("vcard_has", []):  # type: ignore[attr-defined]
        assert event.vcard is not None and line in event.vcard
    assert event.raw["id"] == want["id"]  # Meta's message, kept whole


def test_a_product_question_and_a_username_customers_new_number_are_kept() -> None:
    # Shapes from Secreto31126/whatsapp-api-js src/types.ts (ServerMessage.context.
    # referred_product; ServerSystemMessage: wa_id "omitted if the user has enabled the
    # username feature", user_id "set to the user's new BSUID").
    asked = inbound("text", {"body": "is this in stock?"}, message_id="wamid.asked")
    asked["context"] = {"from": "15550100001", "id": "wamid.catalog",
                        "referred_product": {"catalog_id": "354160437058781",
                                             "product_retailer_id": "HAMBURGER"}}
    moved = {"from_user_id": BSUID, "id": "wamid.moved", "timestamp": "1753851315", "type": "system",
             "system": {"body": "User A changed their phone number", "user_id": "US.99999999999999999999",
                        "type": "user_changed_number"}}
    events = parse(webhook_body(messages=[asked, moved]))
    message = next(e for e in events if isinstance(e, InboundMessage) and e.id == "wamid.asked")
    assert message.details["referred_product"]["product_retailer_id"] == "HAMBURGER"
    changed = next(e for e in events if isinstance(e, IdentityChanged))
    assert (changed.old.wa_id, changed.new.wa_id) == (f"{BSUID}@bsuid", "US.99999999999999999999@bsuid")


def test_a_failed_status_for_a_closed_window_says_so() -> None:
    # Meta's failed status for 131047 (error-codes reference: "Re-engagement message";
    # the same object as in pywa's failed status fixture, with that code).
    error = {"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
             "error_data": {"details": "Message failed to send because more than 24 hours have "
                                       "passed since the customer last replied to this number."}}
    body = webhook_body(statuses=[status("wamid.late", "failed", errors=[error])])
    ack = next(e for e in parse(body) if isinstance(e, Ack))
    assert ack.ack == -1 and ack.error is not None
    assert ack.error.startswith("outside the 24-hour customer service window")
    assert "131047 Re-engagement message" in ack.error


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
                               error=f"{WINDOW_CLOSED} — 131047 Re-engagement message: more than 24 hours")]


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
])
def test_malformed_webhooks_raise(body: bytes) -> None:
    with pytest.raises(WebhookError):
        parse(body)


def test_one_unreadable_message_is_skipped_and_reported_not_the_batch() -> None:
    body = webhook_body(messages=[
        inbound("text", {"body": "before"}, message_id="ok1"),
        {"type": "text", "text": {"body": "no sender, no id"}},  # unreadable
        {**inbound("text", {"body": "bad time"}, message_id="bad2"), "timestamp": "yesterday"},
        "not an object",
        inbound("text", {"body": "after"}, message_id="ok2"),
    ], statuses=[status("wamid.S", "read"), {"status": "read"}])
    parsed = parse_report(body)
    assert [e.id for e in parsed.events if isinstance(e, InboundMessage)] == ["ok1", "ok2"]
    assert [e.id for e in parsed.events if isinstance(e, Ack)] == ["wamid.S"]
    assert len(parsed.problems) == 4 and "bad2" in parsed.problems[1]
    not_a_list = b'{"entry": [{"changes": [{"field": "messages", "value": {"messages": "nope"}}]}]}'
    assert parse_report(not_a_list).problems == ["'messages' in a webhook change is not a list"]


async def test_receive_webhook_reports_events_in_order(engine: CloudEngine) -> None:
    body, headers = signed_webhook(SECRET, messages=[inbound("text", {"body": "one"}, message_id="w1")],
                                   statuses=[status("wamid.S", "delivered")], profiles={CUSTOMER: "Ana"})
    events = await engine.receive_webhook(body, headers["X-Hub-Signature-256"])
    assert engine.host.events[-2:] == events  # type: ignore[attr-defined]
    assert isinstance(events[0], InboundMessage) and events[0].sender.name == "Ana"
    assert isinstance(events[1], Ack) and events[1].ack == 2


async def test_a_status_that_may_have_beaten_its_send_is_applied_again(engine: CloudEngine) -> None:
    """Meta may post "sent"/"failed" for a message before the outbox has stored the id
    Meta gave it; the status is then applied once more a moment later."""
    engine._receiver.reapply_after = 0.05  # the production delay is 2 s
    sent = await engine.send(msg(body="hello"))
    body, headers = signed_webhook(SECRET, statuses=[status(sent.id, "failed", errors=[
        {"code": 131026, "title": "Message undeliverable"}]), status("wamid.long-ago", "read")])
    await engine.receive_webhook(body, headers["X-Hub-Signature-256"])
    acks = [e for e in engine.host.events if isinstance(e, Ack)]  # type: ignore[attr-defined]
    assert [(a.id, a.ack) for a in acks] == [(sent.id, -1), ("wamid.long-ago", 3)]
    await asyncio.sleep(0.2)
    again = [e for e in engine.host.events if isinstance(e, Ack)][2:]  # type: ignore[attr-defined]
    assert again == [acks[0]]  # only the one that may have raced its send


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



async def test_a_store_failure_costs_one_message_or_asks_meta_to_retry(engine: CloudEngine) -> None:
    """The host (the session manager's side) refuses one message, and fails another as a
    database outage would: the refused one is alerted and skipped, the outage makes the
    POST fail (Meta retries; stored messages are idempotent), the rest is reported."""
    host = engine.host
    refused: list[object] = []

    async def emit(event: object) -> None:
        if isinstance(event, InboundMessage) and event.id == "refused":
            raise ValidationError.field("body", "not storable")
        if isinstance(event, IdentityMapped):
            refused.append(event)
            raise ValidationError.field("phoneNumber", "not a possible phone number")
        if isinstance(event, InboundMessage) and event.id == "outage":
            raise OSError("database is away")
        host.events.append(event)  # type: ignore[attr-defined]

    host.emit = emit  # type: ignore[method-assign]
    messages = [inbound("text", {"body": b}, message_id=b) for b in ("first", "refused", "last")]
    messages[0]["from_user_id"] = "US.13491208655302741918"  # a user id beside the phone
    body, headers = signed_webhook(SECRET, messages=messages)
    events = await engine.receive_webhook(body, headers["X-Hub-Signature-256"])
    assert [e.id for e in events if isinstance(e, InboundMessage)] == ["first", "last"]
    (alert,) = [e for e in events if isinstance(e, SessionAlert)]  # the refused message only
    assert alert.code == "WEBHOOK_MESSAGE_SKIPPED" and "refused" in alert.detail
    await engine.receive_webhook(body, headers["X-Hub-Signature-256"])  # Meta's retry
    assert len(refused) == 1  # a merge refused once is logged once, not on every message
    outage, headers = signed_webhook(SECRET, messages=[
        inbound("text", {"body": "x"}, message_id="outage"), inbound("text", {"body": "y"}, message_id="ok")])
    with pytest.raises(TransientEngineError, match="database is away"):
        await engine.receive_webhook(outage, headers["X-Hub-Signature-256"])
    assert [e.id for e in host.events if isinstance(e, InboundMessage)][-1] == "ok"  # type: ignore[attr-defined]


async def test_only_the_customers_own_messages_open_the_reply_window(engine: CloudEngine) -> None:
    def for_engine(name: str) -> bytes:
        body = raw(name).replace(b'"1122334455667"', f'"{engine.phone_number_id}"'.encode())
        return body.replace(b'"1697043223"', f'"{int(time.time())}"'.encode())

    echo = for_engine("echo_text")  # the business wrote from the WhatsApp Business app
    await engine.receive_webhook(echo, signature(echo, SECRET))
    assert "972987654321" not in engine._last_inbound and "972123456789" not in engine._last_inbound
    text = for_engine("text")  # the customer wrote
    await engine.receive_webhook(text, signature(text, SECRET))
    assert engine._last_inbound["972987654321"] > time.time() - 60
