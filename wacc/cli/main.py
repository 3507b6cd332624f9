"""The `wacc` command: set up, run and look after a wacc installation.

Commands stay thin: they read options, call services (as the HTTP handlers do) and
print. Heavy imports happen inside commands, so `wacc --help` and `wacc run` start fast.
Plugins add commands through the ``wacc_cli`` hook.
"""

from __future__ import annotations

import dataclasses
import platform
import sys
from enum import Enum
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from wacc import __version__
from wacc.cli import accounts, banner, demo, doctor, keys, plugins, setup, wajs
from wacc.cli.common import CliState, CommandError, explain, state
from wacc.config import ConfigError
from wacc.logs import configure_logging, get_logger
from wacc.roles import EXIT_CONFIG, ROLES

log = get_logger("wacc.cli")


class WaccGroup(TyperGroup):
    """The root command. Plugins' commands (the ``wacc_cli`` hook) are added the first
    time a command that is not built in is looked for, or the list is shown, so built-in
    commands never pay for importing every feature."""

    # Typer passes its own (vendored) click Context; only state() reads it here.
    def _add_plugin_commands(self, ctx: Any) -> None:
        cli = state(ctx)
        if cli.plugin_commands_added:
            return
        cli.plugin_commands_added = True
        try:
            manager = cli.plugins
        except ConfigError:
            return  # the command that needs settings reports it
        extra = typer.Typer()
        manager.call("wacc_cli", app=extra)
        for name, command in typer.main.get_group(extra).commands.items():
            # A plugin adds commands; it cannot replace a built-in one.
            self.commands.setdefault(name, command)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._add_plugin_commands(ctx)
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: Any) -> list[str]:
        self._add_plugin_commands(ctx)
        return super().list_commands(ctx)


app = typer.Typer(
    cls=WaccGroup,
    help="wacc — WhatsApp Command Center. Configuration: environment variables WACC_* or "
    "wacc.toml in the data directory (see docs/configuration.md).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Docstrings are wrapped at 88 columns in the source; markdown mode re-flows them.
    rich_markup_mode="markdown",
)
app.add_typer(accounts.user_app, name="user")
app.add_typer(accounts.org_app, name="org")
app.add_typer(plugins.app, name="plugins")
app.add_typer(keys.app, name="keys")
app.add_typer(wajs.app, name="wajs")
app.command("init")(setup.init)
app.command("migrate")(setup.migrate)
app.command("doctor")(doctor.doctor)
app.command("demo")(demo.demo)


@app.callback()
def main(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    state(ctx).debug = debug


@app.command()
def version() -> None:
    """Print the wacc and Python versions."""
    typer.echo(f"wacc {__version__} (Python {platform.python_version()})")


RoleName = Enum("RoleName", {r: r for r in ROLES}, type=str)  # type: ignore[misc]


@app.command("run")
def run_command(
    ctx: typer.Context,
    role: Annotated[
        RoleName | None,
        typer.Option(help="Run this one role in the foreground instead of supervising "
                     "WACC_ROLES (for machines that share PostgreSQL and Redis)."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Listen address (WACC_HTTP_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (WACC_HTTP_PORT).",
                                             min=1, max=65535)] = None,
    supervisor_pid: Annotated[int | None, typer.Option(hidden=True)] = None,
    with_demo: Annotated[bool, typer.Option(
        "--demo", help="First seed the demo organization (as `wacc demo` does) and print "
        "how to sign in to it.")] = False,
) -> None:
    """Run wacc: migrate, then start and supervise the roles.

    Starts the roles in WACC_ROLES (web, worker, scheduler, wa) as child processes,
    restarts any that exits, and drains them all on SIGTERM or Ctrl-C. With --role,
    runs that one role in the foreground instead.
    """
    from wacc.roles import run_role
    from wacc.roles.supervisor import supervise

    cli = state(ctx)
    settings = cli.settings
    http = dataclasses.replace(settings.http, host=host or settings.http.host,
                               port=port or settings.http.port)
    settings = cli.settings = dataclasses.replace(settings, http=http)
    configure_logging(settings, role=role.value if role else "supervisor")
    if role is not None:
        if with_demo:
            raise typer.BadParameter("seed with `wacc demo`, then run the roles",
                                     param_hint="--demo")
        run_role(role.value, settings, supervisor_pid=supervisor_pid)
        return
    from wacc.roles import guard

    try:  # refused before anything starts: a second run here, or a port already taken
        lock = guard.hold_data_dir(settings.data_path)
        if "web" in settings.supervisor.roles:
            guard.check_port(http.host, http.port)
    except guard.StartRefused as exc:
        raise CommandError(str(exc)) from None
    human = sys.stdout.isatty()  # a person at a terminal, not systemd or a container
    if human:
        banner.header(settings)
    made = setup.first_start(settings)
    for done in made:
        if human:
            banner.first_start(done)
        else:
            log.info("first start", done=done)
    if with_demo:
        seeded = demo.seed_in_child()
        if seeded != 0:
            raise typer.Exit(seeded)
        shown = "127.0.0.1" if http.host in ("0.0.0.0", "", "::") else http.host  # noqa: S104
        shown = f"[{shown}]" if ":" in shown else shown
        typer.echo(f"demo: open http://{shown}:{http.port} and sign in")
        for line in demo.credentials():
            typer.echo(line)
    try:
        code = supervise(settings, banner.ready_line(bool(made)) if human else None)
    finally:
        guard.release(lock)
    raise typer.Exit(code)


def run() -> None:
    """Console-script entry point (``wacc``).

    Usage errors are Typer's to report. Anything else becomes one line on stderr and a
    non-zero exit (78, EX_CONFIG, for configuration); ``--debug`` keeps the traceback.
    """
    cli = CliState()
    try:
        app(prog_name="wacc", obj=cli)
    except Exception as exc:
        if cli.debug:
            raise
        typer.echo(f"Error: {explain(exc)}", err=True)
        sys.exit(EXIT_CONFIG if isinstance(exc, ConfigError) else 1)


if __name__ == "__main__":
    run()
