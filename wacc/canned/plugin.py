"""The canned responses feature's hooks."""

from __future__ import annotations

from typing import Any

from wacc.plugins.spec import hookimpl


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load it.
    from wacc.canned.controllers import CannedResponseController

    return [CannedResponseController]
