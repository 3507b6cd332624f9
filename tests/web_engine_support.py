"""What the web engine's test modules share: a recording host, waits, the fake's
customer, and one Playwright driver per test process (as the wa role has one)."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from wacc.engines.contract import (
    EngineEvent,
    Peer,
)
from wacc.engines.web.browser import (
    chromium_executable,
    process_cmdline,
    process_tree,
)
from wacc.engines.web.driver import PlaywrightDriver
from wacc.engines.web.engine import WebEngine

E = TypeVar("E", bound=EngineEvent)

HAVE_CHROMIUM = Path(chromium_executable()).exists()
browser = pytest.mark.skipif(not HAVE_CHROMIUM, reason="Chromium is not installed (apt-get install chromium)")

# Short watchdog rounds so crashes and stuck pages are noticed within a second or two;
# a ping may still take seconds on a busy CI machine without counting as a hang.
FAST = {
    "watchdog_interval": 0.3,
    "watchdog_timeout": 5,
    "action_timeout": 5,
    "navigation_timeout": 20,
}
# One Playwright driver for the module, as the wa role has one for its sessions: the
# user agent is derived once, and each engine start skips a driver start.
DRIVER = PlaywrightDriver()
CUSTOMER = "15551230000"
CUSTOMER_ID = f"{CUSTOMER}@c.us"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


class RecordingHost:
    """An EngineHost that keeps every event and lets a test wait for one."""

    def __init__(self, data_dir: Path, session_id: str = "s-web", **settings: Any) -> None:
        self.session_id = session_id
        self.settings: dict[str, Any] = {**FAST, **settings}
        self.data_dir = data_dir
        self.events: list[EngineEvent] = []

    async def emit(self, event: EngineEvent) -> None:
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(
        self, kind: type[E], where: Callable[[E], bool] = lambda e: True, *, after: int = 0,
        timeout: float = 10,
    ) -> E:
        """The first *kind* event (at index >= *after*) matching *where*."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events[after:]:
                if isinstance(event, kind) and where(event):
                    return event
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {kind.__name__} within {timeout} s; events: {self.events}")


def has(**expected: Any) -> Callable[[Any], bool]:
    """A wait_for filter: the event's attributes equal *expected* (values bound now,
    so it is safe inside loops)."""
    return lambda event: all(getattr(event, name) == value for name, value in expected.items())


async def wait_until(condition: Callable[[], bool], timeout: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def renderer_pids(engine: WebEngine) -> list[int]:
    assert engine.browser_pid is not None
    return [p for p in process_tree(engine.browser_pid) if "--type=renderer" in process_cmdline(p)]


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def peer(digits: str = CUSTOMER) -> Peer:
    return Peer(wa_id=f"{digits}@c.us", phone=f"+{digits}")


