"""The apikeys feature's hooks."""

from __future__ import annotations

from typing import Any

from wacc.apikeys.controllers import ApiKeyController
from wacc.plugins.spec import hookimpl


@hookimpl
def wacc_controllers() -> list[Any]:
    return [ApiKeyController]
