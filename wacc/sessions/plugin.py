"""The sessions feature's hooks."""

from __future__ import annotations

from typing import Any

from wacc.plugins.spec import hookimpl
from wacc.sessions.controllers import EngineWebhookController, SessionController


@hookimpl
def wacc_controllers() -> list[Any]:
    return [SessionController, EngineWebhookController]
