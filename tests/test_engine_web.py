"""The ``web`` engine against the REAL wa-js over a stand-in WhatsApp Web, in Chromium, offline.

The stand-in (tests/fakes/whatsapp_web) is served at https://web.whatsapp.com/ through
Playwright routing under a nonce CSP. The engine injects the real, hash-checked wa-js
4.6.0 bundle and our adapter exactly as in production; wa-js finds the stand-in's
WhatsApp modules with its own loader and runs its own code for every call and event.
What reached "WhatsApp" is read back from the stand-in's stores and call log.

Tests marked slow start Chromium.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.whatsapp_web import FakeWhatsAppWeb
from tests.web_engine_support import (
    CUSTOMER,
    CUSTOMER_ID,
    DRIVER,
    HAVE_CHROMIUM,
    PNG,
    RecordingHost,
    browser,
    has,
    parent_pid,
    peer,
    wait_until,
)
from wacc.assets import vendor_manifest
from wacc.engines.contract import (
    Ack,
    BlockChanged,
    Edited,
    IdentityMapped,
    InboundMessage,
    Location,
    Media,
    OutboundMessage,
    Peer,
    PermanentEngineError,
    Poll,
    Reaction,
    Ready,
    Revoked,
    StateChanged,
    TransientEngineError,
)
from wacc.engines.web.actions import whatsapp_message_id
from wacc.engines.web.browser import (
    process_cmdline,
)
from wacc.engines.web.driver import PlaywrightDriver
from wacc.engines.web.engine import WebEngine

ME_LID = "990000000000001@lid"  # the stand-in account's hidden id (control.js)
# A customer WhatsApp knows by a hidden id: their chat is keyed "@lid", not by phone.
LID = "99887766@lid"
LID_PHONE = "15557654321"
GROUP = "120363000000000001@g.us"
MEMBER = "44556677@lid"

# -- a logged-in session shared by the traffic tests ----------------------------------------


class Session:
    def __init__(self, engine: WebEngine, fake: FakeWhatsAppWeb, host: RecordingHost) -> None:
        self.engine, self.fake, self.host = engine, fake, host


@pytest.fixture(scope="module")
async def session(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Session]:
    if not HAVE_CHROMIUM:
        pytest.skip("Chromium is not installed")
    fake = FakeWhatsAppWeb(
        paired=True, lids={LID: LID_PHONE},
        groups=[{"id": GROUP, "subject": "Support", "participants": [{"id": MEMBER}, {"id": LID}]}],
    )
    host = RecordingHost(tmp_path_factory.mktemp("web-session"))
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    await host.wait_for(Ready)
    yield Session(engine, fake, host)
    await engine.stop()


@browser
@pytest.mark.slow
async def test_injection_real_wa_js_config_user_agent_and_csp(session: Session) -> None:
    fake = session.fake
    # The vendored wa-js runs and found WhatsApp's modules with its own "meta" loader.
    version = vendor_manifest()["packages"]["@wppconnect/wa-js"]["version"]
    assert await fake.evaluate("() => [WPP.version, WPP.loader.loaderType, WPP.isFullReady]") == [
        version, "meta", True]
    standin_stream = "window.__standin.require('WAWebStreamModel').Stream"
    assert await fake.evaluate(f"() => WPP.whatsapp.Stream === {standin_stream}")
    assert await fake.evaluate("() => window.WPPConfig.disableGoogleAnalytics") is True
    assert await fake.evaluate("() => window.WPPConfig.linkPreviewApiServers.length") == 0
    user_agent = await fake.evaluate("() => navigator.userAgent")
    assert "HeadlessChrome" not in user_agent and "Chrome/" in user_agent
    # The page runs under a nonce CSP: a <script> tag would not have run...
    await fake.call("injectScriptTag", "window.__tagRan = true")
    assert await fake.evaluate("() => window.__tagRan === undefined") is True
    # ...while the adapter, injected as an init script, did.
    assert await fake.evaluate("() => typeof window.__wacc.call") == "function"
    assert fake.nonces


@browser
@pytest.mark.slow
async def test_inbound_messages_of_every_type(session: Session) -> None:
    fake, host, engine = session.fake, session.host, session.engine
    png_b64 = base64.b64encode(PNG).decode()
    sha_b64 = base64.b64encode(hashlib.sha256(PNG).digest()).decode()
    text_id = await fake.inbound(**{"from": CUSTOMER_ID, "notifyName": "Carla", "body": "hi there"})
    first = await host.wait_for(InboundMessage, lambda m: m.id == text_id)
    assert text_id.startswith(f"false_{CUSTOMER_ID}_")
    assert first.chat == Peer(wa_id=CUSTOMER_ID, phone=f"+{CUSTOMER}")
    assert first.sender == Peer(wa_id=CUSTOMER_ID, phone=f"+{CUSTOMER}", name="Carla")
    assert (first.type, first.body, first.from_me) == ("TEXT", "hi there", False)

    media = {"data": png_b64, "mimetype": "image/png", "filehash": sha_b64}
    # (what WhatsApp delivers, what the engine must report: attribute paths -> values)
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"body": "a reply", "quoted": {"id": text_id.split("_")[2], "participant": CUSTOMER_ID}},
         {"type": "TEXT", "body": "a reply", "quoted_id": text_id}),
        ({"type": "image", "caption": "look", "media": media},
         {"type": "IMAGE", "body": "look", "media.mime_type": "image/png", "media.size": len(PNG),
          "media.sha256": hashlib.sha256(PNG).hexdigest()}),
        ({"type": "video", "media": {**media, "mimetype": "video/mp4"}},
         {"type": "VIDEO", "media.mime_type": "video/mp4", "body": None}),
        # A round video note: a VIDEO, never TEXT with the base64 preview as body.
        ({"type": "ptv", "media": {**media, "mimetype": "video/mp4"}},
         {"type": "VIDEO", "body": None, "raw": {"wa_type": "ptv", "video_note": True}}),
        ({"type": "ptt", "media": {**media, "mimetype": "audio/ogg; codecs=opus"}},
         {"type": "AUDIO", "raw": {"wa_type": "ptt", "voice_note": True}}),
        ({"type": "document",
          "media": {**media, "mimetype": "application/pdf", "filename": "invoice.pdf"}},
         {"type": "DOCUMENT", "media.filename": "invoice.pdf"}),
        ({"type": "sticker", "media": {**media, "mimetype": "image/webp"}},
         {"type": "STICKER", "media.mime_type": "image/webp"}),
        ({"type": "location", "fields": {"lat": 52.52, "lng": 13.405, "loc": "Cafe\nMain St 1"}},
         {"type": "LOCATION",
          "location": Location(latitude=52.52, longitude=13.405, name="Cafe", address="Main St 1")}),
        ({"type": "vcard", "body": "BEGIN:VCARD\nFN:Ann\nEND:VCARD"},
         {"type": "CONTACT", "vcard": "BEGIN:VCARD\nFN:Ann\nEND:VCARD"}),
        ({"type": "multi_vcard", "fields": {"vcardList": [{"vcard": "A"}, {"vcard": "B"}]}},
         {"type": "CONTACT", "vcard": "A\nB"}),
        ({"type": "poll_creation", "fields": {"pollName": "Lunch?", "pollSelectableOptionsCount": 1,
                                              "pollOptions": [{"name": "Yes"}, {"name": "No"}]}},
         {"type": "POLL", "poll": Poll(question="Lunch?", options=["Yes", "No"])}),
        # A type WhatsApp added after this adapter: kept as UNSUPPORTED, no binary body.
        ({"type": "future_type", "body": "/9j/4AAQSkZJRgABAQ=="},
         {"type": "UNSUPPORTED", "body": None, "raw": {"wa_type": "future_type"},
          "details": {"unsupported": {"type": "future_type"}}}),
        ({"fromMe": True, "body": "typed on the phone"},
         {"type": "TEXT", "from_me": True, "sender.wa_id": "15550000001@c.us", "chat.wa_id": CUSTOMER_ID}),
    ]
    ids = []
    for spec, expected in cases:
        message_id = await fake.inbound(**{"from": CUSTOMER_ID, **spec})
        ids.append(message_id)
        message = await host.wait_for(InboundMessage, has(id=message_id))
        assert {path: attribute(message, path) for path in expected} == expected, spec
    # A system notice (encryption changed, ...) is not a message anyone wrote; a status
    # update and a channel post are not conversations.
    channel = "120363111111111111@newsletter"
    skipped = [
        await fake.inbound(**{"from": CUSTOMER_ID, "type": "e2e_notification"}),
        await fake.inbound(**{"chat": "status@broadcast", "from": CUSTOMER_ID, "body": "my status"}),
        await fake.inbound(**{"chat": channel, "from": channel, "body": "channel post"}),
    ]
    follow_id = await fake.inbound(**{"from": CUSTOMER_ID, "body": "next"})
    await host.wait_for(InboundMessage, has(id=follow_id))
    assert not [e for e in host.of(InboundMessage) if e.id in skipped]

    # Media is fetched on demand through the handle, by wa-js's downloadMedia.
    image = next(e for e in host.of(InboundMessage) if e.id == ids[1])
    assert image.media is not None and image.media.fetch == ids[1]
    assert await engine.download_media(image.media) == PNG
    with pytest.raises(PermanentEngineError) as refused:
        await engine.download_media(Media(mime_type="image/png", fetch=f"false_{CUSTOMER_ID}_NOPE"))
    assert refused.value.code == "MSG_NOT_FOUND"

    # A customer known by a hidden id writes in their @lid chat; a group member too.
    # wa-js's getPnLidEntry reveals the phone number behind each.
    lid_id = await fake.inbound(**{"from": LID, "body": "from a hidden id"})
    lid_msg = await host.wait_for(InboundMessage, lambda m: m.id == lid_id)
    assert lid_id.startswith(f"false_{LID}_") and lid_msg.chat == Peer(wa_id=LID)
    await fake.call("addLid", MEMBER, "15550002222")
    group_id = await fake.inbound(**{"chat": GROUP, "from": MEMBER, "notifyName": "Max",
                                     "body": "from the group"})
    group_msg = await host.wait_for(InboundMessage, lambda m: m.id == group_id)
    assert group_id == f"false_{GROUP}_{group_id.split('_')[2]}_{MEMBER}"
    assert group_msg.chat == Peer(wa_id=GROUP, name="Support")  # the subject, from the chat
    assert group_msg.sender == Peer(wa_id=MEMBER, name="Max")
    assert await host.wait_for(IdentityMapped, lambda i: i.lid == LID) == IdentityMapped(
        lid=LID, phone=f"+{LID_PHONE}")
    assert await host.wait_for(IdentityMapped, lambda i: i.lid == MEMBER) == IdentityMapped(
        lid=MEMBER, phone="+15550002222")


def attribute(obj: Any, path: str) -> Any:
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj


def own_key(chat: str, message_id: str) -> str:
    """The key WhatsApp stores our sent message under (wa-js generateMessageID.ts)."""
    return f"true_{chat}_{message_id}" + (f"_{ME_LID}" if chat.endswith("@g.us") else "")


@browser
@pytest.mark.slow
@pytest.mark.parametrize(("to", "chat"), [(Peer(wa_id=f"{LID_PHONE}@c.us", phone=f"+{LID_PHONE}"), LID),
                                          (Peer(wa_id=GROUP), GROUP)], ids=["lid-chat", "group"])
async def test_every_type_is_sent_with_the_key_of_the_resolved_chat(
    session: Session, tmp_path: Path, to: Peer, chat: str
) -> None:
    engine, fake = session.engine, session.fake
    tag = chat.split("@")[0]
    quoted = await fake.inbound(**{"chat": chat, "from": MEMBER if chat == GROUP else chat, "body": "q"})
    doc = tmp_path / "terms.pdf"
    doc.write_bytes(b"%PDF-1.4 terms")
    png = Media(mime_type="image/png", data=PNG, filename="dot.png")
    vcard = ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Example\r\n"
             "TEL;type=CELL;waid=15559990000:+1 555 999 0000\r\nEND:VCARD")
    messages = [
        (OutboundMessage(idempotency_key=f"{tag}-text", to=to, body="hello", quoted_id=quoted),
         {"type": "chat", "body": "hello"}),
        (OutboundMessage(idempotency_key=f"{tag}-image", to=to, type="IMAGE", body="a dot", media=png),
         {"type": "image", "caption": "a dot"}),
        (OutboundMessage(idempotency_key=f"{tag}-video", to=to, type="VIDEO",
                         media=Media(mime_type="video/mp4", data=b"mp4")), {"type": "video"}),
        (OutboundMessage(idempotency_key=f"{tag}-audio", to=to, type="AUDIO",
                         media=Media(mime_type="audio/ogg", data=b"ogg")), {"type": "audio"}),
        (OutboundMessage(idempotency_key=f"{tag}-doc", to=to, type="DOCUMENT", body="terms",
                         media=Media(mime_type="application/pdf"), media_path=doc),
         {"type": "document", "caption": "terms"}),
        (OutboundMessage(idempotency_key=f"{tag}-sticker", to=to, type="STICKER",
                         media=Media(mime_type="image/webp", data=b"webp")), {"type": "sticker"}),
        (OutboundMessage(idempotency_key=f"{tag}-loc", to=to, type="LOCATION",
                         location=Location(latitude=1.5, longitude=2.5, name="HQ", address="Road 1")),
         {"type": "location"}),
        (OutboundMessage(idempotency_key=f"{tag}-contact", to=to, type="CONTACT", vcard=vcard),
         {"type": "vcard"}),
        (OutboundMessage(idempotency_key=f"{tag}-poll", to=to, type="POLL",
                         poll=Poll(question="When?", options=["Mon", "Tue"], selectable_count=2)),
         {"type": "poll_creation"}),
    ]
    for message, stored in messages:
        result = await engine.send(message)
        expected_id = whatsapp_message_id(engine.host.session_id, message.idempotency_key)
        assert result.id == own_key(chat, expected_id), message.type
        assert result.id is not None
        assert {k: v for k, v in (await fake.message(result.id)).items() if k in stored} == stored
    details = {m["id"]: m for m in await fake.evaluate(
        "() => window.__standin.require('WAWebMsgCollection').MsgCollection.map((m) => ({"
        " id: m.id.toString(), quoted: m.quotedStanzaID, lat: m.lat, loc: m.loc, poll: m.pollName,"
        " n: m.pollSelectableOptionsCount, vcard: m.body, filename: m.filename}))")}
    text_id = own_key(chat, whatsapp_message_id(engine.host.session_id, f"{tag}-text"))
    assert details[text_id]["quoted"] == quoted.split("_")[2]
    reaction = await engine.send(OutboundMessage(idempotency_key=f"{tag}-react", to=to, type="REACTION",
                                                 body="👍", reaction_to=quoted))
    assert reaction.id
    assert (await fake.calls("sendReactionToMsg"))[-1]["args"] == [quoted, "👍"]
    assert any(d["lat"] == 1.5 and d["loc"] == "HQ\nRoad 1" for d in details.values())
    assert any(d["poll"] == "When?" and d["n"] == 2 for d in details.values())
    assert any("waid=15559990000" in str(d["vcard"]) and "Ann Example" in str(d["vcard"])
               for d in details.values())
    assert any(d["filename"] == "terms.pdf" for d in details.values())
    # Every send resolved the chat through WhatsApp's findOrCreateLatestChat.
    assert {c["args"][0] for c in await fake.calls("addAndSendMsgToChat")} >= {chat}


@browser
@pytest.mark.slow
async def test_other_actions_use_the_resolved_chat(session: Session) -> None:
    engine, fake, host = session.engine, session.fake, session.host
    to = Peer(wa_id=f"{LID_PHONE}@c.us", phone=f"+{LID_PHONE}")
    await fake.inbound(**{"from": LID, "body": "open the chat"})
    sent = await engine.send(OutboundMessage(idempotency_key="k-actions", to=to, body="helo"))
    assert sent.id is not None and sent.id.startswith(f"true_{LID}_")
    await engine.edit(to, sent.id, "hello")
    assert (await fake.message(sent.id))["body"] == "hello"
    edited = await host.wait_for(Edited, lambda e: e.id == sent.id)
    assert edited.body == "hello" and edited.chat.wa_id == LID
    await engine.mark_read(to, [])
    await engine.typing(to, True)
    await engine.typing(to, False)
    assert (await fake.calls("sendSeen"))[-1]["args"] == [LID]
    assert (await fake.calls("markComposing"))[-1]["args"] == [LID]
    assert (await fake.calls("markPaused"))[-1]["args"] == [LID]
    with pytest.raises(PermanentEngineError) as unknown:
        await engine.mark_read(peer("15550009999"), [])
    assert unknown.value.code == "CHAT_NOT_FOUND"
    await engine.revoke(to, sent.id)
    assert (await fake.message(sent.id))["type"] == "revoked"
    assert await engine.profile_picture(to) == f"https://pps.whatsapp.net/v/t61/{LID_PHONE}.jpg"
    await fake.call("hidePicture", "15550000404@c.us")
    assert await engine.profile_picture(peer("15550000404")) is None
    await engine.set_blocked(to, True)
    assert await fake.evaluate("(id) => WPP.blocklist.isBlocked(id)", to.wa_id)
    await engine.set_blocked(to, False)
    assert not await fake.evaluate("(id) => WPP.blocklist.isBlocked(id)", to.wa_id)
    assert [c["args"] for c in await fake.calls() if c["fn"] in ("blockContact", "unblockContact")][-2:] == [
        [to.wa_id], [to.wa_id]]


@browser
@pytest.mark.slow
async def test_sends_are_idempotent_even_after_a_crash_and_errors_are_classified(session: Session) -> None:
    engine, fake = session.engine, session.fake
    to = Peer(wa_id=f"{LID_PHONE}@c.us", phone=f"+{LID_PHONE}")
    message = OutboundMessage(idempotency_key="k-once", to=to, body="only once")
    first = await engine.send(message)
    again = await engine.send(message)  # a retry after a lost answer
    assert first.id == again.id
    # A crash between the send and the record: the page sent it, wacc never heard.
    # The retry derives the same id, finds the message under its @lid key, sends nothing.
    crashed = OutboundMessage(idempotency_key="k-crash", to=to, body="sent before the crash")
    message_id = whatsapp_message_id(engine.host.session_id, crashed.idempotency_key)
    await fake.evaluate(
        "([to, id]) => window.__wacc.call('send',"
        " {to, type: 'TEXT', body: 'sent before the crash', message_id: id})",
        [to.wa_id, message_id])
    before = len(await fake.calls("addAndSendMsgToChat"))
    retried = await engine.send(crashed)
    assert retried.id == f"true_{LID}_{message_id}"
    assert len(await fake.calls("addAndSendMsgToChat")) == before
    bodies = await fake.evaluate("() => window.__standin.require('WAWebMsgCollection').MsgCollection"
                                 ".filter((m) => m.id.fromMe).map((m) => m.body)")
    assert bodies.count("only once") == 1 and bodies.count("sent before the crash") == 1

    with pytest.raises(PermanentEngineError) as permanent:
        await engine.send(OutboundMessage(idempotency_key="k-p", to=peer(), body="x",
                                          quoted_id=f"false_{CUSTOMER_ID}_NOPE"))
    assert permanent.value.code == "MSG_NOT_FOUND"  # wa-js found no message to quote
    await fake.call("failNextSend", "socket closed")
    with pytest.raises(TransientEngineError) as transient:
        await engine.send(OutboundMessage(idempotency_key="k-t", to=peer(), body="x"))
    assert not transient.value.permanent
    with pytest.raises(PermanentEngineError):  # refused before reaching the page
        await engine.send(OutboundMessage(idempotency_key="k-bad", to=peer(), type="POLL",
                                          poll=Poll(question="?", options=["only"])))


@browser
@pytest.mark.slow
async def test_acks_edits_revokes_reactions_in_one_to_one_and_group_chats(session: Session) -> None:
    engine, fake, host = session.engine, session.fake, session.host
    for chat, to, reader in ((CUSTOMER_ID, peer(), None), (GROUP, Peer(wa_id=GROUP), MEMBER)):
        sent = await engine.send(OutboundMessage(idempotency_key=f"k-acked-{chat}", to=to, body="track me"))
        assert sent.id is not None
        sent_id = sent.id
        # The server's ack (1) comes by itself; the phones' receipts name only the bare id
        # (and, in a group, the member who read it: wa-js puts that in the key).
        await host.wait_for(Ack, has(id=sent_id, ack=1))
        for ack in (2, 3):
            await fake.call("ack", chat, [sent.id.split("_")[2]], ack, reader)
            got = await host.wait_for(Ack, has(id=sent_id, ack=ack))
            assert got.chat.wa_id == chat
        # Our own edit (wa-js editMessage: a protocol message keyed in the same chat).
        await engine.edit(to, sent_id, "tracked")
        own_edit = await host.wait_for(Edited, has(id=sent_id))
        assert (own_edit.body, own_edit.chat.wa_id) == ("tracked", chat)
        author = MEMBER if chat == GROUP else chat
        inbound_id = await fake.inbound(**{"chat": chat, "from": author, "body": "tpyo"})
        await fake.edit(inbound_id, "typo")
        edited = await host.wait_for(Edited, has(id=inbound_id))
        # wa-js says msg.to (that is us) is the chat of an incoming edit; the key knows better.
        assert edited.body == "typo" and edited.chat.wa_id == chat
        await fake.react(sent.id, author, "❤️")
        reaction = await host.wait_for(Reaction, has(message_id=sent_id))
        assert (reaction.emoji, reaction.sender.wa_id, reaction.chat.wa_id) == ("❤️", author, chat)
        # Someone else's message cannot be deleted for everyone: an error, and WhatsApp
        # must not quietly delete it on this device instead.
        with pytest.raises(PermanentEngineError) as refused:
            await engine.revoke(to, inbound_id)
        assert refused.value.code == "NOT_ALLOWED"
        assert (await fake.message(inbound_id))["type"] == "chat"
        await fake.revoke(inbound_id)
        revoked = await host.wait_for(Revoked, has(id=inbound_id))
        assert revoked.chat.wa_id == chat and revoked.by is not None
    await fake.call("blockFromPhone", "15550001111@c.us")
    assert (await host.wait_for(BlockChanged, lambda b: b.peer.wa_id == "15550001111@c.us")).blocked
    await fake.call("unblockFromPhone", "15550001111@c.us")
    await host.wait_for(BlockChanged, lambda b: b.peer.wa_id == "15550001111@c.us" and not b.blocked)


@browser
@pytest.mark.slow
async def test_history_and_online_state_through_wa_js(session: Session) -> None:
    engine, fake, host = session.engine, session.fake, session.host
    old_chat = "15550003333@c.us"
    await fake.inbound(**{"from": old_chat, "body": "long ago", "t": 1_600_000_000})
    since = 1_700_000_000.0
    busy = "15550004444@c.us"
    # More than one page (the adapter reads 100 at a time through wa-js's getMessages).
    ids = await fake.evaluate(
        "([chat, n]) => Array.from({length: n}, (_, i) =>"
        " window.__fake.inbound({from: chat, body: 'm' + i, t: 1700000000 + i}))", [busy, 130])
    chats = await engine.history_chats(since)
    assert {p.wa_id for p in chats} >= {busy, CUSTOMER_ID, LID}
    assert old_chat not in {p.wa_id for p in chats} and GROUP not in {p.wa_id for p in chats}
    history = await engine.history(peer(busy.split("@")[0]), since)
    assert [m.id for m in history] == ids and [m.body for m in history][:2] == ["m0", "m1"]
    assert len(await fake.calls("msgFindByDirection")) >= 2
    # WhatsApp's network status (NetworkStatus change:online -> wa-js conn.online).
    mark = len(host.events)
    await fake.call("online", False)
    await host.wait_for(StateChanged, has(state="OFFLINE"), after=mark)
    await fake.call("online", True)
    await host.wait_for(StateChanged, has(state="ONLINE"), after=mark)


@browser
@pytest.mark.slow
async def test_malformed_events_from_the_page_are_dropped(session: Session) -> None:
    engine, fake, host = session.engine, session.fake, session.host
    before, events_before = engine.dropped_events, len(host.events)
    await fake.emit_raw("not json")
    await fake.emit_raw('{"kind": "no-such-event"}')
    await fake.emit_raw('{"kind": "ack", "id": "x"}')  # fields missing
    await fake.emit_raw({"kind": "ready"})  # not a JSON string
    await fake.emit_raw('{"kind": "disconnected", "reason": "STOPPED"}')  # the page may not say so
    await wait_until(lambda: engine.dropped_events == before + 5, what="drops")
    # None of it reached the host (echoes of earlier sends may still arrive meanwhile).
    assert not [e for e in host.events[events_before:] if not isinstance(e, InboundMessage)]
    assert engine.is_ready
    await engine.send(OutboundMessage(idempotency_key="k-after-garbage", to=peer(), body="still fine"))


@browser
@pytest.mark.slow
async def test_self_reload_reinjects_and_events_still_flow(session: Session) -> None:
    engine, fake, host = session.engine, session.fake, session.host
    served, mark = fake.served, len(host.events)
    await fake.reload()
    await host.wait_for(Ready, after=mark)
    assert fake.served == served + 1 and engine.reloads == 1
    assert await fake.evaluate("() => WPP.isFullReady")  # wa-js and the adapter ran again
    message_id = await fake.inbound(**{"from": CUSTOMER_ID, "body": "after the reload"})
    await host.wait_for(InboundMessage, has(id=message_id), after=mark)
    await engine.send(OutboundMessage(idempotency_key="k-after-reload", to=peer(), body="works"))


@browser
@pytest.mark.slow
async def test_memory_of_one_session(session: Session) -> None:
    engine = session.engine
    used = await engine.memory_bytes()
    usage = engine.last_memory
    assert used is not None and usage is not None and usage.processes >= 2
    assert usage.anon == used and usage.rss > usage.pss > usage.anon
    assert engine.browser_pid is not None
    # The Playwright driver (Node.js, shared by a process's sessions) is Chromium's parent.
    rollup = Path(f"/proc/{parent_pid(engine.browser_pid)}/smaps_rollup").read_text().splitlines()[1:]
    driver = {k: round(int(v.split()[0]) / 1024, 1) for k, v in (line.split(":") for line in rollup)
              if k in ("Rss", "Pss", "Pss_Anon")}
    print(
        f"\nweb session memory with the stand-in WhatsApp Web, MB: Chromium ({usage.processes} processes) "
        f"{usage.as_mb()}; Playwright driver {driver}"
    )


@browser
@pytest.mark.slow
async def test_sessions_share_one_playwright_driver(tmp_path: Path) -> None:
    driver = PlaywrightDriver()
    engines, hosts = [], []
    for name in ("a", "b"):
        host = RecordingHost(tmp_path / name, session_id=name)
        engine = WebEngine(host, driver=driver, context_hook=FakeWhatsAppWeb(paired=True).install)
        await engine.start()
        engines.append(engine)
        hosts.append(host)
    for host in hosts:
        await host.wait_for(Ready)
    pids = [e.browser_pid for e in engines]
    assert None not in pids and pids[0] != pids[1]
    node = parent_pid(pids[0])  # type: ignore[arg-type]
    assert parent_pid(pids[1]) == node  # type: ignore[arg-type]
    await engines[0].stop()
    await engines[1].send(OutboundMessage(idempotency_key="k-shared", to=peer(), body="still here"))
    await engines[1].stop()
    await wait_until(lambda: not Path(f"/proc/{node}").exists() or "node" not in process_cmdline(node),
                     what="the driver to stop with its last session")


