"""Installing a newer wa-js than the vendored one (``wacc wajs install``).

The operator gives a file and the hash they expect of it (from the npm registry's
``dist.integrity`` or ``openssl dgst -sha384 -binary FILE | base64``). The file is
stored under ``<data dir>/wa-js/`` only when the hash matches and the bundle passes
the contract check of :mod:`wacc.engines.web.wajs_contract` (every wa-js function
and event the adapter uses exists), so an install can never hand sessions a bundle
that calls something wa-js lacks. The record keeps version and hash; the bundle is
re-hashed against it at every load (:func:`wacc.engines.web.bundle.load_installed`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from wacc.engines.web.bundle import (
    INSTALL_RECORD,
    banner_version,
    install_dir,
    matches,
    sri,
)
from wacc.engines.web.wajs_contract import ContractError, check_bundle

MAX_BUNDLE_BYTES = 20 * 2**20  # wa-js 4.6 is 0.5 MB; anything near this is not wa-js


class InstallError(Exception):
    """The bundle was refused; the message says why in one line."""


@dataclass(frozen=True)
class Installed:
    path: Path
    version: str
    integrity: str
    checked_paths: int
    checked_events: int


def install_bundle(data_dir: Path, source: Path, expected_hash: str) -> Installed:
    try:
        expected = sri(expected_hash)
    except ValueError as exc:
        raise InstallError(f"bad --sha384 value: {exc}") from exc
    try:
        size = source.stat().st_size
        if size > MAX_BUNDLE_BYTES:
            raise InstallError(f"{source} is {size} bytes; a wa-js bundle is far smaller")
        data = source.read_bytes()
    except OSError as exc:
        raise InstallError(f"cannot read {source}: {exc.strerror or exc}") from exc
    if not matches(data, expected):
        raise InstallError(f"{source} does not match {expected}: refused (downloaded the "
                           "wrong file, or it was changed)")
    folder = install_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    staged = _write_temp(folder, data, suffix=".js")
    try:
        try:
            report = check_bundle(staged)
        except ContractError as exc:
            raise InstallError(f"{source} could not be checked: {exc}") from exc
        if not report.ok:
            raise InstallError(f"{source} lacks what wacc's adapter uses: "
                               + "; ".join(report.problems()))
        version = banner_version(data[:2000].decode("utf-8", errors="replace")) or "unknown"
        # Named by its hash, so the record (replaced last, atomically) always names a
        # complete file: a session starting during an install gets the old or the new.
        name = f"wppconnect-wa-{hashlib.sha256(data).hexdigest()[:16]}.js"
        record = {
            "file": name,
            "version": version,
            "integrity": expected,
            "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "from": str(source.absolute()),
            "contract": {"paths": report.checked_paths, "events": report.checked_events},
        }
        previous = _recorded_file(folder)
        staged.replace(folder / name)
        record_tmp = _write_temp(folder, json.dumps(record, indent=2).encode(), suffix=".json")
        record_tmp.replace(folder / INSTALL_RECORD)
        if previous and previous != name:
            # A running session read its bundle at start; it needs the file no longer.
            with contextlib.suppress(FileNotFoundError):
                (folder / previous).unlink()
    finally:
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()
    return Installed(path=folder / name, version=version, integrity=expected,
                     checked_paths=report.checked_paths, checked_events=report.checked_events)


def remove_bundle(data_dir: Path) -> bool:
    """Go back to the vendored wa-js; False if none was installed."""
    folder = install_dir(data_dir)
    record = folder / INSTALL_RECORD
    if not record.exists():
        return False
    name = _recorded_file(folder)
    record.unlink()  # the record decides: without it the vendored bundle is used
    if name:
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()
    return True


def _recorded_file(folder: Path) -> str | None:
    try:
        name = str(json.loads((folder / INSTALL_RECORD).read_text(encoding="utf-8"))["file"])
    except (OSError, KeyError, ValueError, TypeError):
        return None
    return Path(name).name  # never a path out of the folder


def _write_temp(folder: Path, data: bytes, *, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(dir=folder, prefix=".staging-", suffix=suffix)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    path = Path(name)
    path.chmod(0o644)  # a public script, read by the wa role's user
    return path
