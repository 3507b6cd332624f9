"""The simulator plugin (entry point ``simulator``): the engine and its endpoints."""

from __future__ import annotations

from typing import Any

from wacc.engines.simulator import SimulatorEngine
from wacc.plugins.spec import hookimpl


@hookimpl
def wacc_engines() -> dict[str, Any]:
    return {"simulator": SimulatorEngine}


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler, wa) never load it.
    from wacc.simulator.controllers import SimulatorController

    return [SimulatorController]
