from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from wacc.http.schemas import Input, Name, Output


class OrganizationOut(Output):
    id: str
    name: str
    slug: str
    plan: str
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class OrganizationSettings(Input):
    """Organization-wide switches (more join as features need them)."""

    agents_see_own_conversations_only: bool = False
    timezone: Annotated[str, msgspec.Meta(max_length=64)] = "UTC"


class OrganizationUpdate(Input):
    name: Name | None = None
    settings: OrganizationSettings | None = None


class OrganizationDelete(Input):
    confirm_slug: Annotated[str, msgspec.Meta(max_length=64)]
