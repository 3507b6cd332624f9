"""Agent assist's hooks: its API (a draft reply, a summary, a rewrite)."""

from __future__ import annotations

from typing import Any

from wacc.plugins.spec import hookimpl


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load them.
    from wacc.ai.assist.controllers import AssistController

    return [AssistController]
