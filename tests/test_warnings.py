"""The test run stays warning-clean (issue 16): Litestar checks how every handler declares
its parameters when the app is built, so building it covers routes no other test calls;
a simulated send stopped before its delivery ack leaves no un-awaited coroutine."""

from __future__ import annotations

import asyncio
import base64
import gc
import warnings
from pathlib import Path
from typing import Any

from tests.support.env import TEST_KEY, server_env
from wacc.app import create_app
from wacc.config import load_settings
from wacc.engines.contract import EngineEvent, OutboundMessage
from wacc.engines.simulator import SimulatorEngine, customer
from wacc.security.crypto import Keyring
from wacc.sessions.rpc import make_rpc_app


def _deprecations(caught: list[warnings.WarningMessage]) -> list[str]:
    return [f"{w.filename}:{w.lineno}: {w.message}" for w in caught
            if issubclass(w.category, DeprecationWarning)]


def test_building_the_app_declares_every_handler_the_current_way(tmp_path: Path) -> None:
    settings = load_settings(server_env(tmp_path, f"sqlite:///{tmp_path / 'wacc.db'}"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        keyring = Keyring((base64.b64decode(TEST_KEY),))
        create_app(settings, keyring=keyring)
        make_rpc_app(keyring, _no_dispatch)
    assert _deprecations(caught) == []


async def _no_dispatch(session_id: str, method: str, args: dict[str, Any]) -> Any:
    raise AssertionError("not called")


class _Host:
    """The session manager's side, reduced to collecting what the engine reports."""

    def __init__(self, data_dir: Path) -> None:
        self.session_id = "s-warn"
        self.settings: dict[str, Any] = {"ack_delay": 30}
        self.data_dir = data_dir
        self.events: list[EngineEvent] = []

    async def emit(self, event: EngineEvent) -> None:
        self.events.append(event)


async def test_simulator_stopped_before_its_ack_leaves_no_unawaited_coroutine(tmp_path: Path) -> None:
    engine = SimulatorEngine(_Host(tmp_path))
    engine._set_paired(True)
    await engine.start()
    await engine.send(OutboundMessage(idempotency_key="k1", to=customer("+4915112345678"),
                                      body="Hello"))
    pending = list(engine._tasks)
    assert pending, "the delivery ack waits 30 s"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await engine.stop()
        await asyncio.gather(*pending, return_exceptions=True)
        del pending
        await asyncio.sleep(0)  # done callbacks drop the engine's reference
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
