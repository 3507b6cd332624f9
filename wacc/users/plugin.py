"""The users feature's hooks."""

from __future__ import annotations

from typing import Any

from wacc.plugins.spec import hookimpl
from wacc.users.controllers import UserController


@hookimpl
def wacc_controllers() -> list[Any]:
    return [UserController]
