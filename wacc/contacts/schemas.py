from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.params import PathParameter

from wacc.http.schemas import Input, Output

ContactId = Annotated[str, PathParameter(name="contactId", min_length=1, max_length=64)]
TagId = Annotated[str, PathParameter(name="tagId", min_length=1, max_length=64)]
Phone = Annotated[str, msgspec.Meta(min_length=3, max_length=32)]
Text64 = Annotated[str, msgspec.Meta(max_length=64)]


class ContactCreate(Input):
    phone_number: Phone
    name: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    email: Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    language: Annotated[str, msgspec.Meta(max_length=16)] | None = None
    timezone: Text64 | None = None
    custom_fields: dict[str, Any] = {}


class ContactUpdate(Input):
    name: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    email: Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    language: Annotated[str, msgspec.Meta(max_length=16)] | None = None
    timezone: Text64 | None = None
    is_blocked: bool | None = None
    custom_fields: dict[str, Any] | None = None


class ContactTagIn(Input):
    tag_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class MergeIn(Input):
    """Merge the other contact into this one: its conversations, messages, tags and
    fields move here, and it is deleted."""

    other_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class ContactOut(Output):
    id: str
    whatsapp_id: str
    phone_number: str
    name: str | None
    email: str | None
    language: str | None
    timezone: str | None
    is_blocked: bool
    custom_fields: dict[str, Any]
    tags: list[str]
    last_message_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ContactPage(Output):
    items: list[ContactOut]
    next_cursor: str | None


class ContactConversation(Output):
    id: str
    session_id: str
    status: str
    priority: str
    last_message_at: datetime


# -- import, export and GDPR ------------------------------------------------------------

ImportId = Annotated[str, PathParameter(name="importId", min_length=1, max_length=64)]


class ImportRowError(Output):
    row: int  # as a spreadsheet numbers it: the header is row 1
    column: str | None
    message: str


class ImportOut(Output):
    id: str
    status: str
    filename: str
    size: int
    mapping: dict[str, str]
    on_duplicate: str
    default_region: str | None
    processed: int
    created: int
    updated: int
    skipped: int
    failed: int
    errors: list[ImportRowError]
    has_report: bool
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class EraseOut(Output):
    """What an erasure removed; the contact itself is gone."""

    id: str
    conversations: int
    messages: int
    media_files: int
