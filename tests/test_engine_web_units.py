"""The web engine's pure parts, without a browser: bundle integrity, login state,
page-event validation, vCards and outbound checks, settings, the plugin and pruning."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.web_engine_support import (
    RecordingHost,
    peer,
)
from wacc.assets import vendor_dir, vendor_manifest
from wacc.engines.contract import (
    Ack,
    Disconnected,
    DisconnectReason,
    OutboundMessage,
    Peer,
    PermanentEngineError,
    QrCode,
    Ready,
    StateChanged,
)
from wacc.engines.web.actions import send_payload, vcard_contacts
from wacc.engines.web.browser import (
    prune_caches,
)
from wacc.engines.web.bundle import BundleIntegrityError, WaJsChoice, integrity_of, load_wa_js, sri
from wacc.engines.web.channel import MalformedEvent, decode_page_event
from wacc.engines.web.engine import WebEngine
from wacc.engines.web.session import LoginState
from wacc.engines.web.settings import WebSettings
from wacc.engines.web.supervisor import Backoff

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
    assert WebSettings.from_host({"other": 1}).memory_cap_mb == 600
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



def test_hash_forms_and_bundle_sources(tmp_path: Path) -> None:
    data = b"self.WPP = {};"
    full = integrity_of(data)
    assert full.startswith("sha384-") and sri(full) == full
    assert sri(full.removeprefix("sha384-")) == full  # bare base64, as openssl prints it
    for bad in ("sha1-AAAA", "sha384-not base64!", "sha384-AAAA", ""):
        with pytest.raises(ValueError):
            sri(bad)
    # Nothing configured or installed: the vendored bundle; the stamp says so.
    choice = WaJsChoice(data_dir=tmp_path)
    assert choice.load().origin == "vendored" and choice.stamp() == ("vendored",)
    # Half a setting is refused rather than ignored.
    with pytest.raises(BundleIntegrityError):
        WaJsChoice(path=str(tmp_path / "x.js")).load()
    # A broken install record is refused, never silently replaced by the vendored one.
    (tmp_path / "wa-js").mkdir()
    (tmp_path / "wa-js" / "installed.json").write_text("{not json")
    with pytest.raises(BundleIntegrityError, match="unreadable"):
        choice.load()
    assert choice.stamp()[0] == "installed"


# wa-js 4.6.0's WPPError codes on the paths the adapter calls (send, quote, edit, revoke,
# mark read, download, pairing), upper-cased as the adapter reports them.
WA_JS_PERMANENT = (
    "msg_not_found", "chat_not_found", "invalid_wid", "message_key_is_not_from_me",
    "message_key_remote_id_is_not_same_of_chat", "invalid_quoted_msg", "quoted_msg_can_not_reply",
    "file_too_large", "edit_message_error", "message_not_contains_media",
    "can_not_send_message_to_this_groupType", "type_not_valid_for_newsletter",
    "mentioned_is_not_user", "mentioned_list_is_not_array", "message_not_have_a_reply",
    "not_a_group", "group_you_are_not_admin", "cannot_get_code_for_already_authenticated",
    "send_the_phone_number_to_connect",
)


def test_wa_js_refusals_are_permanent_and_the_rest_transient() -> None:
    from wacc.engines.contract import NotConnectedError, TransientEngineError
    from wacc.engines.web.actions import adapter_error

    source = load_wa_js().source
    for code in WA_JS_PERMANENT:
        assert f'"{code}"' in source or f"'{code}'" in source, f"wa-js has no error {code!r}"
        assert isinstance(adapter_error(code.upper(), "x"), PermanentEngineError), code
    # WhatsApp's own errors carry no code (ERROR); a timeout or missing media may pass.
    for code in ("ERROR", "TIMEOUT_ON_SEND_STATUS", "MEDIA_NOT_FOUND"):
        assert isinstance(adapter_error(code, "x"), TransientEngineError), code
    assert isinstance(adapter_error("NOT_READY", "x"), NotConnectedError)
    assert isinstance(adapter_error("NOT_ALLOWED", "x"), PermanentEngineError)  # revoke refused


def test_a_pairing_code_is_waited_for_longer_than_wa_js_keeps_one() -> None:
    # wa-js renews the code when its timer runs out (linkDeviceCodeLifecycle.ts,
    # `function l(e=195e3)` in the vendored build); waiting less would end every
    # pairing before the first renewal.
    ttl_ms = re.search(r"function \w+\(\w+=(\d+(?:e\d+)?)\)\{[^}]*const \w+=\w+\.epoch", load_wa_js().source)
    assert ttl_ms, "wa-js's pairing-code timer not found"
    assert WebSettings.from_host({}).pairing_timeout > float(ttl_ms.group(1)) / 1000 + 30
