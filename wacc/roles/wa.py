"""The wa role: the WhatsApp session manager.

For now a placeholder that keeps a heartbeat, so the process model (supervision,
restarts, draining) is in place before the engines arrive.
"""

from __future__ import annotations

import asyncio

from wacc.config import Settings
from wacc.roles.common import Heartbeat, database, stop_on_signals


async def _run(settings: Settings) -> None:
    stop = stop_on_signals()
    async with database(settings), Heartbeat("wa", settings.worker.heartbeat_seconds):
        await stop.wait()


def main(settings: Settings) -> None:
    asyncio.run(_run(settings))
