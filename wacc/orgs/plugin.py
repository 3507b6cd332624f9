"""The orgs feature's hooks."""

from __future__ import annotations

from typing import Any

from wacc.orgs.controllers import OrganizationController
from wacc.plugins.spec import hookimpl


@hookimpl
def wacc_controllers() -> list[Any]:
    return [OrganizationController]
