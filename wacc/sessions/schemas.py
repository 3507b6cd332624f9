from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from wacc.http.schemas import Input, Name, Output

EngineName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]


class SessionCreate(Input):
    name: Name
    engine: EngineName = "simulator"
    # Engine options (e.g. the simulator's phone, web's memory cap, cloud's phone number id).
    settings: dict[str, Any] = {}
    # Engine secrets (e.g. Cloud API access token and app secret): stored encrypted and
    # never returned.
    credentials: dict[str, str] = {}
    connect: bool = True


class SessionUpdate(Input):
    name: Name | None = None
    settings: dict[str, Any] | None = None
    credentials: dict[str, str] | None = None


class SessionOut(Output):
    id: str
    name: str
    engine: str
    status: str
    desired_state: str
    phone_number: str | None
    has_qr: bool
    last_seen: datetime | None
    last_error: str | None
    settings: dict[str, Any]
    created_at: datetime


class QrOut(Output):
    status: str
    qr: str | None


class PairingIn(Input):
    phone: Annotated[str, msgspec.Meta(min_length=6, max_length=24)]


class PairingOut(Output):
    code: str


class SimulateIn(Input):
    """A customer-phone action for a simulator session (see docs/engines.md)."""

    action: Annotated[str, msgspec.Meta(pattern=r"^[a-z_]{2,20}$")]
    payload: dict[str, Any] = {}
