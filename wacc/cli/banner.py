"""What `wacc run` tells a person at a terminal: what starts, where, and what to do next.

Printed only when stdout is a terminal; under systemd or in a container the JSON log is
the record, and this stays silent. Imports nothing heavy: `wacc run` must reach its
first start (making the key) before a role started beside it migrates.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import typer

from wacc import __version__
from wacc.config import Settings


def header(settings: Settings) -> None:
    database = settings.database.url
    if database.startswith("sqlite:"):
        kind, where = "SQLite", database[len("sqlite:///"):]
    else:  # never the URL itself: it can hold a password
        parts = urlsplit(database)
        kind, where = "PostgreSQL", f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
    queue = "Redis" if settings.redis.url else "SQLite (embedded, no Redis)"
    for line in (
        f"wacc {__version__}, the WhatsApp Command Center",
        f"  data directory  {settings.data_path}",
        f"  database        {kind}, {where}",
        f"  queue and bus   {queue}",
        f"  roles           {', '.join(settings.supervisor.roles)}",
    ):
        typer.echo(line)


def first_start(done: str) -> None:
    typer.echo(f"  first start     {done}")


def ready_line(first_run: bool) -> Callable[[str, float], None]:
    def ready(url: str, seconds: float) -> None:
        typer.echo(f"  ready           {url}  (after {seconds:.1f} s)")
        typer.echo("  next            " + (
            "open it in a browser to create the owner account" if first_run
            else "open it in a browser and sign in"))
        typer.echo("Ctrl+C stops wacc.")
    return ready
