from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from wacc.http.schemas import Input, Name, Output

Scope = Annotated[str, msgspec.Meta(min_length=3, max_length=64)]


class ApiKeyCreate(Input):
    name: Name
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1, max_length=64)]
    expires_at: datetime | None = None


class ApiKeyOut(Output):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_by: str | None
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyOut):
    # The only time the secret is shown; only its hash is stored.
    key: str
