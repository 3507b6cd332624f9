"""`wacc plugins list`: what is installed, loaded, disabled or broken."""

from __future__ import annotations

import typer

from wacc.cli.common import print_table, state

app = typer.Typer(help="Inspect plugins.", no_args_is_help=True)


@app.command("list")
def plugins_list(ctx: typer.Context) -> None:
    """List built-in and installed plugins, with the error of any that failed."""
    print_table(
        ["NAME", "SOURCE", "VERSION", "STATE", "ERROR"],
        [[s.name, s.source, s.version, s.state, s.error] for s in state(ctx).plugins.statuses],
    )
