"""The contract between adapter.js and the wa-js bundle, checked without a browser
(issue 11 item 2): every WPP function and event the adapter uses must exist in the
vendored dist, so a wa-js upgrade or an adapter edit cannot call what does not exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from wacc.assets import vendor_dir
from wacc.engines.web.bundle import ADAPTER_PATH
from wacc.engines.web.wajs_contract import (
    MIN_EVENTS,
    MIN_PATHS,
    BundleApi,
    ContractError,
    adapter_usage,
    bundle_api,
    check_bundle,
    compare,
)

BUNDLE = vendor_dir() / "@wppconnect" / "wa-js" / "wppconnect-wa.js"


@pytest.fixture(scope="module")
def api() -> BundleApi:
    return bundle_api(BUNDLE)


def test_the_vendored_bundle_has_everything_the_adapter_uses(api: BundleApi) -> None:
    usage = adapter_usage(ADAPTER_PATH.read_text(encoding="utf-8"))
    # Every alias form the adapter uses for window.WPP is understood.
    for path in ("chat.sendTextMessage", "conn.isAuthenticated", "contact.getPnLidEntry",
                 "blocklist.all", "loader.onReady", "on", "chat.editMessage"):
        assert path in usage.paths, path
    assert {"conn.auth_code_change", "chat.new_message", "conn.needs_update"} <= usage.events
    report = compare(usage, api)
    assert report.ok, report.problems()
    assert report.checked_paths >= MIN_PATHS and report.checked_events >= MIN_EVENTS
    # What the probe sees of wa-js 4.6.0 (src/chat/functions/sendTextMessage.ts, ...).
    assert api.version == "4.6.0"
    assert api.paths["chat.sendTextMessage"] == "function" and api.paths["version"] == "string"
    assert api.paths["on"] == "function"
    # Events are wa-js's literal emits (src/*/events/eventTypes.ts names).
    assert {"conn.main_ready", "chat.new_reaction", "conn.link_code_change"} <= api.events


@pytest.mark.parametrize(
    ("old", "new", "missing"),
    [
        ("W.chat.sendTextMessage(", "W.chat.sendTextMesage(", "missing function: WPP.chat.sendTextMesage"),
        ("window.WPP.contact.getPnLidEntry", "window.WPP.contact.getPnLid",
         "missing function: WPP.contact.getPnLid"),
        (".conn.isAuthenticated()", ".conn.isAuthenticatedNow()",
         "missing function: WPP.conn.isAuthenticatedNow"),
        ("ready().chat.editMessage(", "ready().chat.editMsg(", "missing function: WPP.chat.editMsg"),
        ("on('conn.logout_reason'", "on('conn.logout_reasons'", "missing event: conn.logout_reasons"),
    ],
    ids=["W-alias", "window.WPP", "wpp-alias", "ready()", "event"],
)
def test_one_renamed_name_in_the_adapter_fails_with_the_name(
    tmp_path: Path, api: BundleApi, old: str, new: str, missing: str,
) -> None:
    source = ADAPTER_PATH.read_text(encoding="utf-8")
    assert old in source, f"the adapter no longer contains {old!r}; update this test"
    adapter = tmp_path / "adapter.js"
    adapter.write_text(source.replace(old, new, 1), encoding="utf-8")
    report = compare(adapter_usage(adapter.read_text(encoding="utf-8")), api)
    assert not report.ok
    assert missing in report.problems()


def test_a_value_called_as_a_function_fails(api: BundleApi) -> None:
    source = ADAPTER_PATH.read_text(encoding="utf-8") + "\nconst v = window.WPP.version();\n"
    assert "not a function: WPP.version (string)" in compare(adapter_usage(source), api).problems()


def test_the_extractor_refuses_an_adapter_it_does_not_understand() -> None:
    # An adapter that reaches wa-js through a name the extractor does not know would
    # otherwise pass with nothing checked.
    source = ADAPTER_PATH.read_text(encoding="utf-8")
    for alias in ("window.WPP", "W.", "wpp.", "wpp()", "ready()", "current."):
        source = source.replace(alias, "api.")
    with pytest.raises(ContractError, match="no longer understands"):
        adapter_usage(source)


def test_a_bundle_without_a_function_or_an_event_fails(tmp_path: Path) -> None:
    text = BUNDLE.read_text(encoding="utf-8")
    broken = tmp_path / "wa.js"
    broken.write_text(text.replace("sendFileMessage", "sendFileMsg").replace(
        '"chat.msg_edited"', '"chat.message_edited"'), encoding="utf-8")
    report = check_bundle(broken)
    assert report.missing == ["WPP.chat.sendFileMessage"]
    assert report.missing_events == ["chat.msg_edited"]
    not_wa_js = tmp_path / "other.js"
    not_wa_js.write_text("self.NotWPP = {};", encoding="utf-8")
    with pytest.raises(ContractError, match=r"did not define window\.WPP"):
        bundle_api(not_wa_js)
