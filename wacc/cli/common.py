"""What every command shares: settings and plugins loaded once and only when needed,
a database session, plain tables, and turning errors into one line for the operator."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from wacc.config import ConfigError, Settings, load_settings, with_recorded_listen_url
from wacc.lib.errors import WaccError
from wacc.logs import configure_logging

if TYPE_CHECKING:
    from wacc.plugins.manager import PluginManager
    from wacc.runtime import Runtime

T = TypeVar("T")


class CommandError(Exception):
    """A command cannot do what was asked; the message says why and what to do."""


@dataclass
class CliState:
    """One per invocation (the root context's ``obj``)."""

    debug: bool = False
    plugin_commands_added: bool = False
    _settings: Settings | None = None
    _plugins: PluginManager | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
            configure_logging(self._settings, role="cli")
            # A one-shot command prints its own results; INFO lines would only repeat them.
            # (`wacc run` configures logging again for its processes.)
            root = logging.getLogger()
            root.setLevel(max(root.level, logging.WARNING))
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = value

    @property
    def plugins(self) -> PluginManager:
        if self._plugins is None:
            # Importing every feature costs most of a second; only commands that need
            # plugins pay for it (`wacc run` and `wacc version` do not).
            from wacc.features import make_plugin_manager

            self._plugins = make_plugin_manager(self.settings)
        return self._plugins

    def runtime(self) -> Runtime:
        from wacc.runtime import Runtime
        from wacc.security.crypto import load_keyring

        # Links a command prints (invites) go where the running web role listens.
        settings = with_recorded_listen_url(self.settings)
        return Runtime.build(settings, load_keyring(settings))


def state(ctx: typer.Context) -> CliState:
    return ctx.ensure_object(CliState)


def with_database(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """Run *work* with every table bound to the configured database."""
    from wacc.roles.common import database

    async def main() -> T:
        async with database(settings):
            return await work()

    return asyncio.run(main())


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Plain aligned columns: readable on a terminal and still easy to cut or awk."""
    table = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    for row in table:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _missing_table(exc: BaseException) -> bool:
    import asyncpg

    return isinstance(exc, asyncpg.UndefinedTableError) or (
        isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc)
    )


def explain(exc: BaseException) -> str:
    """One line for the operator: what went wrong and, where we know it, what to do."""
    from wacc.roles.common import DatabaseUnavailable

    if isinstance(exc, ConfigError | DatabaseUnavailable | CommandError):
        return str(exc)
    if isinstance(exc, WaccError):
        details = "; ".join(
            f"{d['field']}: {d['message']}" if "field" in d else str(d.get("message", d))
            for d in exc.details
        )
        return f"{exc.message} ({details})" if details else exc.message
    if _missing_table(exc):
        return "the database has no wacc tables yet: run `wacc migrate` (or `wacc init`)"
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return f"{type(exc).__name__}: {exc} (run `wacc --debug ...` to see the traceback)"
