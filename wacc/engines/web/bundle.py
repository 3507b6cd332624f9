"""The script injected into WhatsApp Web: WPPConfig, the pinned wa-js bundle, our adapter.

wa-js is vendored at build time from the npm package pinned in package-lock.json
(hatch_build.py), and the build writes its SRI hash into the vendor manifest. The file
is checked against that hash every time it is loaded: a file that changed on disk
(tampered with, half-copied, swapped for another version) is refused, because it would
run with full access to the WhatsApp account.

WhatsApp Web changes faster than wacc is released, so an operator may run a newer
wa-js without a new wacc. Which bundle a session loads, first match wins:

1. ``configured``: the file named by ``WACC_WA_JS_PATH`` with the hash in
   ``WACC_WA_JS_SHA384`` (both needed);
2. ``installed``: the one ``wacc wajs install`` stored in ``<data dir>/wa-js/``, with
   the version and hash it recorded;
3. ``vendored``: the one shipped with wacc.

Every source is re-hashed at every load, and a mismatch is refused, never replaced by
another source: the operator chose that bundle.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wacc.assets import MANIFEST_NAME, vendor_dir
from wacc.engines.contract import PermanentEngineError

log = logging.getLogger(__name__)

WA_JS_PACKAGE = "@wppconnect/wa-js"
WA_JS_FILE = "wppconnect-wa.js"
INSTALL_DIR = "wa-js"  # inside the data directory
INSTALL_RECORD = "installed.json"
SRI_ALGORITHMS = ("sha256", "sha384", "sha512")
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
    origin: str = "vendored"  # vendored | installed | configured
    path: str = ""


@dataclass(frozen=True)
class WaJsChoice:
    """Where the sessions of this installation take wa-js from (see the module doc)."""

    data_dir: Path | None = None
    path: str = ""  # WACC_WA_JS_PATH
    sha384: str = ""  # WACC_WA_JS_SHA384
    vendor: Path | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> WaJsChoice:
        wa = settings.whatsapp
        return cls(data_dir=settings.data_path, path=getattr(wa, "wa_js_path", ""),
                   sha384=getattr(wa, "wa_js_sha384", ""))

    def load(self) -> WaJs:
        if self.path or self.sha384:
            if not (self.path and self.sha384):
                raise BundleIntegrityError(
                    "WACC_WA_JS_PATH and WACC_WA_JS_SHA384 must be set together",
                    code="WA_JS_CONFIG")
            return load_file(Path(self.path), sri(self.sha384), origin="configured")
        if self.data_dir is not None and (install_dir(self.data_dir) / INSTALL_RECORD).exists():
            return load_installed(self.data_dir)
        return load_wa_js(self.vendor)

    def stamp(self) -> tuple[str, ...]:
        """Changes when another bundle would be loaded now (a new install, an
        uninstall): cheap enough for every watchdog round (one stat, one small read)."""
        if self.path or self.sha384:
            return ("configured", self.path, self.sha384)
        if self.data_dir is not None:
            try:
                record = (install_dir(self.data_dir) / INSTALL_RECORD).read_text(encoding="utf-8")
            except OSError:
                return ("vendored",)
            return ("installed", record)
        return ("vendored",)


    def changed(self, seen: tuple[str, ...], session_id: str) -> tuple[tuple[str, ...], WaJs | None]:
        """(stamp, bundle) when another bundle than the one stamped *seen* is to be
        loaded now; (seen, None) when not, or when the new one is refused (logged: the
        running, already checked bundle stays until the operator fixes it)."""
        stamp = self.stamp()
        if stamp == seen:
            return seen, None
        try:
            return stamp, self.load()
        except BundleIntegrityError as exc:
            log.error("session %s: the new wa-js is refused, keeping the running one: %s",
                      session_id, exc)
            return stamp, None  # said once, not every round


def install_dir(data_dir: Path) -> Path:
    return Path(data_dir) / INSTALL_DIR


def sri(value: str) -> str:
    """An SRI string (``sha384-<base64>``) from either that form or bare base64 of a
    SHA-384 digest; ValueError if it is neither."""
    value = value.strip()
    algorithm, dash, digest = value.partition("-")
    if not dash:
        algorithm, digest = "sha384", value
    if algorithm not in SRI_ALGORITHMS:
        raise ValueError(f"unknown hash algorithm {algorithm!r} (use sha384-<base64>)")
    try:
        raw = base64.b64decode(digest, validate=True)
    except ValueError as exc:
        raise ValueError("the hash is not base64") from exc
    if len(raw) != hashlib.new(algorithm).digest_size:
        raise ValueError(f"the hash is not a {algorithm} digest ({len(raw)} bytes)")
    return f"{algorithm}-{digest}"


def integrity_of(data: bytes, algorithm: str = "sha384") -> str:
    return f"{algorithm}-" + base64.b64encode(hashlib.new(algorithm, data).digest()).decode("ascii")


def matches(data: bytes, expected: str) -> bool:
    algorithm = expected.partition("-")[0]
    if algorithm not in SRI_ALGORITHMS:
        return False
    return hmac.compare_digest(integrity_of(data, algorithm), expected)


def load_file(path: Path, expected: str, *, origin: str, version: str = "") -> WaJs:
    """A wa-js dist outside the vendor folder, checked against *expected* (SRI)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleIntegrityError(f"cannot read wa-js at {path} ({exc})", code="WA_JS_MISSING") from exc
    if not matches(data, expected):
        raise BundleIntegrityError(
            f"wa-js at {path} does not match its recorded hash ({expected}); refusing to "
            "inject it", code="WA_JS_INTEGRITY")
    source = data.decode("utf-8", errors="replace")
    return WaJs(source=source, version=version or banner_version(source), integrity=expected,
                origin=origin, path=str(path))


def load_installed(data_dir: Path) -> WaJs:
    folder = install_dir(data_dir)
    try:
        record = json.loads((folder / INSTALL_RECORD).read_text(encoding="utf-8"))
        expected, version = str(record["integrity"]), str(record.get("version") or "")
        name = Path(str(record.get("file") or WA_JS_FILE)).name  # never outside the folder
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise BundleIntegrityError(
            f"the installed wa-js record in {folder} is unreadable ({exc}); run `wacc wajs "
            "install` again or `wacc wajs remove`", code="WA_JS_MISSING") from exc
    return load_file(folder / name, expected, origin="installed", version=version)


def banner_version(source: str) -> str:
    """The version in a wa-js dist's banner: ``/*! wppconnect-team/wa-js v4.6.0 */``."""
    match = _BANNER.search(source[:2000])
    return match.group(1) if match else ""


_BANNER = re.compile(r"wa-js v(\d+\.\d+\.\d+[\w.+-]*)")


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
    return WaJs(source=data.decode("utf-8"), version=str(entry.get("version", "")), integrity=expected,
                origin="vendored", path=str(root / WA_JS_PACKAGE / WA_JS_FILE))


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
