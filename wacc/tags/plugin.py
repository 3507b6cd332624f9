"""The tags feature's hooks: tags and canned responses."""

from __future__ import annotations

from typing import Any

from wacc.plugins.spec import hookimpl


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load it.
    from wacc.tags.controllers import CannedResponseController, TagController

    return [TagController, CannedResponseController]
