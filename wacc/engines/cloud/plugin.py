"""Registers the Cloud API engine (found through wacc's own `wacc` entry point)."""

from __future__ import annotations

from typing import Any

from wacc.engines.cloud.engine import CloudEngine
from wacc.plugins.spec import hookimpl


@hookimpl
def wacc_engines() -> dict[str, Any]:
    return {"cloud": CloudEngine}
