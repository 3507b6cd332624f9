"""The Playwright driver, shared by the web sessions of one process.

Playwright talks to Chromium through a driver: a Node.js process that costs about
130 MB (PSS) — a third of what a whole WhatsApp Web session costs. One driver can run
any number of browsers, so the ``wa`` role should create one :class:`PlaywrightDriver`
and hand it to every :class:`~wacc.engines.web.WebEngine`; an engine given none makes
its own. The driver starts with its first user and stops when the last one leaves.

If the driver dies, every session on it loses its browser and restarts; an engine
whose launch fails reports the driver :meth:`broken`, and the next user starts a new one.
"""

from __future__ import annotations

import asyncio
import logging

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Playwright, async_playwright

from wacc.engines.web.browser import BrowserIdentity, binary_mtime, desktop_identity

log = logging.getLogger(__name__)

STOP_TIMEOUT = 10.0


class PlaywrightDriver:
    def __init__(self) -> None:
        self._current: Playwright | None = None
        self._users: dict[int, int] = {}  # id(playwright) -> engines using it
        self._lock = asyncio.Lock()
        # By (binary, mtime): an upgraded Chromium gets its new user agent.
        self._identities: dict[tuple[str, int], BrowserIdentity] = {}

    async def acquire(self) -> Playwright:
        async with self._lock:
            if self._current is None:
                self._current = await async_playwright().start()
            playwright = self._current
            self._users[id(playwright)] = self._users.get(id(playwright), 0) + 1
            return playwright

    async def release(self, playwright: Playwright) -> None:
        async with self._lock:
            left = self._users.get(id(playwright), 1) - 1
            if left > 0:
                self._users[id(playwright)] = left
                return
            self._users.pop(id(playwright), None)
            if self._current is playwright:
                self._current = None
        try:
            await asyncio.wait_for(playwright.stop(), STOP_TIMEOUT)
        except (TimeoutError, PlaywrightError) as exc:
            log.warning("stopping the Playwright driver failed: %s", exc)

    async def identity(self, playwright: Playwright, executable: str) -> BrowserIdentity:
        """User agent and client hints of *executable* (see desktop_identity), derived
        once. Two sessions starting together may both derive it; the result is the same."""
        key = (executable, binary_mtime(executable))
        if key not in self._identities:
            self._identities[key] = await desktop_identity(playwright, executable)
        return self._identities[key]

    async def user_agent(self, playwright: Playwright, executable: str) -> str:
        return (await self.identity(playwright, executable)).user_agent

    def broken(self, playwright: Playwright) -> None:
        """*playwright* failed to launch a browser: do not hand it out again. It stops
        when its last user releases it."""
        if self._current is playwright:
            log.warning("the Playwright driver failed; the next session start uses a new one")
            self._current = None
