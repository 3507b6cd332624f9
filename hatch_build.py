"""Hatchling build hook: copy the pinned browser files from node_modules into the wheel.

The repository holds no third-party code. The browser libraries the web UI needs are
npm packages pinned in package.json + package-lock.json (npm checks each tarball against
the lockfile's integrity hash). At build time this hook:

1. runs `npm ci` when node_modules is missing or does not match package-lock.json;
2. copies the files declared in VENDOR below, plus each package's license files, into
   build/vendor/<package>/ and writes build/vendor/manifest.json;
3. for a regular wheel, maps build/vendor to wacc/_assets/static/vendor inside the wheel.
   An editable install (`pip install -e .`) leaves the files in build/vendor, where
   `wacc.assets.vendor_dir()` finds them when running from the source tree.

Set WACC_SKIP_ASSETS=1 to build without the browser files (for example on a machine
without npm); the hook then warns and the web UI will be missing its libraries.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from base64 import b64encode
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# The only list of vendored browser files. Keys are npm package names (as in
# package.json); "files" maps a path inside the package to the reason we ship it. Each
# file lands flat in build/vendor/<package>/<basename>, so the URL is
# /static/vendor/<package>/<basename>. Anything not listed here stays out of the wheel.
VENDOR: dict[str, dict[str, Any]] = {
    "htmx.org": {
        "files": {
            # hx-* attributes drive every page of the web UI (partial page swaps).
            "dist/htmx.min.js": "htmx core, the minified browser build",
        },
    },
    "@alpinejs/csp": {
        "files": {
            # The self-initialising build for a plain <script defer> tag: small
            # client-side state (menus, modals, toggles) without a JS bundler. The CSP
            # build, because the standard one compiles expressions with Function(),
            # which our Content-Security-Policy (no 'unsafe-eval') forbids.
            "dist/cdn.min.js": "Alpine.js, the CSP-safe script-tag build",
        },
        # cdn.min.js has @vue/reactivity (and @vue/shared) compiled into it, so their
        # license notices travel with it.
        "bundled": ["@vue/reactivity", "@vue/shared"],
    },
    "swagger-ui-dist": {
        "files": {
            # The interactive API docs page for Litestar's OpenAPI schema, served from
            # our own origin so an air-gapped install needs no CDN.
            "swagger-ui-bundle.js": "Swagger UI, all of its code in one script",
            "swagger-ui.css": "Swagger UI styles",
            # Provides the StandaloneLayout (top bar + URL box) used by the docs page.
            "swagger-ui-standalone-preset.js": "Swagger UI standalone layout preset",
        },
    },
    "lucide-static": {
        # Icons of the web UI as SVG, inlined into pages by wacc.ui.icons.icon(): emoji
        # used as icons drew empty boxes on a server without an emoji font. Only the
        # icons the UI uses are shipped; add a file here to use another one.
        # A literal dict: tests/test_packaging.py reads VENDOR with ast.literal_eval.
        "files": {
            "icons/arrow-left.svg": "icon",
            "icons/ban.svg": "icon",
            "icons/bot.svg": "icon",
            "icons/camera.svg": "icon",
            "icons/check.svg": "icon",
            "icons/check-check.svg": "icon",
            "icons/clock.svg": "icon",
            "icons/contact-round.svg": "icon",
            "icons/file-text.svg": "icon",
            "icons/keyboard.svg": "icon",
            "icons/lock.svg": "icon",
            "icons/map-pin.svg": "icon",
            "icons/menu.svg": "icon",
            "icons/mic.svg": "icon",
            "icons/paperclip.svg": "icon",
            "icons/smile.svg": "icon",
            "icons/triangle-alert.svg": "icon",
            "icons/video.svg": "icon",
            "icons/vote.svg": "icon",
            "icons/zap.svg": "icon",
        },
    },
    "@wppconnect/wa-js": {
        "files": {
            # Not for the web UI: the `web` engine injects it into WhatsApp Web inside
            # Chromium (wacc.engines.web), where it exposes WhatsApp's internal modules
            # as the WPP API our adapter calls. The engine checks this file against the
            # manifest's hash before injecting it. Its webpack notices ride along in
            # wppconnect-wa.js.LICENSE.txt, which the companion rule below copies.
            "dist/wppconnect-wa.js": "wa-js, the WhatsApp Web API bundle the web engine injects",
        },
    },
}

# Top-level file names that carry a package's license terms or required notices
# (Apache-2.0 section 4 asks for NOTICE to be passed on, hence NOTICE too).
LICENSE_PREFIXES = ("license", "licence", "copying", "notice")

# Alpine's packages publish no license file in its npm tarball, although MIT asks for the
# notice to accompany copies. This is the verbatim LICENSE.md of the alpinejs/alpine
# repository; it is used only while the installed package has no license file itself.
ALPINE_LICENSE_MD = """\
# MIT License

Copyright \N{COPYRIGHT SIGN} 2019-2021 Caleb Porzio and contributors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""
FALLBACK_LICENSES: dict[str, tuple[str, str]] = {
    "@alpinejs/csp": ("LICENSE.md", ALPINE_LICENSE_MD),
}

VENDOR_DIR = Path("build") / "vendor"
WHEEL_VENDOR_PATH = "wacc/_assets/static/vendor"

# Flags are passed explicitly rather than read from .npmrc, because the sdist does not
# carry .npmrc: no install scripts (swagger-ui-dist's @scarf/scarf dependency would
# otherwise report the install to a third party), no audit/funding chatter.
NPM_CI = ("ci", "--ignore-scripts", "--no-audit", "--no-fund")


class AssetsError(RuntimeError):
    """The browser files could not be prepared; the message says what to do."""


class CustomBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if os.environ.get("WACC_SKIP_ASSETS") == "1":
            self.app.display_warning(
                "WACC_SKIP_ASSETS=1: building without the vendored browser files "
                "(htmx, Alpine.js, Swagger UI); the web UI will not work from this build."
            )
            return

        root = Path(self.root)
        ensure_node_modules(root)
        vendor = build_vendor_dir(root)
        self.app.display_info(f"wacc: vendored browser files written to {vendor}")

        # An editable install imports wacc from the source tree; wacc.assets then serves
        # build/vendor directly, so nothing is copied into site-packages for it.
        if version != "editable":
            build_data["force_include"][str(vendor)] = WHEEL_VENDOR_PATH

    def clean(self, versions: list[str]) -> None:
        shutil.rmtree(Path(self.root) / VENDOR_DIR, ignore_errors=True)


def ensure_node_modules(root: Path) -> None:
    """Run `npm ci` unless node_modules already matches package-lock.json."""
    lock_path = root / "package-lock.json"
    if not lock_path.is_file():
        raise AssetsError(f"{lock_path} is missing; it pins the browser packages to vendor.")
    if node_modules_current(root, lock_path):
        return

    npm = shutil.which("npm")
    if npm is None:
        raise AssetsError(
            "npm is needed to fetch the browser packages pinned in package-lock.json "
            "(htmx, Alpine.js, Swagger UI) but was not found on PATH. Install Node.js/npm "
            "(e.g. `apt-get install npm`), or set WACC_SKIP_ASSETS=1 to build without them."
        )
    try:
        # Fixed argument list, no shell: the executable comes from PATH on purpose.
        subprocess.run([npm, *NPM_CI], cwd=root, check=True)  # noqa: S603
    except subprocess.CalledProcessError as exc:
        raise AssetsError(
            f"`npm {' '.join(NPM_CI)}` failed with exit code {exc.returncode} in {root}; "
            "see npm's output above."
        ) from exc
    if not node_modules_current(root, lock_path):
        raise AssetsError("`npm ci` finished but node_modules does not match package-lock.json.")


def node_modules_current(root: Path, lock_path: Path) -> bool:
    """True when node_modules is newer than the lockfile and has the locked versions.

    npm writes node_modules/.package-lock.json on every install, so its mtime is the time
    of the last install. Versions are compared too, because a git checkout can leave the
    lockfile with an older mtime than a node_modules installed from another revision.
    """
    marker = root / "node_modules" / ".package-lock.json"
    if not marker.is_file() or marker.stat().st_mtime < lock_path.stat().st_mtime:
        return False
    locked = json.loads(lock_path.read_text(encoding="utf-8")).get("packages", {})
    for name in VENDOR:
        want = locked.get(f"node_modules/{name}", {}).get("version")
        if want is None:
            raise AssetsError(
                f"{name} is listed in hatch_build.VENDOR but not in package-lock.json"
            )
        installed = root / "node_modules" / name / "package.json"
        if not installed.is_file():
            return False
        if json.loads(installed.read_text(encoding="utf-8")).get("version") != want:
            return False
    return True


def build_vendor_dir(root: Path) -> Path:
    """Copy the declared files and license files into build/vendor; return its path."""
    vendor = root / VENDOR_DIR
    # Start empty so files dropped from VENDOR do not linger in later builds.
    shutil.rmtree(vendor, ignore_errors=True)
    vendor.mkdir(parents=True)

    manifest: dict[str, Any] = {"packages": {}}
    for name, spec in VENDOR.items():
        src = root / "node_modules" / name
        dest = vendor / name
        dest.mkdir(parents=True)
        meta = json.loads((src / "package.json").read_text(encoding="utf-8"))

        files: list[str] = []
        integrity: dict[str, str] = {}
        notices: list[str] = []
        for rel in spec["files"]:
            source = src / rel
            if not source.is_file():
                raise AssetsError(
                    f"{name}@{meta.get('version')} has no {rel}; update hatch_build.VENDOR "
                    "for the new package layout."
                )
            target = dest / source.name
            if target.exists():
                raise AssetsError(f"two files of {name} would both be named {source.name}")
            shutil.copy2(source, target)
            files.append(source.name)
            # Subresource Integrity value, so templates can add integrity="..." attributes.
            digest = hashlib.sha384(target.read_bytes()).digest()
            integrity[source.name] = "sha384-" + b64encode(digest).decode("ascii")
            # Webpack-built bundles keep the notices of the code inlined into them in a
            # sibling "<file>.LICENSE.txt" (swagger-ui-dist does this).
            companion = source.with_name(source.name + ".LICENSE.txt")
            if companion.is_file():
                shutil.copy2(companion, dest / companion.name)
                notices.append(companion.name)

        license_files = copy_license_files(src, dest)
        if not license_files and name in FALLBACK_LICENSES:
            file_name, text = FALLBACK_LICENSES[name]
            (dest / file_name).write_text(text, encoding="utf-8")
            license_files = [file_name]
        if not license_files:
            raise AssetsError(
                f"{name} ships no LICENSE/NOTICE file; add its license text to "
                "hatch_build.FALLBACK_LICENSES before vendoring it."
            )

        for dep in spec.get("bundled", []):
            dep_files = copy_license_files(root / "node_modules" / dep, dest / "bundled" / dep)
            if not dep_files:
                raise AssetsError(f"{dep} (bundled into {name}) ships no license file")
            notices.extend(f"bundled/{dep}/{f}" for f in dep_files)

        manifest["packages"][name] = {
            "name": name,
            "version": meta["version"],
            "license": meta.get("license"),
            "files": files,
            "license_files": license_files + notices,
            "integrity": integrity,
        }

    (vendor / "manifest.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return vendor


def copy_license_files(src: Path, dest: Path) -> list[str]:
    """Copy LICENSE*/NOTICE*/... from the top of an installed package; return their names."""
    if not src.is_dir():
        return []
    found = sorted(
        p for p in src.iterdir() if p.is_file() and p.name.lower().startswith(LICENSE_PREFIXES)
    )
    if found:
        dest.mkdir(parents=True, exist_ok=True)
    for path in found:
        shutil.copy2(path, dest / path.name)
    return [p.name for p in found]
