"""Meta's real webhook payloads through the whole of wacc: every fixture stored as what
it is, username-only customers (business-scoped user ids) as one contact with their
phone once known, one bad message skipped and alerted, Meta's value.errors recorded,
and a customer's number change followed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.cloud.meta_fixtures import (
    FIXTURE_DISPLAY_NUMBER,
    FIXTURE_NUMBER_ID,
    fixture,
    names,
    with_status_id,
)
from tests.cloud.wired import cloud_session, now_ts, signed, until
from tests.fakes.graph_api import FakeGraphAPI, inbound, webhook_body
from tests.helpers import API, PASSWORD, bearer, register
from tests.ui_support import ui_login
from wacc.contacts.tables import Contact
from wacc.conversations.tables import Conversation
from wacc.messages.tables import Message
from wacc.sessions.tables import WhatsAppSession

BSUID = "US.13491208655302741918"
PHONE = "+972987654321"


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphAPI]:
    async with FakeGraphAPI(phone_number_id=FIXTURE_NUMBER_ID,
                            display_phone_number=f"+{FIXTURE_DISPLAY_NUMBER}").serve() as fake:
        yield fake


@pytest.fixture
async def line(client: Any, graph: FakeGraphAPI, wa: Any) -> tuple[dict[str, str], str]:
    owner = bearer((await register(client))["accessToken"])
    await wa()
    return owner, await cloud_session(client, owner, graph)


async def _post(client: Any, sid: str, body: dict[str, Any] | bytes) -> dict[str, Any]:
    raw, headers = signed(body)
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/webhook", content=raw, headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _row(wamid: str) -> dict[str, Any]:
    row = await Message.select().where(
        Message.whatsapp_message_id == wamid).output(load_json=True).first()
    assert row is not None, f"{wamid} was not stored"
    return dict(row)


async def _reply(client: Any, owner: dict[str, str], conversation: str, text: str) -> dict[str, Any]:
    r = await client.post(f"{API}/conversations/{conversation}/messages", headers=owner,
                          json={"body": text})
    assert r.status_code == 201, r.text
    mid = r.json()["id"]

    async def done() -> Any:
        m = (await client.get(f"{API}/messages/{mid}", headers=owner)).json()
        return m["status"] in ("SENT", "FAILED") and m

    return dict(await until(done))


# What each message fixture becomes once stored: type, body, and what its metadata keeps.
STORED: dict[str, dict[str, Any]] = {
    "text": {"type": "TEXT", "body": "Body Text"},
    "reply": {"type": "TEXT", "body": "replied text", "meta": {"quotedId": "wamid.xyzxyz=="}},
    "referral": {"type": "TEXT", "body": "BODY", "details": ["referral"]},
    "image": {"type": "IMAGE", "body": None, "pending": "65463453"},
    "video_forwarded": {"type": "VIDEO", "body": "caption", "pending": "765756756",
                        "details": ["forwarded"]},
    "document": {"type": "DOCUMENT", "body": "caption", "pending": "1234567890987654321",
                 "details": ["forwarded"]},
    "voice": {"type": "AUDIO", "body": None, "pending": "1234567890987654321",
              "details": ["media"]},
    "sticker_animated": {"type": "STICKER", "body": None, "pending": "1234567890987654321",
                         "details": ["media"]},
    "location_chosen": {"type": "LOCATION", "body": None, "details": ["forwarded", "location"],
                        "meta": {"location": {"latitude": 37.4611978, "longitude": -122.2164385,
                                              "name": "Facebook HQ",
                                              "address": "1 Hacker Way, Menlo Park, CA 94025"}}},
    "contacts": {"type": "CONTACT", "body": None},
    "interactive_button_reply": {"type": "TEXT", "body": "title", "details": ["interactive"]},
    "interactive_list_reply": {"type": "TEXT", "body": "title", "details": ["interactive"]},
    "interactive_nfm_reply": {"type": "TEXT", "details": ["flow"],
                              "body": "Form response: comment_text: Comment Text; delivery_rating: 4; "
                                      "purchase_rating: 2; recommend_radio: 0; cs_rating: 0"},
    "button_quick_reply": {"type": "TEXT", "body": "title", "details": ["button"]},
    "order": {"type": "TEXT", "details": ["order"],
              "body": "Order: 3 x HAMBURGER at 30 ILS, 2 x FRENCH_FRIES at 35 ILS, 2 x SODA at 10 ILS"},
    "unsupported_with_type": {"type": "UNSUPPORTED", "body": None, "details": ["unsupported"]},
    "request_welcome": {"type": "UNSUPPORTED", "details": ["unsupported"],
                        "body": "Opened the chat for the first time (request_welcome)"},
    "interactive_with_value_errors": {"type": "UNSUPPORTED", "body": None, "details": ["unsupported"]},
    "username_only": {"type": "TEXT", "body": "this is a text message", "details": ["username"]},
    "username_only_parent_bsuid": {"type": "TEXT", "body": "this is a text message",
                                   "details": ["username"]},
    "image_with_url": {"type": "IMAGE", "body": None, "pending": "65463453"},
    "audio": {"type": "AUDIO", "body": None, "pending": "1234567890987654321",
              "details": ["forwarded", "media"]},
    "sticker": {"type": "STICKER", "body": None, "pending": "1234567890987654321", "details": ["media"]},
    "location_current": {"type": "LOCATION", "body": None, "details": ["forwarded"],
                         "meta": {"location": {"latitude": 12.25089, "longitude": 43.90539,
                                               "name": None, "address": None}}},
    "unsupported": {"type": "UNSUPPORTED", "body": None, "details": ["unsupported"]},
    "button_with_from_user_id": {"type": "TEXT", "body": "title", "details": ["button"]},
    "system_identity_changed": {"type": "UNSUPPORTED", "body": "User identity changed",
                                "details": ["identity", "unsupported"]},
}
# Fixtures whose effect is not a message of their own, or that change the contact: the
# other tests of this module post them.
ELSEWHERE = {"echo_text", "echo_edit", "echo_revoke", "reaction", "reaction_removed",
             "reaction_removed_no_emoji", "edit", "revoke",
             "system_user_changed_number", "system_user_changed_number_meta_reference",
             "batch_entries_and_numbers", "status_sent", "status_delivered", "status_read",
             "status_played", "status_failed", "status_with_tracker", "status_delivered_to_user_id",
             "other_field_account_update", "other_field_template_status"}


def test_every_fixture_is_posted_by_a_test() -> None:
    assert sorted(set(STORED) | ELSEWHERE) == names()


async def test_every_message_fixture_is_stored_as_what_it_is(client: Any, line: Any) -> None:
    _, sid = line
    for name in STORED:
        await _post(client, sid, fixture(name))
    for name, want in STORED.items():
        wamid = fixture(name)["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        row = await _row(wamid)
        assert (row["type"], row["body"], row["direction"]) == (want["type"], want["body"], "INBOUND"), name
        meta = row["metadata"]
        for key, value in want.get("meta", {}).items():
            assert meta[key] == value, name
        assert sorted(meta.get("details", {})) == sorted(want.get("details", [])), name
        if "pending" in want:  # stored at once; the file is fetched by a job afterwards
            assert row["media_url"] is None and meta["media"]["pending"]["fetch"] == want["pending"], name
    unsupported = (await _row("wamid.fixture.unsupported_with_type"))["metadata"]["details"]["unsupported"]
    assert unsupported["type"] == "unsupported:pool" and unsupported["error"].startswith("131051")
    order = (await _row("wamid.fixture.order"))["metadata"]["details"]["order"]
    assert [i["product_retailer_id"] for i in order["product_items"]] == ["HAMBURGER", "FRENCH_FRIES", "SODA"]
    flow = (await _row("wamid.fixture.interactive_nfm_reply"))["metadata"]["details"]["flow"]
    assert flow["response"]["flow_token"] == "AQAAAAACS5FpgQ_cAAAAAD0QI3s."
    # The phone and the user id Meta sent with it are one contact (and the username-only
    # message, by user id alone, joined it); everything is in one conversation.
    contacts = await Contact.select().where(Contact.organization.is_not_null())
    assert [(c["phone_number"], c["lid"], c["name"]) for c in contacts] == [
        (PHONE, f"{BSUID}@bsuid", "Test Name")]
    assert await Conversation.count() == 1
    await ui_login(client, "owner@example.com", PASSWORD)
    page = (await client.get(f"/inbox/{(await Conversation.select().first())['id']}")).text
    assert "A message wacc cannot show (unsupported:pool): 131051 Message type unknown" in page
    assert "Order: 3 x HAMBURGER at 30 ILS" in page and "Image arriving…" in page
    # value.errors: recorded on the session, which stays connected.
    session = await WhatsAppSession.select().where(WhatsAppSession.id == sid).first()
    assert session["last_error"].startswith("131000: Meta reported: 131000 Something went wrong")
    assert session["status"] == "CONNECTED"


async def test_edits_revokes_reactions_and_statuses_reach_the_stored_message(
        client: Any, line: Any, graph: FakeGraphAPI, worker: Any) -> None:
    owner, sid = line
    await _post(client, sid, now_ts(fixture("text")))
    await _post(client, sid, now_ts(fixture("reply")))
    text = await _row("wamid.fixture.text")
    wow = {f"{PHONE[1:]}@c.us": "😮"}
    for name, now in (("reaction", wow), ("reaction", wow), ("reaction_removed_no_emoji", {}),
                      ("reaction_removed", {})):
        # the second is Meta's retry of the first, the last says the same as the third
        body = fixture(name)
        message = body["entry"][0]["changes"][0]["value"]["messages"][0]
        message["reaction"]["message_id"] = "wamid.fixture.text"
        await _post(client, sid, body)
        assert (await _row("wamid.fixture.text"))["metadata"]["reactions"] == now, name
    assert len((await _row("wamid.fixture.text"))["metadata"]["reactionHistory"]) == 2
    edit = fixture("edit")
    edit["entry"][0]["changes"][0]["value"]["messages"][0]["edit"]["original_message_id"] = \
        "wamid.fixture.reply"
    await _post(client, sid, edit)
    edited = await _row("wamid.fixture.reply")
    assert edited["body"] == "Updated image caption"
    assert edited["metadata"]["edits"][0]["body"] == "replied text"
    await _post(client, sid, fixture("revoke"))  # revokes the text fixture
    assert (await _row("wamid.fixture.text"))["metadata"]["revoked"]["body"] == "Body Text"

    graph.customer_wrote(PHONE)
    sent = await _reply(client, owner, text["conversation"], "Thanks!")
    assert sent["status"] == "SENT", sent
    for name, (status, ack) in {"status_sent": ("SENT", 1), "status_with_tracker": ("SENT", 1),
                                "status_delivered": ("DELIVERED", 2), "status_read": ("READ", 3),
                                "status_played": ("READ", 4)}.items():
        await _post(client, sid, with_status_id(fixture(name), sent["whatsappMessageId"]))
        row = await _row(sent["whatsappMessageId"])
        assert (row["status"], row["ack_status"]) == (status, ack), name
    failed = await _reply(client, owner, text["conversation"], "This one bounces")
    await _post(client, sid, with_status_id(fixture("status_failed"), failed["whatsappMessageId"]))
    row = await _row(failed["whatsappMessageId"])
    assert row["status"] == "FAILED"
    assert row["error"].startswith("130472 User's number is part of an experiment")


async def test_a_username_only_customer_is_answered_by_user_id_then_joined_by_phone(
        client: Any, line: Any, graph: FakeGraphAPI, worker: Any) -> None:
    owner, sid = line
    await _post(client, sid, now_ts(fixture("username_only")))
    first = await _row("wamid.fixture.username_only")
    contact = await Contact.select().first()
    assert (contact["whatsapp_id"], contact["phone_number"], contact["lid"], contact["name"]) == (
        f"{BSUID}@bsuid", "", f"{BSUID}@bsuid", "test user name")
    graph.customer_wrote(BSUID)  # Meta knows the window by user id too
    sent = await _reply(client, owner, first["conversation"], "Hello! How can we help?")
    assert sent["status"] == "SENT", sent
    (body,) = graph.sent()
    assert body["recipient"] == BSUID and "to" not in body  # Meta: "recipient" for a BSUID
    delivered = with_status_id(fixture("status_delivered_to_user_id"), sent["whatsappMessageId"])
    await _post(client, sid, delivered)
    assert (await _row(sent["whatsappMessageId"]))["status"] == "DELIVERED"

    # Later Meta knows their phone: same user id, now with "from" and "wa_id".
    later = now_ts(fixture("text"))
    later["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = "wamid.later"
    await _post(client, sid, later)
    assert await Contact.count() == 1
    contact = await Contact.select().first()
    assert (contact["phone_number"], contact["lid"]) == (PHONE, f"{BSUID}@bsuid")
    assert await Conversation.count() == 1
    assert (await _row("wamid.later"))["conversation"] == first["conversation"]
    graph.customer_wrote(PHONE)
    again = await _reply(client, owner, first["conversation"], "Got it")
    assert again["status"] == "SENT" and graph.sent()[-1]["to"] == PHONE[1:]  # the phone, once known


async def test_one_malformed_message_is_recorded_and_skipped_the_rest_is_stored(
        client: Any, server: Any, line: Any) -> None:
    owner, sid = line
    good = [inbound("text", {"body": f"message {i}"}, sender=PHONE[1:], message_id=f"wamid.ok{i}")
            for i in range(3)]
    broken = {"id": "wamid.broken", "type": "text", "text": {"body": "who sent this?"}}  # no sender
    bad_time = {**inbound("text", {"body": "when?"}, sender=PHONE[1:], message_id="wamid.badtime"),
                "timestamp": "yesterday"}
    body = json.loads(webhook_body(messages=[good[0], broken, good[1], bad_time, good[2]],
                                   phone_number_id=FIXTURE_NUMBER_ID))
    org = (await client.get(f"{API}/auth/me", headers=owner)).json()["organizationId"]
    async with server.app.state["runtime"].bus.subscribe(f"org:{org}") as events:
        answer = await _post(client, sid, body)  # Meta gets 200: nothing to retry
        alerts = []
        async for _, payload in events:
            if payload["type"] == "session:alert":
                alerts.append(payload)
                if len(alerts) == 2:
                    break
    assert {a["sessionId"] for a in alerts} == {sid}
    assert [a["code"] for a in alerts] == ["WEBHOOK_MESSAGE_SKIPPED"] * 2
    assert "wamid.broken" in alerts[0]["detail"] and "wamid.badtime" in alerts[1]["detail"]
    assert answer["received"] >= 3
    stored = {r["whatsapp_message_id"] for r in await Message.select(Message.whatsapp_message_id)}
    assert stored == {"wamid.ok0", "wamid.ok1", "wamid.ok2"}
    session = await WhatsAppSession.select().where(WhatsAppSession.id == sid).first()
    assert session["last_error"].startswith("WEBHOOK_MESSAGE_SKIPPED: message wamid.badtime")
    assert session["status"] == "CONNECTED"


async def test_other_webhook_fields_are_answered_200_and_store_nothing(client: Any, line: Any) -> None:
    """Meta posts every subscribed field to the same URL: account updates and template
    reviews are not conversations. Answered 200 (an error would be retried for days),
    nothing stored, the session untouched, on the session URL and the app URL alike."""
    _, sid = line
    for name in ("other_field_account_update", "other_field_template_status"):
        assert (await _post(client, sid, fixture(name)))["received"] == 0, name
        raw, headers = signed(fixture(name))
        r = await client.post(f"{API}/whatsapp/cloud/webhook", content=raw, headers=headers)
        assert r.status_code == 200 and r.json()["received"] == 0, (name, r.text)
    # A field wacc does not read is not checked either, whatever its value looks like.
    odd = fixture("other_field_account_update")
    odd["entry"][0]["changes"][0]["value"] = ["not", "an", "object"]
    assert (await _post(client, sid, odd))["received"] == 0
    assert await Message.count() == 0
    session = await WhatsAppSession.select().where(WhatsAppSession.id == sid).first()
    assert session["status"] == "CONNECTED" and session["last_error"] is None


async def test_a_number_change_moves_the_contact_to_the_new_number(client: Any, line: Any) -> None:
    _, sid = line
    await _post(client, sid, fixture("text"))
    old = await Contact.select().first()
    await _post(client, sid, fixture("system_user_changed_number"))
    contacts = await Contact.select()
    assert [(c["id"], c["phone_number"], c["whatsapp_id"]) for c in contacts] == [
        (old["id"], "+972912345678", "972912345678@c.us")]
    notice = await _row("wamid.fixture.system_user_changed_number")
    assert notice["type"] == "UNSUPPORTED" and "972912345678" in notice["body"]
    assert await Conversation.count() == 1
    # Meta's reference example: a customer whose new number already wrote before is one
    # contact afterwards (the old one merged into it).
    for sender, wamid in (("16505551234", "wamid.old"), ("12195555358", "wamid.new")):
        await _post(client, sid, json.loads(webhook_body(
            messages=[inbound("text", {"body": "hi"}, sender=sender, message_id=wamid)],
            phone_number_id=FIXTURE_NUMBER_ID)))
    assert await Contact.count() == 3
    await _post(client, sid, fixture("system_user_changed_number_meta_reference"))
    phones = sorted(c["phone_number"] for c in await Contact.select())
    assert phones == ["+12195555358", "+972912345678"]
    new = await Contact.select().where(Contact.phone_number == "+12195555358").first()
    threads = await Conversation.select().where(Conversation.contact == new["id"])
    assert {(await _row(w))["conversation"] for w in ("wamid.old", "wamid.new")} <= {t["id"] for t in threads}


async def test_a_new_user_id_moves_a_username_only_contact(client: Any, line: Any) -> None:
    """Meta's ``user_changed_user_id`` system message; its fields (``system.user_id``,
    ``type``, no ``wa_id`` for a username user, ``from_user_id`` on the message) are those
    of whatsapp-api-js src/types.ts ServerSystemMessage / ServerMessage."""
    _, sid = line
    await _post(client, sid, fixture("username_only"))
    body = fixture("username_only")
    value = body["entry"][0]["changes"][0]["value"]
    value.pop("contacts")  # system messages carry no contacts array (Meta's reference)
    value["messages"] = [{"from_user_id": BSUID, "id": "wamid.newid", "timestamp": "1504903000",
                          "type": "system", "system": {"type": "user_changed_user_id",
                                                       "user_id": "US.99887766554433221100",
                                                       "body": "user id changed"}}]
    await _post(client, sid, body)
    (contact,) = await Contact.select()
    assert (contact["whatsapp_id"], contact["lid"], contact["phone_number"]) == (
        "US.99887766554433221100@bsuid", "US.99887766554433221100@bsuid", "")
    later = fixture("username_only")
    message = later["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update(id="wamid.after", from_user_id="US.99887766554433221100")
    later["entry"][0]["changes"][0]["value"]["contacts"][0]["user_id"] = "US.99887766554433221100"
    await _post(client, sid, later)
    assert await Contact.count() == 1 and await Conversation.count() == 1


async def test_messages_sent_from_the_business_app_are_stored_as_ours(client: Any, line: Any) -> None:
    """Coexistence numbers: smb_message_echoes (sent, edited, deleted in the WhatsApp
    Business app) land in the customer's thread as the business's own messages."""
    _, sid = line
    await _post(client, sid, fixture("text"))
    await _post(client, sid, fixture("echo_text"))
    echo = await _row("wamid.fixture.echo_text")
    text = await _row("wamid.fixture.text")
    assert (echo["direction"], echo["body"], echo["conversation"]) == ("OUTBOUND", "Test message",
                                                                     text["conversation"])
    await _post(client, sid, fixture("echo_edit"))
    assert (await _row("wamid.fixture.echo_text"))["body"] == "Text was edited"
    await _post(client, sid, fixture("echo_revoke"))
    assert (await _row("wamid.fixture.echo_text"))["metadata"]["revoked"]["body"] == "Text was edited"
    assert await Contact.count() == 1
