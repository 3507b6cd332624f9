"""`wacc wajs install` and the wa-js sources (issue 11 item 6): a bundle is stored only
with a matching hash and the adapter's contract; sessions load it in preference to the
vendored one, re-hashed at every load; `wacc doctor` names version and source; the
WACC_WA_JS_PATH/_SHA384 setting; `wacc doctor --live` when the site is unreachable."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from wacc.assets import vendor_dir
from wacc.config import load_settings
from wacc.engines.web.bundle import BundleIntegrityError, WaJsChoice, integrity_of
from wacc.security.crypto import encode_key, new_key

BUNDLE = vendor_dir() / "@wppconnect" / "wa-js" / "wppconnect-wa.js"


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WACC_")}
    env.update(WACC_DATA_DIR=str(data_dir), WACC_SECRET_KEY=encode_key(new_key()),
               WACC_LOG_FORMAT="json", **extra)
    return env


def wacc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wacc.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=180, check=False)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


def newer_bundle(tmp_path: Path) -> Path:
    """The vendored dist, relabelled as a later release (another hash, same API)."""
    path = tmp_path / "wppconnect-wa.js"
    path.write_text(BUNDLE.read_text(encoding="utf-8").replace("wa-js v4.6.0", "wa-js v4.6.1", 1),
                    encoding="utf-8")
    return path


def doctor_wa_js(env: dict[str, str]) -> str:
    out = wacc(env, "doctor").stdout
    match = re.search(r"^(OK|WARN|FAIL)\s+wa-js\s+(.*)$", out, re.M)
    assert match, out
    return f"{match[1]} {match[2]}"


@pytest.mark.slow
def test_install_checks_hash_and_contract_then_sessions_load_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    env = env_for(data)
    assert doctor_wa_js(env).startswith("OK 4.6.0 (vendored")
    bundle = newer_bundle(tmp_path)
    good = integrity_of(bundle.read_bytes())

    # A wrong hash: one line, non-zero, nothing stored.
    wrong = integrity_of(BUNDLE.read_bytes())
    line = one_line_error(wacc(env, "wajs", "install", str(bundle), "--sha384", wrong))
    assert "does not match" in line
    assert one_line_error(wacc(env, "wajs", "install", str(bundle), "--sha384", "nonsense"))
    assert not (data / "wa-js" / "installed.json").exists()

    # A bundle lacking what the adapter calls: refused with the names.
    broken = tmp_path / "broken.js"
    broken.write_text(bundle.read_text(encoding="utf-8").replace("sendLocationMessage", "sendLocMessage")
                      .replace('"conn.qrcode_idle"', '"conn.qr_idle"'), encoding="utf-8")
    line = one_line_error(wacc(env, "wajs", "install", str(broken), "--sha384",
                               integrity_of(broken.read_bytes())))
    assert "WPP.chat.sendLocationMessage" in line and "conn.qrcode_idle" in line
    assert not (data / "wa-js" / "installed.json").exists()

    # The right one, hash given as bare base64 (openssl dgst -sha384 -binary | base64).
    bare = base64.b64encode(hashlib.sha384(bundle.read_bytes()).digest()).decode()
    out = wacc(env, "wajs", "install", str(bundle), "--sha384", bare)
    assert out.returncode == 0, out.stderr
    assert "installed wa-js 4.6.1" in out.stdout and "restart" in out.stdout
    assert doctor_wa_js(env).startswith("OK 4.6.1 (installed")
    status = wacc(env, "wajs", "status")
    assert status.returncode == 0 and "4.6.1 (installed)" in status.stdout

    # What a session loads: the installed bundle, re-hashed at every load.
    choice = WaJsChoice.from_settings(load_settings(env={"WACC_DATA_DIR": str(data)}))
    loaded = choice.load()
    assert (loaded.origin, loaded.version, loaded.integrity) == ("installed", "4.6.1", good)
    stamp = choice.stamp()
    installed = Path(loaded.path)
    installed.write_bytes(installed.read_bytes() + b"\n;window.stolen = document.cookie;")
    with pytest.raises(BundleIntegrityError, match="does not match"):
        choice.load()
    assert doctor_wa_js(env).startswith("FAIL")

    # Removing it goes back to the vendored bundle (a watchdog sees the stamp change).
    assert wacc(env, "wajs", "remove").returncode == 0
    assert choice.load().origin == "vendored" and choice.stamp() != stamp
    assert one_line_error(wacc(env, "wajs", "remove"))


def test_the_setting_names_a_file_and_its_hash(tmp_path: Path) -> None:
    bundle = newer_bundle(tmp_path)
    good = integrity_of(bundle.read_bytes())
    settings = load_settings(env={"WACC_DATA_DIR": str(tmp_path), "WACC_WA_JS_PATH": str(bundle),
                                  "WACC_WA_JS_SHA384": good})
    loaded = WaJsChoice.from_settings(settings).load()
    assert (loaded.origin, loaded.version, loaded.path) == ("configured", "4.6.1", str(bundle))
    for wrong in ({"WACC_WA_JS_SHA384": integrity_of(BUNDLE.read_bytes())}, {"WACC_WA_JS_SHA384": ""}):
        bad = load_settings(env={"WACC_DATA_DIR": str(tmp_path), "WACC_WA_JS_PATH": str(bundle), **wrong})
        with pytest.raises(BundleIntegrityError):
            WaJsChoice.from_settings(bad).load()


@pytest.mark.slow
def test_doctor_live_says_clearly_when_whatsapp_web_is_unreachable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    # Port 9 (discard) on loopback: refused at once, like a closed network on CI.
    result = wacc(env_for(data), "doctor", "--live", "--live-url", "https://127.0.0.1:9/",
                  "--live-timeout", "5")
    line = re.search(r"^(\w+)\s+live\s+(.*)$", result.stdout, re.M)
    assert line, result.stdout + result.stderr
    assert line[1] == "WARN" and line[2].startswith("unreachable: https://127.0.0.1:9/ could not be loaded")
    failed = re.findall(r"^FAIL", result.stdout, re.M)
    # 3: nothing failed, but the live check could not reach the site (1 if a check FAILed).
    assert result.returncode == (1 if failed else 3), result.stdout


@pytest.mark.slow
def test_doctor_flags_a_configured_bundle_that_the_adapter_outgrew(tmp_path: Path) -> None:
    # E.g. a bundle installed for an older wacc, kept after upgrading wacc: the hash is
    # right, but the adapter now calls something it lacks.
    data = tmp_path / "data"
    data.mkdir()
    old = tmp_path / "old.js"
    old.write_text(BUNDLE.read_text(encoding="utf-8").replace("sendCreatePollMessage", "sendPollMessage"),
                   encoding="utf-8")
    env = env_for(data, WACC_WA_JS_PATH=str(old), WACC_WA_JS_SHA384=integrity_of(old.read_bytes()))
    line = doctor_wa_js(env)
    assert line.startswith("FAIL 4.6.0 (configured") and "WPP.chat.sendCreatePollMessage" in line


def test_wajs_check_lists_what_a_renamed_adapter_call_lacks(tmp_path: Path) -> None:
    from wacc.engines.web.bundle import ADAPTER_PATH

    data = tmp_path / "data"
    data.mkdir()
    env = env_for(data)
    passed = wacc(env, "wajs", "check")
    assert passed.returncode == 0 and "functions and" in passed.stdout, passed.stderr
    renamed = tmp_path / "adapter.js"
    source = ADAPTER_PATH.read_text(encoding="utf-8")
    assert "W.chat.sendTextMessage(" in source
    renamed.write_text(source.replace("W.chat.sendTextMessage(", "W.chat.sendTextMesage(", 1),
                       encoding="utf-8")
    failed = wacc(env, "wajs", "check", "--adapter", str(renamed))
    assert failed.stdout.splitlines() == ["missing function: WPP.chat.sendTextMesage"]
    assert "1 name(s) the adapter uses are missing" in one_line_error(failed)
