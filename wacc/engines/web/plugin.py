"""Registers the WhatsApp Web engine (found through wacc's own `wacc` entry point)."""

from __future__ import annotations

from functools import partial
from typing import Any

from wacc.engines.web.driver import PlaywrightDriver
from wacc.engines.web.engine import WebEngine
from wacc.plugins.spec import hookimpl


@hookimpl
def wacc_engines() -> dict[str, Any]:
    # One Playwright driver (a Node.js process, ~130 MB) for all of this process's
    # web sessions; it starts with the first session and stops with the last.
    return {"web": partial(WebEngine, driver=PlaywrightDriver())}
