"""`wacc wajs`: which wa-js the WhatsApp Web sessions load, and installing a newer one.

WhatsApp Web changes every few weeks and wa-js follows; an operator should not have to
wait for a wacc release. `wacc wajs install FILE --sha384 HASH` stores a bundle under
the data directory after checking its hash and that it has every function and event
wacc's adapter uses (see docs/engines.md, "Updating wa-js").
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wacc.cli.common import CommandError, state

app = typer.Typer(help="The wa-js bundle WhatsApp Web sessions use.", no_args_is_help=True)


@app.command("install")
def install(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A wa-js dist (dist/wppconnect-wa.js of the npm "
                                         "package @wppconnect/wa-js).")],
    sha384: Annotated[str, typer.Option(
        "--sha384", help="Its hash: sha384-<base64> (npm's dist.integrity) or the bare "
        "base64 of `openssl dgst -sha384 -binary FILE | base64`.")],
) -> None:
    """Install a newer wa-js for the WhatsApp Web sessions.

    Refused with one line, and nothing stored, when the hash does not match or the
    bundle lacks a function or event wacc's adapter uses. Running sessions restart
    Chromium onto it within one watchdog round (about 30 s; the login is kept); new
    sessions load it at start.
    """
    from wacc.engines.web.wajs_install import InstallError, install_bundle

    settings = state(ctx).settings
    try:
        done = install_bundle(settings.data_path, path, sha384)
    except InstallError as exc:
        raise CommandError(str(exc)) from exc
    typer.echo(f"installed wa-js {done.version} ({done.integrity}) at {done.path}")
    typer.echo(f"contract: {done.checked_paths} functions and {done.checked_events} events "
               "the adapter uses are present")
    typer.echo("running WhatsApp Web sessions restart Chromium onto it within one watchdog "
               "round (the login is kept); `wacc wajs remove` goes back to the vendored one")
    if settings.whatsapp.wa_js_path:
        typer.echo("note: WACC_WA_JS_PATH is set and wins over this install", err=True)


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Show which wa-js sessions load (configured, installed or vendored) and check it."""
    from wacc.engines.web.bundle import BundleIntegrityError, WaJsChoice

    try:
        current = WaJsChoice.from_settings(state(ctx).settings).load()
    except BundleIntegrityError as exc:
        raise CommandError(str(exc)) from exc
    typer.echo(f"wa-js {current.version or 'unknown'} ({current.origin}) {current.integrity}")
    typer.echo(f"file: {current.path}")


@app.command("check")
def check(
    ctx: typer.Context,
    path: Annotated[Path | None, typer.Argument(help="A wa-js dist; default: the one sessions load.")] = None,
    adapter: Annotated[Path | None, typer.Option(
        hidden=True, help="Another adapter.js (development).")] = None,
) -> None:
    """Check that a wa-js bundle has every function and event wacc's adapter uses.

    Prints what was checked, or each missing name; exits 1 when something is missing.
    """
    from wacc.engines.web.bundle import BundleIntegrityError, WaJsChoice
    from wacc.engines.web.wajs_contract import ContractError, check_bundle

    if path is None:
        try:
            path = Path(WaJsChoice.from_settings(state(ctx).settings).load().path)
        except BundleIntegrityError as exc:
            raise CommandError(str(exc)) from exc
    try:
        report = check_bundle(path, adapter)
    except ContractError as exc:
        raise CommandError(str(exc)) from exc
    if not report.ok:
        for problem in report.problems():
            typer.echo(problem)
        raise CommandError(f"{path}: {len(report.problems())} name(s) the adapter uses are missing")
    typer.echo(f"{path}: all {report.checked_paths} functions and {report.checked_events} events "
               "the adapter uses are present")


@app.command("remove")
def remove(ctx: typer.Context) -> None:
    """Forget the installed wa-js; sessions go back to the vendored one."""
    from wacc.engines.web.wajs_install import remove_bundle

    if not remove_bundle(state(ctx).settings.data_path):
        raise CommandError("no wa-js is installed; sessions use the vendored one")
    typer.echo("removed; running sessions restart onto the vendored wa-js within one "
               "watchdog round")
