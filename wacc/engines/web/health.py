"""Health checks of one Chromium run: is the page answering, is it too big, too old?

The engine's watchdog asks these every ``watchdog_interval`` seconds. A page that does
not answer a ping within ``watchdog_timeout`` is hung (WhatsApp Web's main thread is
stuck); one that answers without our adapter lost its injection. Memory above the cap
for several rounds in a row, or a run older than ``restart_every_hours``, asks for a
planned Chromium restart.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

from playwright.async_api import Page

from wacc.engines.contract import EngineError, NotConnectedError
from wacc.engines.web.channel import call_adapter
from wacc.engines.web.settings import WebSettings

log = logging.getLogger(__name__)

# Pings in a row that find no adapter in the page before it counts as broken.
MISSING_ADAPTER_PINGS = 3
MB = 2**20


class Health:
    """Bookkeeping for one Chromium run (a new one starts with each launch)."""

    def __init__(self, settings: WebSettings, session_id: str) -> None:
        self.settings = settings
        self.session_id = session_id
        self.launched_at = time.monotonic()
        self.ping_misses = 0
        self.over_cap = 0

    async def problem(self, page: Page) -> str | None:
        """Why the page counts as crashed, or None while it answers."""
        try:
            answer = await call_adapter(page, "ping", {}, self.settings.watchdog_timeout)
        except NotConnectedError as exc:
            # A reload in progress, or no adapter in the page. Crashes and closes
            # arrive as their own events; a missing adapter shows up as misses.
            log.debug("session %s: ping failed: %s", self.session_id, exc)
            self.ping_misses += 1
        except EngineError as exc:
            if exc.code == "TIMEOUT":
                return f"the page did not answer for {self.settings.watchdog_timeout:g} s (hung)"
            self.ping_misses += 1
        else:
            self.ping_misses = 0
            boot_error = answer.get("boot_error") if isinstance(answer, dict) else None
            if boot_error:
                log.warning("session %s: injected script failed: %.500s", self.session_id, boot_error)
        if self.ping_misses >= MISSING_ADAPTER_PINGS:
            return "the adapter is missing from the page (injection failed)"
        return None

    def restart_reason(self, memory: int | None) -> str | None:
        """Why Chromium should be restarted now (planned, not a crash), or None."""
        cap = self.settings.memory_cap_mb
        if cap > 0:
            if memory is not None and memory > cap * MB:
                self.over_cap += 1
                if self.over_cap >= self.settings.memory_checks:
                    return f"memory {memory / MB:.0f} MB above the cap of {cap} MB"
            else:
                self.over_cap = 0
        hours = self.settings.restart_every_hours
        if hours > 0 and time.monotonic() - self.launched_at > hours * 3600:
            return f"scheduled restart every {hours:g} h"
        return None


class RestartBudget:
    """At most ``limit`` restarts within ``window`` seconds: a cause that a restart does
    not cure (a memory cap below what the account needs, a browser that dies at once)
    must not turn into a restart loop. Past the budget the caller gives up and says why."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._times: deque[float] = deque()

    def spend(self) -> bool:
        """Record one restart if the budget allows it; False when it is used up."""
        now = self._clock()
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True

    def describe(self) -> str:
        return f"{self.limit} restarts within {self.window / 3600:g} h"

    @classmethod
    def of_session(cls, key: str, limit: int, window: float) -> RestartBudget:
        """The budget of one session (*key*: its profile directory) in this process:
        shared by the engines a session manager creates one after another for it, so
        ending a run and starting a new one does not hand out a fresh budget."""
        budget = _SESSION_BUDGETS.get(key)
        if budget is None or (budget.limit, budget.window) != (limit, window):
            budget = _SESSION_BUDGETS[key] = cls(limit, window)
        return budget


_SESSION_BUDGETS: dict[str, RestartBudget] = {}
