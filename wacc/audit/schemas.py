from __future__ import annotations

from datetime import datetime
from typing import Any

from wacc.http.schemas import Output


class ActivityOut(Output):
    id: str
    user_id: str | None
    api_key_id: str | None
    action: str
    resource: str
    resource_id: str | None
    metadata: dict[str, Any]
    ip_address: str | None
    user_agent: str | None
    request_id: str | None
    status_code: int | None
    timestamp: datetime


class ActivityPage(Output):
    items: list[ActivityOut]
    next_cursor: str | None
