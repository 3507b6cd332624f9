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
Capacity = Annotated[int, msgspec.Meta(ge=0, le=10_000)]
# user id -> open conversations that agent may hold (routing; docs/permissions.md).
Capacities = Annotated[dict[Annotated[str, msgspec.Meta(max_length=36)], Capacity],
                       msgspec.Meta(max_length=1000)]


class OrganizationSettings(Input):
    """Organization-wide switches (more join as features need them)."""

    agents_see_own_conversations_only: bool = False
    # An IANA name such as Europe/Paris; the service checks it exists.
    timezone: Timezone = "UTC"
    # How many open or pending conversations automatic assignment gives one agent;
    # null: no limit. ``agentCapacity`` overrides it per user id.
    default_agent_capacity: Capacity | None = None
    agent_capacity: Capacities = msgspec.field(default_factory=dict)
    # WhatsApp group chats are not turned into conversations (most support inboxes
    # answer people, not groups); false: each group is a conversation of its own.
    ignore_groups: bool = True


class OrganizationSettingsPatch(Input):
    """The same fields, each optional: a PATCH changes the settings it names and keeps
    the rest. A test checks the two field lists match."""

    agents_see_own_conversations_only: bool | msgspec.UnsetType = msgspec.UNSET
    timezone: Timezone | msgspec.UnsetType = msgspec.UNSET
    default_agent_capacity: Capacity | msgspec.UnsetType | None = msgspec.UNSET
    agent_capacity: Capacities | msgspec.UnsetType = msgspec.UNSET
    ignore_groups: bool | msgspec.UnsetType = msgspec.UNSET


class OrganizationUpdate(Input):
    name: Name | None = None
    settings: OrganizationSettingsPatch | None = None


class OrganizationDelete(Input):
    confirm_slug: Annotated[str, msgspec.Meta(max_length=64)]
