"""What the cloud engine's tests share: the customer, a recording host, a started
engine, and builders for outbound messages and the bodies Meta receives."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.fakes.graph_api import (
    FakeGraphAPI,
)
from wacc.engines.cloud import CloudEngine
from wacc.engines.contract import (
    EngineEvent,
    OutboundMessage,
    Peer,
    Ready,
)

CUSTOMER = "16505551234"
TO = Peer(wa_id=f"{CUSTOMER}@c.us", phone=f"+{CUSTOMER}")
SECRET = "app-secret-1"
VERIFY = "verify-me"
HOUR = 3600.0


class Host:
    """The session manager's side, reduced to collecting what the engine reports."""

    def __init__(self, settings: dict[str, Any], data_dir: Path) -> None:
        self.session_id = "session-1"
        self.settings = settings
        self.data_dir = data_dir
        self.events: list[EngineEvent] = []

    async def emit(self, event: EngineEvent) -> None:
        self.events.append(event)


def settings(api: FakeGraphAPI, **extra: Any) -> dict[str, Any]:
    return {"phone_number_id": api.phone_number_id, "access_token": api.token, "app_secret": SECRET,
            "verify_token": VERIFY, "base_url": api.url, **extra}


async def started(api: FakeGraphAPI, tmp_path: Path, **extra: Any) -> tuple[CloudEngine, Host]:
    """A started engine; by default the customer wrote a minute ago (window open, for
    the engine and for Meta alike)."""
    if "last_inbound" not in extra:
        extra["last_inbound"] = {f"+{CUSTOMER}": time.time() - 60}
        api.customer_wrote(CUSTOMER, time.time() - 60)
    host = Host(settings(api, **extra), tmp_path)
    engine = CloudEngine(host)
    await engine.start()
    assert isinstance(host.events[-1], Ready), host.events
    api.requests.clear()
    return engine, host


def msg(key: str = "k1", **fields: Any) -> OutboundMessage:
    return OutboundMessage(idempotency_key=key, to=TO, **fields)


def envelope(kind: str, content: Any, **extra: Any) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
            "type": kind, kind: content, **extra}


