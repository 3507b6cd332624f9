"""The wa role: the WhatsApp session manager (wacc.sessions.manager).

It runs the sessions this process holds a lease on, listens for commands from web and
worker processes, and reports in like every role. On SIGTERM it stops its sessions and
releases their leases, so another `wa` process can take them over at once.
"""

from __future__ import annotations

import asyncio

from wacc.config import Settings
from wacc.features import make_plugin_manager
from wacc.messages import outbound
from wacc.outbox import Dispatcher
from wacc.roles.common import Heartbeat, database, stop_on_signals
from wacc.runtime import Runtime
from wacc.security.crypto import load_keyring
from wacc.sessions import history
from wacc.sessions.inbound import inbound_of
from wacc.sessions.manager import SessionManager


async def _run(settings: Settings) -> None:
    stop = stop_on_signals()
    runtime = Runtime.build(settings, load_keyring(settings), make_plugin_manager(settings))

    async def send_pending(session_id: str) -> None:
        await outbound.enqueue_pending(session_id)
        # Past messages: the first import, or what arrived while the session was down.
        await history.after_ready(runtime, session_id)

    manager = SessionManager(
        engines=runtime.engines,
        pipeline=inbound_of(runtime).pipeline(),  # the messages feature's (sessions.inbound)
        bus=runtime.bus, keyring=runtime.keyring, data_dir=settings.data_path,
        lease_seconds=settings.whatsapp.lease_seconds, rpc_host=settings.whatsapp.rpc_host,
        rpc_port=settings.whatsapp.rpc_port, on_ready=send_pending,
    )
    try:
        # The dispatcher moves what inbound messages record (events, media fetches).
        async with (database(settings), Heartbeat("wa", settings.worker.heartbeat_seconds),
                    Dispatcher(runtime.jobs)):
            await manager.serve(stop)
    finally:
        await runtime.bus.close()


def main(settings: Settings) -> None:
    asyncio.run(_run(settings))
