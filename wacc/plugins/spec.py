"""The public plugin interface: hook specifications, one line each.

A plugin is a module (or object) with functions marked ``@hookimpl`` whose names match
the specs below, published under the ``wacc`` entry-point group::

    [project.entry-points.wacc]
    hello = "wacc_hello"

wacc's built-in features register through these same hooks. A plugin should import
only this module, ``wacc.lib`` and its own dependencies.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "wacc"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def wacc_controllers() -> list[Any]:
    """Litestar controllers or route handlers to mount under /api/v1."""


@hookspec
def wacc_pages() -> list[Any]:
    """Controllers or route handlers of the web UI, mounted at / behind the session cookie."""


@hookspec
def wacc_tasks(jobs: Any, run: Any, runtime: Any) -> None:
    """Register jobs with ``@jobs.register(name)``; ``run(coro)`` runs async code in the
    worker; ``runtime`` is the process's wacc.runtime.Runtime."""


@hookspec
def wacc_schedule() -> list[Any]:
    """(cron expression, task name) pairs the scheduler role enqueues."""


@hookspec
def wacc_engines() -> dict[str, Any]:
    """WhatsApp engines by name: {"name": factory(host) -> Engine} (wacc.engines.contract)."""


@hookspec
def wacc_ai_providers() -> dict[str, Any]:
    """AI providers by type: {"type": factory(ProviderConfig) -> Provider} (wacc.ai.contract)."""


@hookspec
def wacc_cli(app: Any) -> None:
    """Add Typer commands or sub-apps to the ``wacc`` command."""


@hookspec
def wacc_runtime_parts(runtime: Any) -> dict[str, Any]:
    """What a feature keeps for the whole process, by key: {"ai.router": AiRouter(...)};
    read back with ``runtime.part(key, type)``, closed (``aclose()``) with the runtime."""


@hookspec
def wacc_event_handlers() -> dict[str, Any]:
    """Durable event handlers by name: {"name": async handler(event, runtime)} (wacc.events)."""
