"""The realtime feature's hooks: the WebSocket endpoint and presence."""

from __future__ import annotations

from typing import Any

from wacc.plugins.spec import hookimpl
from wacc.realtime.presence import PRESENCE, make_presence
from wacc.runtime import Runtime


@hookimpl
def wacc_runtime_parts(runtime: Runtime) -> dict[str, Any]:
    return {PRESENCE: make_presence(runtime.settings)}


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load it.
    from wacc.realtime.controllers import RealtimeController

    return [RealtimeController]
