"""Registers the WhatsApp Web engine (found through wacc's own `wacc` entry point)."""

from __future__ import annotations

from typing import Any

from wacc.plugins.spec import hookimpl


class _LazyWebEngine:
    """Loads Playwright only when a web session starts: every process discovers engines,
    only a `wa` process running a web session needs Playwright in memory."""

    def __init__(self) -> None:
        self._driver: Any = None
        self._wa_js: Any = None

    def __call__(self, host: Any) -> Any:
        from wacc.engines.web.driver import PlaywrightDriver
        from wacc.engines.web.engine import WebEngine

        if self._driver is None:
            # One Playwright driver (a Node.js process, ~130 MB) for all of this
            # process's web sessions; it starts with the first and stops with the last.
            self._driver = PlaywrightDriver()
        if self._wa_js is None:
            from wacc.config import load_settings
            from wacc.engines.web.bundle import WaJsChoice

            # Which wa-js (configured, `wacc wajs install`ed, vendored): the settings
            # are the process's; the installed record is re-read at every start.
            self._wa_js = WaJsChoice.from_settings(load_settings())
        return WebEngine(host, driver=self._driver, wa_js=self._wa_js)


@hookimpl
def wacc_engines() -> dict[str, Any]:
    return {"web": _LazyWebEngine()}
