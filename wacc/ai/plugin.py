"""The AI configuration feature's hooks: providers, settings, tests and usage (API)."""

from __future__ import annotations

from typing import Any

from wacc.plugins.spec import hookimpl


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load it.
    from wacc.ai.controllers import AiConfigController

    return [AiConfigController]
