"""The auto-responder's hooks: its configuration API and the event handler that answers."""

from __future__ import annotations

from typing import Any

from wacc.plugins.spec import hookimpl


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load them.
    from wacc.ai.responder.controllers import ResponderController

    return [ResponderController]


@hookimpl
def wacc_event_handlers() -> dict[str, Any]:
    from wacc.ai.responder import services as responder

    return {"ai.responder": responder.on_event}
