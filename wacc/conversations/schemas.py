"""Request and response bodies of the conversations (inbox) API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from wacc.http.schemas import Input, Output

Status = Literal["OPEN", "PENDING", "RESOLVED", "CLOSED", "SPAM"]
PriorityName = Literal["LOW", "NORMAL", "HIGH", "URGENT"]
RefId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
UserIds = Annotated[list[RefId], msgspec.Meta(min_length=1, max_length=50)]


class ConversationPatch(Input):
    # Required: the version the client read, so two agents never overwrite each other.
    version: Annotated[int, msgspec.Meta(ge=1)]
    status: Status | msgspec.UnsetType = msgspec.UNSET
    priority: PriorityName | msgspec.UnsetType = msgspec.UNSET


class AssignIn(Input):
    user_ids: UserIds
    mode: Literal["add", "replace"] = "add"


class UnassignIn(Input):
    user_ids: UserIds


class NoteCreate(Input):
    content: Annotated[str, msgspec.Meta(min_length=1, max_length=10000)]


class TagAttach(Input):
    tag_id: RefId


class SnoozeIn(Input):
    until: datetime


class ContactSummary(Output):
    id: str
    name: str | None
    phone: str


class TagOut(Output):
    id: str
    name: str
    color: str


class ConversationOut(Output):
    id: str
    session_id: str
    contact: ContactSummary
    status: str
    priority: str
    channel: str
    last_message_at: datetime | None
    version: int
    snoozed_until: datetime | None
    assignees: list[str]
    tags: list[TagOut]
    unread_count: int
    created_at: datetime
    updated_at: datetime


class ConversationPage(Output):
    items: list[ConversationOut]
    next_cursor: str | None


class NoteOut(Output):
    id: str
    conversation_id: str
    user_id: str | None
    content: str
    mentions: list[str]
    created_at: datetime


class EventOut(Output):
    id: str
    user_id: str | None
    kind: str
    from_value: str | None
    to_value: str | None
    created_at: datetime
