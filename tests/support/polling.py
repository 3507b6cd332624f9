"""Waiting for something that happens in another task, process or the worker."""

from __future__ import annotations

import asyncio
import time


async def until(check, timeout: float = 10.0, interval: float = 0.05):
    """Poll an async check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check.__name__}")
        await asyncio.sleep(interval)
