"""The audit feature's hooks."""

from __future__ import annotations

from typing import Any

from wacc.audit.controllers import AuditController
from wacc.plugins.spec import hookimpl


@hookimpl
def wacc_controllers() -> list[Any]:
    return [AuditController]
