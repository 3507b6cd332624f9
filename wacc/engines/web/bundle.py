"""The script injected into WhatsApp Web: WPPConfig, the pinned wa-js bundle, our adapter.

wa-js is vendored at build time from the npm package pinned in package-lock.json
(hatch_build.py), and the build writes its SRI hash into the vendor manifest. The file
is checked against that hash every time it is loaded: a file that changed on disk
(tampered with, half-copied, swapped for another version) is refused, because it would
run with full access to the WhatsApp account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wacc.assets import MANIFEST_NAME, vendor_dir
from wacc.engines.contract import PermanentEngineError

WA_JS_PACKAGE = "@wppconnect/wa-js"
WA_JS_FILE = "wppconnect-wa.js"
ADAPTER_PATH = Path(__file__).with_name("adapter.js")

# Read by wa-js when it loads (it must exist before the bundle runs).
WPP_CONFIG: dict[str, Any] = {
    # wa-js reports usage to Google Analytics unless told not to.
    "disableGoogleAnalytics": True,
    "googleAnalyticsId": None,
    "poweredBy": None,
    # false keeps WhatsApp's own device name ("Chrome") in the phone's linked devices.
    "deviceName": False,
    # wa-js builds link previews through third-party servers when none are set; an
    # empty list (with linkPreview: false on every send) keeps message text at home.
    "linkPreviewApiServers": [],
}


class BundleIntegrityError(PermanentEngineError):
    """The wa-js file does not match the hash recorded when it was vendored."""


@dataclass(frozen=True)
class WaJs:
    source: str
    version: str
    integrity: str


def load_wa_js(vendor: Path | None = None) -> WaJs:
    """Read the vendored wa-js bundle and check it against the manifest's SRI hash."""
    root = vendor or vendor_dir()
    try:
        manifest = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
        entry = manifest["packages"][WA_JS_PACKAGE]
        expected = entry["integrity"][WA_JS_FILE]
        data = (root / WA_JS_PACKAGE / WA_JS_FILE).read_bytes()
    except (OSError, KeyError, ValueError) as exc:
        raise BundleIntegrityError(
            f"wa-js is not vendored at {root} ({exc}); from a source checkout run "
            "`pip install -e .` (needs npm)",
            code="WA_JS_MISSING",
        ) from exc
    algorithm, _, digest = expected.partition("-")
    if algorithm not in ("sha256", "sha384", "sha512"):
        raise BundleIntegrityError(f"unknown integrity algorithm {algorithm!r}", code="WA_JS_INTEGRITY")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode("ascii")
    if not hmac.compare_digest(actual, digest):
        raise BundleIntegrityError(
            f"{WA_JS_PACKAGE}/{WA_JS_FILE} does not match its recorded hash "
            f"({expected}); refusing to inject it. Rebuild the vendored files.",
            code="WA_JS_INTEGRITY",
        )
    return WaJs(source=data.decode("utf-8"), version=str(entry.get("version", "")), integrity=expected)


def init_script(wa_js: WaJs, adapter: str | None = None) -> str:
    """One script for ``context.add_init_script``: Playwright does not promise an order
    between several init scripts, and WPPConfig must exist before wa-js, and wa-js
    before the adapter. Each part is guarded so a failure in one still lets the adapter
    install (the watchdog then sees its ping and the boot error)."""
    adapter_source = adapter if adapter is not None else ADAPTER_PATH.read_text(encoding="utf-8")
    config = json.dumps(WPP_CONFIG)
    return (
        # Only WhatsApp Web's top frame: not about:blank, iframes or other sites.
        "if (window.top === window && location.hostname === 'web.whatsapp.com') {\n"
        f"window.WPPConfig = Object.assign({{}}, window.WPPConfig, {config});\n"
        "try {\n"
        f"{wa_js.source}\n"
        "} catch (e) { window.__waccBootError = 'wa-js: ' + String(e && e.stack || e); }\n"
        "try {\n"
        f"{adapter_source}\n"
        "} catch (e) { window.__waccBootError = 'adapter: ' + String(e && e.stack || e); }\n"
        "}\n"
    )
