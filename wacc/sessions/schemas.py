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



class HistoryIn(Input):
    """Import the last ``days`` of one-to-one chats again (what is stored is kept)."""

    days: Annotated[int, msgspec.Meta(ge=1, le=365)]


class HistoryOut(Output):
    """A read of past messages (wacc.sessions.history) and how far it got."""

    id: str
    session_id: str
    kind: str  # import | backfill
    status: str  # PENDING | RUNNING | DONE | FAILED
    since: datetime
    chats_total: int | None  # null until the chats are listed
    chats_done: int
    messages_seen: int
    messages_stored: int  # new rows; what was stored already is not counted
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
