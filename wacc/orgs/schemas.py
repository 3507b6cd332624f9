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


Timezone = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class OrganizationSettings(Input):
    """Organization-wide switches (more join as features need them)."""

    agents_see_own_conversations_only: bool = False
    # An IANA name such as Europe/Paris; the service checks it exists.
    timezone: Timezone = "UTC"


class OrganizationSettingsPatch(Input):
    """The same fields, each optional: a PATCH changes the settings it names and keeps
    the rest. A test checks the two field lists match."""

    agents_see_own_conversations_only: bool | msgspec.UnsetType = msgspec.UNSET
    timezone: Timezone | msgspec.UnsetType = msgspec.UNSET


class OrganizationUpdate(Input):
    name: Name | None = None
    settings: OrganizationSettingsPatch | None = None


class OrganizationDelete(Input):
    confirm_slug: Annotated[str, msgspec.Meta(max_length=64)]
