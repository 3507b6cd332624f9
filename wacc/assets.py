"""Where the web UI's files are: inside an installed wheel, or in the source tree.

A wheel carries templates/, static/ and the vendored browser libraries under
wacc/_assets/ (see pyproject.toml and hatch_build.py). When wacc runs from a source
checkout (editable install, tests), there is no wacc/_assets/ and the files are read
from the repository: <repo>/templates, <repo>/static and <repo>/build/vendor (which
hatch_build.py fills on `pip install -e .`).

Pure stdlib and free of other wacc imports, so any layer (CLI, web, tests) can use it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_PACKAGE_DIR = Path(__file__).resolve().parent
_INSTALLED = _PACKAGE_DIR / "_assets"
_REPO = _PACKAGE_DIR.parent

MANIFEST_NAME = "manifest.json"


def _pick(installed: Path, repo: Path) -> Path:
    """The installed location when the wheel shipped it, else the repository one."""
    return installed if installed.is_dir() else repo


def templates_dir() -> Path:
    """Jinja2 templates of the web UI."""
    return _pick(_INSTALLED / "templates", _REPO / "templates")


def static_dir() -> Path:
    """First-party static files (CSS, images, our own scripts)."""
    return _pick(_INSTALLED / "static", _REPO / "static")


def vendor_dir() -> Path:
    """Third-party browser files (htmx, Alpine.js, Swagger UI), one folder per npm package.

    In a wheel this is static/vendor, so it is also served under /static/vendor/. From a
    source tree it is build/vendor, outside static/, because it is build output.
    """
    return _pick(_INSTALLED / "static" / "vendor", _REPO / "build" / "vendor")


def vendor_manifest() -> dict[str, Any]:
    """The manifest hatch_build.py wrote: {"packages": {name: {version, files, ...}}}.

    Each package entry has "name", "version", "license", "files" (names inside
    vendor_dir()/<name>/), "license_files" and "integrity" (file name -> SRI hash).
    Read fresh on each call, so a rebuild during development shows up; cache it in the
    caller if it is read per request.
    """
    path = vendor_dir() / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} not found: the vendored browser files are missing. From a source "
            "checkout run `pip install -e .` (needs npm); a wheel built with "
            "WACC_SKIP_ASSETS=1 has none."
        ) from None
    manifest: dict[str, Any] = json.loads(text)
    return manifest
