"""`wacc doctor`: check an installation and say what to fix.

Read-only: it never creates, migrates or repairs anything.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from wacc.cli.common import explain, state
from wacc.config import ConfigError, Settings, redacted
from wacc.security.crypto import key_file, key_file_is_private, load_keyring

MIN_PYTHON = (3, 11)
DISK_WARN_BYTES = 1 << 30
DISK_FAIL_BYTES = 100 << 20
CHROMIUM_PATHS = ("/usr/bin/chromium",)
CHROMIUM_NAMES = ("chromium", "chromium-browser")


@dataclass(frozen=True)
class Check:
    status: str  # OK | WARN | FAIL
    name: str
    detail: str


def check_python() -> Check:
    version = platform.python_version()
    if sys.version_info >= MIN_PYTHON:
        return Check("OK", "python", version)
    return Check("FAIL", "python", f"{version}: wacc needs Python "
                 f"{'.'.join(map(str, MIN_PYTHON))} or newer")


def check_data_dir(settings: Settings) -> Iterator[Check]:
    path = settings.data_path
    if not path.is_dir():
        yield Check("FAIL", "data dir", f"{path} does not exist: run `wacc init`")
        return
    if not os.access(path, os.W_OK | os.X_OK):
        yield Check("FAIL", "data dir", f"{path} is not writable by this user "
                    f"(uid {os.getuid()}): fix its owner")
        return
    yield Check("OK", "data dir", str(path))
    free = shutil.disk_usage(path).free
    shown = f"{free / (1 << 30):.1f} GiB free in {path}"
    if free < DISK_FAIL_BYTES:
        yield Check("FAIL", "disk", f"{shown}: free some space")
    elif free < DISK_WARN_BYTES:
        yield Check("WARN", "disk", f"{shown}: media and the database will need more")
    else:
        yield Check("OK", "disk", shown)


def check_master_key(settings: Settings) -> Check:
    if settings.security.secret_key:
        try:
            keyring = load_keyring(settings)
        except ConfigError as exc:
            return Check("FAIL", "master key", str(exc))
        return Check("OK", "master key", f"WACC_SECRET_KEY (key {keyring.current_id})")
    path = key_file(settings)
    if not path.exists():
        return Check("FAIL", "master key", f"{path} is missing: run `wacc init` (or set "
                     "WACC_SECRET_KEY)")
    try:
        keyring = load_keyring(settings)
    except ConfigError as exc:
        return Check("FAIL", "master key", str(exc))
    if not key_file_is_private(path):
        return Check("FAIL", "master key", f"{path} is readable by others: chmod 600 {path}")
    extra = f"; {len(keyring.keys)} keys: finish the rotation with `wacc keys rotate`" \
        if len(keyring.keys) > 1 else ""
    return Check("WARN" if extra else "OK", "master key",
                 f"{path} (0600, key {keyring.current_id}){extra}")


async def _pending_migrations() -> int:
    from piccolo.apps.migrations.commands.base import BaseMigrationManager
    from piccolo.apps.migrations.tables import Migration

    from wacc.schema import APP_CONFIG

    finder = BaseMigrationManager()
    ids = set(finder.get_migration_modules(APP_CONFIG.resolved_migrations_folder_path))
    if not await Migration.table_exists():
        return len(ids)
    applied = await Migration.select(Migration.name).where(
        Migration.app_name == APP_CONFIG.app_name
    )
    return len(ids - {row["name"] for row in applied})


async def _database_check(settings: Settings, exists: bool) -> Check:
    from wacc.roles.common import database, database_location

    where = database_location(settings)
    if not exists:
        return Check("WARN", "database", f"{where} does not exist yet: `wacc init` or "
                     "`wacc run` creates it")
    try:
        async with database(settings):
            pending = await _pending_migrations()
    except Exception as exc:
        return Check("FAIL", "database", explain(exc))
    if pending:
        return Check("WARN", "database", f"{where}: {pending} migration(s) pending: run "
                     "`wacc migrate` (`wacc run` also applies them)")
    return Check("OK", "database", f"{where}, migrations applied")


async def _redis_check(settings: Settings) -> Check:
    from wacc.system.services import check_redis

    if not settings.redis.url:
        return Check("OK", "redis", "not used (embedded mode)")
    error = await check_redis(settings.redis.url)
    if error:
        return Check("FAIL", "redis", f"no answer ({error}): check WACC_REDIS_URL and that "
                     "Redis runs")
    return Check("OK", "redis", "answers")


def check_base_url(settings: Settings) -> Check:
    """Where the links wacc gives out (invites, password resets, webhook URLs) point.
    A malformed WACC_BASE_URL never gets here: the config check names it."""
    url = settings.public_url
    if not settings.core.base_url:
        return Check("WARN", "base url", f"WACC_BASE_URL is not set: links use {url} (the "
                     "listen address); set it to the address people open, e.g. "
                     "https://wacc.example.com")
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return Check("WARN", "base url", f"{url} opens only on this machine: links sent to "
                     "others will not work for them")
    return Check("OK", "base url", url)


def check_chromium() -> Check:
    found = next((p for p in CHROMIUM_PATHS if Path(p).is_file()), None) or next(
        (w for w in map(shutil.which, CHROMIUM_NAMES) if w), None
    )
    if found is None:
        return Check("WARN", "chromium", "not found; needed only for the WhatsApp Web engine "
                     "(Debian/Ubuntu: apt-get install chromium)")
    try:
        out = subprocess.run(  # noqa: S603 - a fixed program path, no shell
            [found, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("FAIL", "chromium", f"{found} does not run ({type(exc).__name__}): "
                     "reinstall it")
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return Check("FAIL", "chromium", f"{found} --version failed: {last}")
    return Check("OK", "chromium", f"{found}: {out.stdout.strip()}")


def check_wa_js(settings: Settings) -> Check:
    """The wa-js bundle web sessions inject: which one (configured, installed with
    `wacc wajs install`, or vendored), its version, and that its hash still matches."""
    from wacc.engines.web.bundle import BundleIntegrityError, WaJsChoice

    choice = WaJsChoice.from_settings(settings)
    try:
        bundle = choice.load()
    except BundleIntegrityError as exc:
        if exc.code == "WA_JS_MISSING" and choice.stamp() == ("vendored",):
            return Check("WARN", "wa-js", f"browser files missing ({exc}); the web engine will "
                         "not start: reinstall wacc (building needs npm)")
        return Check("FAIL", "wa-js", f"{exc}; web sessions will not start")
    shown = f"{bundle.version or 'unknown version'} ({bundle.origin}, {bundle.integrity[:19]}…"
    # An installed bundle may predate this wacc's adapter: check they still agree.
    from wacc.engines.web.wajs_contract import ContractError, check_bundle

    try:
        report = check_bundle(Path(bundle.path))
    except ContractError as exc:
        return Check("WARN", "wa-js", f"{shown}); contract not checked: {exc}")
    if not report.ok:
        return Check("FAIL", "wa-js", f"{shown}) lacks what the adapter uses: "
                     + "; ".join(report.problems()) + " (install a matching wa-js)")
    return Check("OK", "wa-js", f"{shown}; integrity checked at every start, "
                 f"{report.checked_paths} functions and {report.checked_events} events present)")


# `wacc doctor --live` exits with this when nothing FAILed but web.whatsapp.com could
# not be reached, so a script can tell "could not test" from "works" and "broken".
EXIT_UNREACHABLE = 3


def check_live(settings: Settings, url: str, timeout: float) -> Check:
    """Open WhatsApp Web with the session's init script; see wacc.engines.web.live."""
    from wacc.engines.web.bundle import BundleIntegrityError, WaJsChoice
    from wacc.engines.web.live import live_check

    try:
        bundle = WaJsChoice.from_settings(settings).load()
    except BundleIntegrityError as exc:
        return Check("FAIL", "live", f"no usable wa-js: {exc}")
    try:
        result = asyncio.run(live_check(bundle, url=url, wait=timeout))
    except Exception as exc:  # Chromium missing or failing: say so, do not crash
        return Check("FAIL", "live", f"could not run Chromium: {explain(exc)}")
    status = {"qr": "OK", "unreachable": "WARN"}.get(result.outcome, "FAIL")
    return Check(status, "live", f"{result.outcome}: {result.detail}")


def run_checks(ctx: typer.Context) -> Iterator[Check]:
    yield check_python()
    try:
        settings = state(ctx).settings
    except ConfigError as exc:
        yield Check("FAIL", "config", f"{exc}; the remaining checks need it")
        return
    yield Check("OK", "config", "settings parse (environment and wacc.toml)")
    yield from check_data_dir(settings)
    yield check_master_key(settings)
    url = settings.database.url
    # Connecting to SQLite would create the file; the doctor only looks.
    exists = not url.startswith("sqlite:") or Path(url[len("sqlite:///"):]).exists()
    yield asyncio.run(_database_check(settings, exists))
    yield asyncio.run(_redis_check(settings))
    yield check_base_url(settings)
    yield check_chromium()
    yield check_wa_js(settings)


def print_settings(settings: Settings) -> None:
    typer.echo("\nEffective settings (secrets hidden):")
    for section, values in redacted(settings).items():
        for name, value in values.items():
            shown = ", ".join(value) if isinstance(value, list) else value
            typer.echo(f"  {section}.{name} = {shown}")


def doctor(
    ctx: typer.Context,
    settings: Annotated[bool, typer.Option(
        "--settings", help="Also print the effective settings, secrets hidden.")] = False,
    live: Annotated[bool, typer.Option(
        "--live", help="Also open web.whatsapp.com with wa-js and the adapter and check that "
        "the QR screen is reached (needs the network; nothing is linked).")] = False,
    live_url: Annotated[str, typer.Option(hidden=True)] = "https://web.whatsapp.com/",
    live_timeout: Annotated[float, typer.Option(hidden=True, min=1)] = 90.0,
) -> None:
    """Check this installation and say what to fix.

    Checks Python, the configuration, the data directory and its disk, the master key,
    the database and its migrations, Redis, Chromium and the wa-js bundle (version and
    source). Each line is OK, WARN or FAIL with what to do; exits 1 if anything FAILs.
    With --live, exits 3 when nothing FAILed but web.whatsapp.com was unreachable.
    """
    failed = False
    checks = list(run_checks(ctx))
    if live and not any(c.name == "config" and c.status == "FAIL" for c in checks):
        checks.append(check_live(state(ctx).settings, live_url, live_timeout))
    for check in checks:
        typer.echo(f"{check.status:<5} {check.name:<11} {check.detail}")
        failed = failed or check.status == "FAIL"
    if settings and not any(c.name == "config" and c.status == "FAIL" for c in checks):
        print_settings(state(ctx).settings)
    if failed:
        raise typer.Exit(1)
    if any(c.name == "live" and c.status == "WARN" for c in checks):
        raise typer.Exit(EXIT_UNREACHABLE)
