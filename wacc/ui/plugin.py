"""Registers the web UI's pages through the same hook a third-party plugin would use."""

from __future__ import annotations

from typing import Any

from wacc.plugins.spec import hookimpl


@hookimpl
def wacc_pages() -> list[Any]:
    from wacc.ui.auth_pages import AuthPages

    return [AuthPages]
