"""The ``web`` engine against a fake WhatsApp Web, in the real Chromium, offline.

The fake (tests/fakes/whatsapp_web) is served at https://web.whatsapp.com/ through
Playwright routing under a nonce CSP; the real, hash-checked wa-js bundle and our
adapter are injected by the engine exactly as in production. The fake stands in for
what wa-js would report from WhatsApp's servers and records what the adapter asked
wa-js to do.

Tests marked slow start Chromium; the rest are plain unit tests of the pure parts.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.fakes.whatsapp_web import FakeWhatsAppWeb
from wacc.assets import vendor_dir, vendor_manifest
from wacc.engines.contract import (
    Ack,
    Authenticated,
    BlockChanged,
    Disconnected,
    DisconnectReason,
    Edited,
    EngineEvent,
    IdentityMapped,
    InboundMessage,
    Location,
    Media,
    NotConnectedError,
    OutboundMessage,
    PairingCode,
    Peer,
    PermanentEngineError,
    Poll,
    QrCode,
    Reaction,
    Ready,
    Revoked,
    StateChanged,
    TransientEngineError,
)
from wacc.engines.web.actions import send_payload, vcard_contacts
from wacc.engines.web.browser import (
    chromium_executable,
    find_browser_pid,
    process_cmdline,
    process_tree,
    prune_caches,
)
from wacc.engines.web.bundle import BundleIntegrityError, load_wa_js
from wacc.engines.web.channel import MalformedEvent, decode_page_event
from wacc.engines.web.driver import PlaywrightDriver
from wacc.engines.web.engine import WebEngine
from wacc.engines.web.session import LoginState
from wacc.engines.web.settings import WebSettings
from wacc.engines.web.supervisor import Backoff, Supervisor

E = TypeVar("E", bound=EngineEvent)

HAVE_CHROMIUM = Path(chromium_executable()).exists()
browser = pytest.mark.skipif(not HAVE_CHROMIUM, reason="Chromium is not installed (apt-get install chromium)")

# Short watchdog rounds so crashes and stuck pages are noticed within a second or two;
# a ping may still take seconds on a busy CI machine without counting as a hang.
FAST = {
    "watchdog_interval": 0.3,
    "watchdog_timeout": 5,
    "action_timeout": 5,
    "navigation_timeout": 20,
}
# One Playwright driver for the module, as the wa role has one for its sessions: the
# user agent is derived once, and each engine start skips a driver start.
DRIVER = PlaywrightDriver()
CUSTOMER = "15551230000"
CUSTOMER_ID = f"{CUSTOMER}@c.us"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


class RecordingHost:
    """An EngineHost that keeps every event and lets a test wait for one."""

    def __init__(self, data_dir: Path, session_id: str = "s-web", **settings: Any) -> None:
        self.session_id = session_id
        self.settings: dict[str, Any] = {**FAST, **settings}
        self.data_dir = data_dir
        self.events: list[EngineEvent] = []

    async def emit(self, event: EngineEvent) -> None:
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(
        self, kind: type[E], where: Callable[[E], bool] = lambda e: True, *, after: int = 0,
        timeout: float = 10,
    ) -> E:
        """The first *kind* event (at index >= *after*) matching *where*."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events[after:]:
                if isinstance(event, kind) and where(event):
                    return event
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {kind.__name__} within {timeout} s; events: {self.events}")


async def wait_until(condition: Callable[[], bool], timeout: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def renderer_pids(engine: WebEngine) -> list[int]:
    assert engine.browser_pid is not None
    return [p for p in process_tree(engine.browser_pid) if "--type=renderer" in process_cmdline(p)]


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def peer(digits: str = CUSTOMER) -> Peer:
    return Peer(wa_id=f"{digits}@c.us", phone=f"+{digits}")


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


# -- login ------------------------------------------------------------------------------------


@browser
@pytest.mark.slow
async def test_qr_codes_rotate_and_stop_after_max_qr(tmp_path: Path) -> None:
    fake = FakeWhatsAppWeb(qr_interval_ms=150)
    host = RecordingHost(tmp_path, max_qr=3)
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    ending = await host.wait_for(Disconnected)
    codes = host.of(QrCode)
    assert [q.attempt for q in codes] == [1, 2, 3]
    assert len({q.code for q in codes}) == 3 and codes[0].code.startswith("2@fake-qr-")
    assert ending.reason == DisconnectReason.QR_TIMEOUT
    await engine.stop()
    assert engine.page is None and find_browser_pid(engine.profile) is None
    assert host.of(Disconnected) == [ending]  # stop() after the end adds nothing


@browser
@pytest.mark.slow
async def test_pairing_code_scan_and_restart_without_qr(tmp_path: Path) -> None:
    fake = FakeWhatsAppWeb()
    host = RecordingHost(tmp_path)
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    await host.wait_for(QrCode)
    assert await engine.request_pairing_code("+1 (555) 000-0001") == "FAKE1234"
    assert await host.wait_for(PairingCode) == PairingCode(code="FAKE1234", phone="+15550000001")
    assert (await fake.calls("conn.genLinkDeviceCodeForPhoneNumber"))[0]["args"] == ["15550000001", True]
    with pytest.raises(NotConnectedError):
        await engine.send(OutboundMessage(idempotency_key="k-early", to=peer(), body="too early"))
    await fake.scan()
    await host.wait_for(Authenticated)
    assert (await host.wait_for(Ready)).me == Peer(wa_id="15550000001@c.us", phone="+15550000001")
    with pytest.raises(PermanentEngineError):
        await engine.request_pairing_code("15550000001")
    await engine.stop()
    assert host.events[-1] == Disconnected(reason=DisconnectReason.STOPPED, detail="stopped on request")

    # Same profile, new engine: WhatsApp's stored login (here: the fake's localStorage
    # flag) survived in the profile, so no QR code this time.
    host2 = RecordingHost(tmp_path)
    fake2 = FakeWhatsAppWeb()
    engine2 = WebEngine(host2, driver=DRIVER, context_hook=fake2.install)
    await engine2.start()
    await host2.wait_for(Ready)
    assert host2.of(QrCode) == []
    await engine2.stop()


@browser
@pytest.mark.slow
async def test_logout_on_request_forgets_the_login(tmp_path: Path) -> None:
    fake = FakeWhatsAppWeb(paired=True)
    host = RecordingHost(tmp_path)
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    await host.wait_for(Ready)
    await engine.logout()
    assert fake.logouts == 1  # wa-js was asked to log the device out of WhatsApp
    assert host.events[-1] == Disconnected(reason=DisconnectReason.LOGGED_OUT, detail="logged out on request")
    assert not engine.profile.exists()


@browser
@pytest.mark.slow
@pytest.mark.parametrize(
    ("drive", "reason"),
    [
        (lambda fake: fake.stream_mode("CONFLICT"), DisconnectReason.CONFLICT),
        (lambda fake: fake.stream_mode("DEPRECATED_VERSION"), DisconnectReason.NEEDS_UPDATE),
        (lambda fake: fake.call("needsUpdate"), DisconnectReason.NEEDS_UPDATE),
        (lambda fake: fake.stream_mode("TOS_BLOCK"), DisconnectReason.TOS_BLOCK),
    ],
    ids=["conflict", "deprecated-version", "needs-update", "tos-block"],
)
async def test_page_reported_endings(tmp_path: Path, drive: Callable[[FakeWhatsAppWeb], Any],
                                     reason: DisconnectReason) -> None:
    fake = FakeWhatsAppWeb(paired=True)
    host = RecordingHost(tmp_path)
    supervisor = Supervisor(lambda h: WebEngine(h, driver=DRIVER, context_hook=fake.install), host,
                            backoff=Backoff(base=0.05, jitter=0))
    run = asyncio.create_task(supervisor.run())
    await host.wait_for(Ready)
    await drive(fake)
    ending = await asyncio.wait_for(run, 15)
    assert ending.reason == reason
    assert supervisor.restarts == 0  # none of these is fixed by restarting


@browser
@pytest.mark.slow
async def test_remote_logout_is_permanent_and_not_restarted(tmp_path: Path) -> None:
    fake = FakeWhatsAppWeb(paired=True)
    host = RecordingHost(tmp_path)
    supervisor = Supervisor(lambda h: WebEngine(h, driver=DRIVER, context_hook=fake.install), host,
                            backoff=Backoff(base=0.05, jitter=0))
    run = asyncio.create_task(supervisor.run())
    await host.wait_for(Ready)
    await fake.remote_logout("user_initiated")
    ending = await asyncio.wait_for(run, 15)
    assert ending == Disconnected(reason=DisconnectReason.LOGGED_OUT,
                                  detail="logged out by WhatsApp (user_initiated)")
    assert supervisor.restarts == 0
    engine = supervisor.engine
    assert isinstance(engine, WebEngine) and engine.disconnect_reason == DisconnectReason.LOGGED_OUT
    assert (tmp_path / "profile").is_dir()  # nothing wiped: a person decides


# -- self-healing -------------------------------------------------------------------------------


Supervised = tuple[Supervisor, RecordingHost, asyncio.Task[Disconnected], FakeWhatsAppWeb]


async def supervised(tmp_path: Path, **settings: Any) -> Supervised:
    fake = FakeWhatsAppWeb(paired=True)
    host = RecordingHost(tmp_path, **settings)
    supervisor = Supervisor(lambda h: WebEngine(h, driver=DRIVER, context_hook=fake.install), host,
                            backoff=Backoff(base=0.2, factor=2, jitter=0))
    run = asyncio.create_task(supervisor.run())
    await host.wait_for(Ready)
    return supervisor, host, run, fake


async def restarted(supervisor: Supervisor, host: RecordingHost, mark: int) -> Disconnected:
    crash = await host.wait_for(Disconnected, after=mark, timeout=15)
    assert crash.reason == DisconnectReason.CRASHED
    await host.wait_for(Ready, after=host.events.index(crash))
    assert supervisor.restarts >= 1
    return crash


@browser
@pytest.mark.slow
async def test_hung_page_is_a_crash_and_restarted_with_backoff(tmp_path: Path) -> None:
    supervisor, host, run, fake = await supervised(tmp_path, watchdog_timeout=1.5)
    # A cache folder to see pruned while Chromium is down.
    cache = tmp_path / "profile" / "Default" / "Code Cache" / "js" / "stale"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(b"x" * 1000)
    started = time.monotonic()
    await fake.hang()
    crash = await restarted(supervisor, host, 0)
    assert "did not answer" in crash.detail
    assert supervisor.delays == [pytest.approx(0.2)]
    assert time.monotonic() - started < 10
    assert not cache.exists()
    assert (tmp_path / "profile" / "Default").is_dir()
    await supervisor.stop()
    assert (await asyncio.wait_for(run, 10)).reason == DisconnectReason.STOPPED


@browser
@pytest.mark.slow
async def test_renderer_and_browser_crashes_are_restarted(tmp_path: Path) -> None:
    supervisor, host, run, _ = await supervised(tmp_path)
    engine = supervisor.engine
    assert isinstance(engine, WebEngine)
    os.kill(renderer_pids(engine)[0], signal.SIGKILL)
    crash = await restarted(supervisor, host, 0)
    assert "renderer crashed" in crash.detail

    engine = supervisor.engine
    assert isinstance(engine, WebEngine) and engine.browser_pid is not None
    mark = len(host.events)
    os.kill(engine.browser_pid, signal.SIGKILL)
    crash = await restarted(supervisor, host, mark)
    assert crash.detail == "Chromium exited unexpectedly"
    assert supervisor.restarts == 2
    # Exponential: the second restart in a row waits twice as long.
    assert supervisor.delays == [pytest.approx(0.2), pytest.approx(0.4)]
    await supervisor.stop()
    await asyncio.wait_for(run, 10)


@browser
@pytest.mark.slow
async def test_stuck_opening_is_a_crash(tmp_path: Path) -> None:
    fake = FakeWhatsAppWeb(never_boot=True)
    host = RecordingHost(tmp_path, opening_timeout=1)
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    ending = await host.wait_for(Disconnected)
    assert ending.reason == DisconnectReason.CRASHED and "opening" in ending.detail
    await engine.stop()


@browser
@pytest.mark.slow
async def test_untyped_pairing_code_times_out(tmp_path: Path) -> None:
    host = RecordingHost(tmp_path, opening_timeout=1)
    engine = WebEngine(host, driver=DRIVER, context_hook=FakeWhatsAppWeb().install)
    await engine.start()
    await host.wait_for(QrCode)
    await engine.request_pairing_code("15550000001")
    ending = await host.wait_for(Disconnected)
    assert ending.reason == DisconnectReason.QR_TIMEOUT and "pairing code" in ending.detail
    await engine.stop()


@browser
@pytest.mark.slow
async def test_memory_above_the_cap_restarts_chromium(tmp_path: Path) -> None:
    fake = FakeWhatsAppWeb(paired=True)
    host = RecordingHost(tmp_path, memory_cap_mb=1, memory_checks=2)
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    await host.wait_for(Ready)
    first_pid = engine.browser_pid
    mark = len(host.events)
    await host.wait_for(StateChanged, lambda s: s.state == "RESTARTING", after=mark)
    await host.wait_for(Ready, after=mark)
    assert engine.restarts >= 1 and engine.browser_pid != first_pid
    assert host.of(Disconnected) == []  # a planned restart is not a disconnection
    await engine.stop()


# -- without a browser ---------------------------------------------------------------------------


async def test_tampered_wa_js_is_refused(tmp_path: Path) -> None:
    vendor = tmp_path / "vendor"
    shutil.copytree(vendor_dir(), vendor)
    assert load_wa_js(vendor).version == vendor_manifest()["packages"]["@wppconnect/wa-js"]["version"]
    bundle = vendor / "@wppconnect" / "wa-js" / "wppconnect-wa.js"
    bundle.write_bytes(bundle.read_bytes() + b"\n;window.stolen = document.cookie;")
    with pytest.raises(BundleIntegrityError) as refused:
        load_wa_js(vendor)
    assert refused.value.permanent and refused.value.code == "WA_JS_INTEGRITY"
    host = RecordingHost(tmp_path / "session")
    engine = WebEngine(host, vendor=vendor)
    with pytest.raises(BundleIntegrityError):
        await engine.start()
    assert engine.page is None and host.events == []
    assert not (tmp_path / "session" / "profile").exists()  # nothing was launched


def test_login_state_numbers_qr_codes_and_guards_endings() -> None:
    login = LoginState(max_qr=2)
    login.opening()
    first = login.interpret(QrCode(code="a", attempt=0))
    assert first.emit == [QrCode(code="a", attempt=1)]
    assert login.interpret(QrCode(code="a", attempt=0)).emit == []  # same code again
    assert login.interpret(QrCode(code="b", attempt=0)).emit == [QrCode(code="b", attempt=2)]
    over = login.interpret(QrCode(code="c", attempt=0))
    assert over.emit == [] and over.end is not None and over.end.reason == DisconnectReason.QR_TIMEOUT
    assert login.interpret(Disconnected(reason=DisconnectReason.CRASHED)).rejected
    login.interpret(Ready(me=peer()))
    assert login.interpret(QrCode(code="d", attempt=0)).emit == []  # stale after login
    assert login.interpret(Disconnected(reason=DisconnectReason.QR_TIMEOUT)).end is None
    assert login.interpret(StateChanged(state="MAIN")).emit == [StateChanged(state="MAIN")]
    assert login.interpret(StateChanged(state="MAIN")).emit == []


def test_page_events_are_validated() -> None:
    assert decode_page_event('{"kind": "ack", "id": "a", "chat": {"wa_id": "1@c.us"}, "ack": 2}') == Ack(
        id="a", chat=Peer(wa_id="1@c.us"), ack=2
    )
    for bad in ("{", '{"kind": "ack"}', b'{"kind": "authenticated"}', None, "x" * (5 * 2**20)):
        with pytest.raises(MalformedEvent):
            decode_page_event(bad)


def test_vcards_and_bad_outbound_messages() -> None:
    cards = ("BEGIN:VCARD\nVERSION:3.0\nFN:Ann\\, Jr.\nitem1.TEL;waid=4915112345:+49 151 12345\nEND:VCARD\n"
             "BEGIN:VCARD\nFN:Bob\nTEL:+1 (555) 222-3333\nEND:VCARD")
    assert vcard_contacts(cards) == [
        {"id": "4915112345@c.us", "name": "Ann, Jr."},
        {"id": "15552223333@c.us", "name": "Bob"},
    ]
    with pytest.raises(PermanentEngineError):
        vcard_contacts("BEGIN:VCARD\nFN:No Phone\nEND:VCARD")
    for bad in (
        OutboundMessage(idempotency_key="k", to=peer(), body=""),
        OutboundMessage(idempotency_key="k", to=peer(), type="IMAGE"),
        OutboundMessage(idempotency_key="k", to=peer(), type="LOCATION"),
        OutboundMessage(idempotency_key="k", to=peer(), type="REACTION", body="x"),
        OutboundMessage(idempotency_key="k", to=peer(), body="x", template={"name": "t"}),
    ):
        with pytest.raises(PermanentEngineError):
            send_payload(bad)


def test_settings_and_backoff() -> None:
    assert WebSettings.from_host({"other": 1}).memory_cap_mb == 350
    for bad in ({"max_qr": 0}, {"watchdog_timeout": -1}, {"memory_cap_mb": "lots"}):
        with pytest.raises(PermanentEngineError):
            WebSettings.from_host(bad)
    backoff = Backoff(base=1, factor=2, cap=10, jitter=0.5)
    for attempt, raw in ((1, 1), (2, 2), (3, 4), (5, 10), (9, 10)):
        assert raw * 0.5 <= backoff.delay(attempt) <= raw * 1.5


def test_plugin_registers_web_with_one_shared_driver(tmp_path: Path) -> None:
    from wacc.engines.web.plugin import wacc_engines

    factory = wacc_engines()["web"]
    first, second = factory(RecordingHost(tmp_path / "a")), factory(RecordingHost(tmp_path / "b"))
    assert isinstance(first, WebEngine) and first.name == "web" and first.default_rate == 0.5
    assert first._driver is second._driver  # one Node.js driver for the process's sessions


def test_pruning_keeps_the_login(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    for rel in ("Default/Cache/Cache_Data/f", "Default/Code Cache/js/f", "Default/GPUCache/f",
                "Default/Service Worker/CacheStorage/f", "Default/IndexedDB/wa/f", "Default/Local Storage/f"):
        (profile / rel).parent.mkdir(parents=True, exist_ok=True)
        (profile / rel).write_bytes(b"1234")
    assert prune_caches(profile) == 16
    kept = sorted(p.name for p in (profile / "Default").iterdir())
    assert kept == ["IndexedDB", "Local Storage", "Service Worker"]
    assert (profile / "Default/IndexedDB/wa/f").exists()
