"""The ``web`` engine against a fake WhatsApp Web, in the real Chromium, offline.

The fake (tests/fakes/whatsapp_web) is served at https://web.whatsapp.com/ through
Playwright routing under a nonce CSP; the real, hash-checked wa-js bundle and our
adapter are injected by the engine exactly as in production. The fake stands in for
what wa-js would report from WhatsApp's servers and records what the adapter asked
wa-js to do.

Tests marked slow start Chromium; the rest are plain unit tests of the pure parts.
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
    TransientEngineError,
)
from wacc.engines.web.browser import (
    process_cmdline,
)
from wacc.engines.web.driver import PlaywrightDriver
from wacc.engines.web.engine import WebEngine

# -- a logged-in session shared by the traffic tests ----------------------------------------


class Session:
    def __init__(self, engine: WebEngine, fake: FakeWhatsAppWeb, host: RecordingHost) -> None:
        self.engine, self.fake, self.host = engine, fake, host


@pytest.fixture(scope="module")
async def session(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Session]:
    if not HAVE_CHROMIUM:
        pytest.skip("Chromium is not installed")
    fake = FakeWhatsAppWeb(paired=True, lids={"99887766@lid": "15557654321"})
    host = RecordingHost(tmp_path_factory.mktemp("web-session"))
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    await host.wait_for(Ready)
    yield Session(engine, fake, host)
    await engine.stop()


@browser
@pytest.mark.slow
async def test_injection_wa_js_config_user_agent_and_csp(session: Session) -> None:
    fake = session.fake
    # The real wa-js bundle ran in the page (before the fake replaced window.WPP).
    assert await fake.real_wpp() == {
        "version": vendor_manifest()["packages"]["@wppconnect/wa-js"]["version"],
        "license": "Apache-2.0",
        "injected": True,
    }
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
    text_id = await fake.inbound(**{"from": CUSTOMER_ID, "notifyName": "Carla",
                                    "model": {"body": "hi there"}})
    first = await host.wait_for(InboundMessage, lambda m: m.id == text_id)
    assert first.chat == Peer(wa_id=CUSTOMER_ID, phone=f"+{CUSTOMER}")
    assert first.sender == Peer(wa_id=CUSTOMER_ID, phone=f"+{CUSTOMER}", name="Carla")
    assert (first.type, first.body, first.from_me) == ("TEXT", "hi there", False)

    # (what the fake delivers, what the engine must report: attribute paths -> values)
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"model": {"body": "a reply", "quotedStanzaID": text_id.split("_")[-1]}},
         {"type": "TEXT", "body": "a reply", "quoted_id": text_id}),
        ({"type": "image", "model": {"caption": "look", "filehash": sha_b64, "size": len(PNG)},
          "media": {"data": png_b64, "mimetype": "image/png"}},
         {"type": "IMAGE", "body": "look", "media.mime_type": "image/png", "media.size": len(PNG),
          "media.sha256": hashlib.sha256(PNG).hexdigest()}),
        ({"type": "video", "media": {"data": png_b64, "mimetype": "video/mp4"}},
         {"type": "VIDEO", "media.mime_type": "video/mp4"}),
        ({"type": "ptt", "media": {"data": png_b64, "mimetype": "audio/ogg; codecs=opus"}},
         {"type": "AUDIO", "raw": {"wa_type": "ptt", "voice_note": True}}),
        ({"type": "document", "model": {"filename": "invoice.pdf"},
          "media": {"data": png_b64, "mimetype": "application/pdf"}},
         {"type": "DOCUMENT", "media.filename": "invoice.pdf"}),
        ({"type": "sticker", "media": {"data": png_b64, "mimetype": "image/webp"}},
         {"type": "STICKER", "media.mime_type": "image/webp"}),
        ({"type": "location", "model": {"lat": 52.52, "lng": 13.405, "loc": "Cafe\nMain St 1"}},
         {"type": "LOCATION",
          "location": Location(latitude=52.52, longitude=13.405, name="Cafe", address="Main St 1")}),
        ({"type": "vcard", "model": {"body": "BEGIN:VCARD\nFN:Ann\nEND:VCARD"}},
         {"type": "CONTACT", "vcard": "BEGIN:VCARD\nFN:Ann\nEND:VCARD"}),
        ({"type": "multi_vcard", "model": {"vcardList": [{"vcard": "A"}, {"vcard": "B"}]}},
         {"type": "CONTACT", "vcard": "A\nB"}),
        ({"type": "poll_creation", "model": {"pollName": "Lunch?", "pollSelectableOptionsCount": 1,
                                             "pollOptions": [{"name": "Yes"}, {"name": "No"}]}},
         {"type": "POLL", "poll": Poll(question="Lunch?", options=["Yes", "No"])}),
        ({"fromMe": True, "model": {"body": "typed on the phone"}},
         {"type": "TEXT", "from_me": True, "sender.wa_id": "15550000001@c.us", "chat.wa_id": CUSTOMER_ID}),
    ]
    ids = []
    for spec, expected in cases:
        message_id = await fake.inbound(**{"from": CUSTOMER_ID, **spec})
        ids.append(message_id)
        message = await host.wait_for(InboundMessage, lambda m, i=message_id: m.id == i)
        assert {path: attribute(message, path) for path in expected} == expected
    # A system notice (encryption changed, ...) is not a message anyone wrote.
    notice_id = await fake.inbound(**{"from": CUSTOMER_ID, "type": "e2e_notification"})
    follow_id = await fake.inbound(**{"from": CUSTOMER_ID, "model": {"body": "next"}})
    await host.wait_for(InboundMessage, lambda m: m.id == follow_id)
    assert not [e for e in host.of(InboundMessage) if e.id == notice_id]

    # Media is fetched on demand through the handle in the event.
    image = next(e for e in host.of(InboundMessage) if e.id == ids[1])
    assert image.media is not None and image.media.fetch == ids[1]
    assert await engine.download_media(image.media) == PNG
    with pytest.raises(PermanentEngineError) as refused:
        await engine.download_media(Media(mime_type="image/png", fetch="false_1@c.us_NOPE"))
    assert refused.value.code == "MSG_NOT_FOUND"

    # A group message from a hidden @lid member: the member's phone is looked up.
    group_id = await fake.inbound(**{"from": "120363000000000001@g.us", "author": "99887766@lid",
                                     "model": {"body": "from the group"}})
    group_msg = await host.wait_for(InboundMessage, lambda m: m.id == group_id)
    assert group_msg.chat == Peer(wa_id="120363000000000001@g.us")
    assert group_msg.sender == Peer(wa_id="99887766@lid")
    assert await host.wait_for(IdentityMapped) == IdentityMapped(lid="99887766@lid", phone="+15557654321")


def attribute(obj: Any, path: str) -> Any:
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj


@browser
@pytest.mark.slow
async def test_every_action_reaches_wa_js(session: Session, tmp_path: Path) -> None:
    engine, fake, host = session.engine, session.fake, session.host
    to = peer()
    doc = tmp_path / "terms.pdf"
    doc.write_bytes(b"%PDF-1.4 fake")
    png = Media(mime_type="image/png", data=PNG, filename="dot.png")
    vcard = ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Example\r\n"
             "TEL;type=CELL;waid=15559990000:+1 555 999 0000\r\nEND:VCARD")
    messages = [
        OutboundMessage(idempotency_key="k-text", to=to, body="hello", quoted_id="false_x@c.us_Q1"),
        OutboundMessage(idempotency_key="k-image", to=to, type="IMAGE", body="a dot", media=png),
        OutboundMessage(idempotency_key="k-video", to=to, type="VIDEO",
                        media=Media(mime_type="video/mp4", data=b"mp4")),
        OutboundMessage(idempotency_key="k-audio", to=to, type="AUDIO", body="ignored",
                        media=Media(mime_type="audio/ogg", data=b"ogg")),
        OutboundMessage(idempotency_key="k-doc", to=to, type="DOCUMENT", body="terms",
                        media=Media(mime_type="application/pdf"), media_path=doc),
        OutboundMessage(idempotency_key="k-sticker", to=to, type="STICKER",
                        media=Media(mime_type="image/webp", data=b"webp")),
        OutboundMessage(idempotency_key="k-loc", to=to, type="LOCATION",
                        location=Location(latitude=1.5, longitude=2.5, name="HQ", address="Road 1")),
        OutboundMessage(idempotency_key="k-contact", to=to, type="CONTACT", vcard=vcard),
        OutboundMessage(idempotency_key="k-poll", to=to, type="POLL",
                        poll=Poll(question="When?", options=["Mon", "Tue"], selectable_count=2)),
        OutboundMessage(idempotency_key="k-react", to=to, type="REACTION", body="👍",
                        reaction_to="false_x@c.us_Q1"),
    ]
    results = [await engine.send(m) for m in messages]
    assert all(r.id for r in results)
    assert results[0].id.startswith(f"true_{CUSTOMER_ID}_3EB0")

    calls = await fake.calls()
    by_fn: dict[str, list[list[Any]]] = {}
    for call in calls:
        by_fn.setdefault(call["fn"], []).append(call["args"])
    text_to, text_body, text_options = by_fn["chat.sendTextMessage"][-1]
    assert (text_to, text_body) == (CUSTOMER_ID, "hello")
    assert text_options["quotedMsg"] == "false_x@c.us_Q1"
    assert text_options["linkPreview"] is False and text_options["createChat"] is True
    assert text_options["messageId"] == results[0].id.split("_")[-1]
    files = {args[2]["type"]: args for args in by_fn["chat.sendFileMessage"][-5:]}
    assert files["image"][1] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert files["image"][2]["caption"] == "a dot" and files["image"][2]["filename"] == "dot.png"
    assert "caption" not in files["audio"][2]
    assert files["document"][2]["filename"] == "terms.pdf"
    pdf_b64 = base64.b64encode(doc.read_bytes()).decode()
    assert files["document"][1] == f"data:application/pdf;base64,{pdf_b64}"
    assert set(files) == {"image", "video", "audio", "document", "sticker"}
    loc_to, loc = by_fn["chat.sendLocationMessage"][-1]
    assert loc_to == CUSTOMER_ID
    assert (loc["lat"], loc["lng"], loc["name"], loc["address"]) == (1.5, 2.5, "HQ", "Road 1")
    assert by_fn["chat.sendVCardContactMessage"][-1][1] == [{"id": "15559990000@c.us", "name": "Ann Example"}]
    poll_to, question, options, poll_options = by_fn["chat.sendCreatePollMessage"][-1]
    assert poll_to == CUSTOMER_ID
    assert (question, options, poll_options["selectableCount"]) == ("When?", ["Mon", "Tue"], 2)
    assert by_fn["chat.sendReactionToMessage"][-1] == ["false_x@c.us_Q1", "👍"]

    # The other actions.
    sent_id = results[0].id
    await engine.edit(to, sent_id, "hello!")
    await engine.revoke(to, sent_id)
    await engine.mark_read(to, ["false_1@c.us_A"])
    await engine.typing(to, True)
    await engine.typing(to, False)
    assert await engine.profile_picture(to) == f"https://pps.whatsapp.net/fake/{CUSTOMER}.jpg"
    assert await engine.profile_picture(peer("0123")) is None
    await engine.set_blocked(to, True)
    await engine.set_blocked(to, False)
    calls = {c["fn"]: c["args"] for c in await fake.calls()}
    assert calls["chat.editMessage"] == [sent_id, "hello!", {"linkPreview": False}]
    assert calls["chat.deleteMessage"] == [CUSTOMER_ID, sent_id, False, True]
    assert calls["chat.markIsRead"] == [CUSTOMER_ID]
    assert calls["chat.markIsComposing"] == [CUSTOMER_ID, None]
    assert calls["chat.markIsPaused"] == [CUSTOMER_ID]
    assert calls["blocklist.blockContact"] == [CUSTOMER_ID]
    assert calls["blocklist.unblockContact"] == [CUSTOMER_ID]
    blocks = [e for e in host.of(BlockChanged) if e.peer == to]
    assert [b.blocked for b in blocks[-2:]] == [True, False]


@browser
@pytest.mark.slow
async def test_sends_are_idempotent_and_errors_are_classified(session: Session) -> None:
    engine, fake = session.engine, session.fake
    message = OutboundMessage(idempotency_key="k-once", to=peer(), body="only once")
    first = await engine.send(message)
    again = await engine.send(message)  # a retry after a lost answer
    assert first.id == again.id
    assert [c["args"][1] for c in await fake.calls("chat.sendTextMessage")].count("only once") == 1

    await fake.fail_next("chat.sendTextMessage", "chat_not_found", "no such chat")
    with pytest.raises(PermanentEngineError) as permanent:
        await engine.send(OutboundMessage(idempotency_key="k-p", to=peer("1999"), body="x"))
    assert permanent.value.code == "CHAT_NOT_FOUND"
    await fake.fail_next("chat.sendTextMessage", "", "socket closed")
    with pytest.raises(TransientEngineError) as transient:
        await engine.send(OutboundMessage(idempotency_key="k-t", to=peer(), body="x"))
    assert not transient.value.permanent
    with pytest.raises(PermanentEngineError):  # refused before reaching the page
        await engine.send(OutboundMessage(idempotency_key="k-bad", to=peer(), type="POLL",
                                          poll=Poll(question="?", options=["only"])))


@browser
@pytest.mark.slow
async def test_acks_revokes_edits_reactions_and_phone_blocks(session: Session) -> None:
    engine, fake, host = session.engine, session.fake, session.host
    sent = await engine.send(OutboundMessage(idempotency_key="k-acked", to=peer(), body="track me"))
    for ack in (1, 2, 3):
        await fake.ack(CUSTOMER_ID, [sent.id], ack)
        assert await host.wait_for(Ack, lambda a, n=ack: a.id == sent.id and a.ack == n) == Ack(
            id=sent.id, chat=Peer(wa_id=CUSTOMER_ID, phone=f"+{CUSTOMER}"), ack=ack
        )
    inbound_id = await fake.inbound(**{"from": CUSTOMER_ID, "model": {"body": "tpyo"}})
    await fake.edit(inbound_id, "typo")
    edited = await host.wait_for(Edited, lambda e: e.id == inbound_id)
    assert edited.body == "typo" and edited.chat.wa_id == CUSTOMER_ID
    await fake.react(sent.id, CUSTOMER_ID, "❤️")
    reaction = await host.wait_for(Reaction, lambda r: r.message_id == sent.id)
    assert (reaction.emoji, reaction.sender.wa_id, reaction.chat.wa_id) == ("❤️", CUSTOMER_ID, CUSTOMER_ID)
    await fake.react(sent.id, CUSTOMER_ID, "")  # removed
    await host.wait_for(Reaction, lambda r: r.message_id == sent.id and r.emoji == "")
    await fake.revoke(inbound_id)
    revoked = await host.wait_for(Revoked, lambda r: r.id == inbound_id)
    assert revoked.chat.wa_id == CUSTOMER_ID and revoked.by is not None
    await fake.call("blockFromPhone", "15550001111@c.us")
    assert (await host.wait_for(BlockChanged, lambda b: b.peer.wa_id == "15550001111@c.us")).blocked


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
    assert await fake.real_wpp() is not None  # wa-js and the adapter ran again
    message_id = await fake.inbound(**{"from": CUSTOMER_ID, "model": {"body": "after the reload"}})
    await host.wait_for(InboundMessage, lambda m: m.id == message_id, after=mark)
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
        f"\nweb session memory with the fake WhatsApp Web, MB: Chromium ({usage.processes} processes) "
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


