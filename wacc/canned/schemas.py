"""Request and response bodies for canned responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar.params import PathParameter

from wacc.http.schemas import Input, Output

CannedId = Annotated[str, PathParameter(name="cannedId", min_length=1, max_length=64)]

SHORTCUT_PATTERN = r"^[a-z0-9_-]{1,48}$"
Shortcut = Annotated[str, msgspec.Meta(pattern=SHORTCUT_PATTERN)]
# WhatsApp's own limit for a text message body.
Content = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


class CannedResponseCreate(Input):
    shortcut: Shortcut
    content: Content


class CannedResponseUpdate(Input):
    shortcut: Shortcut | None = None
    content: Content | None = None


class CannedResponseOut(Output):
    id: str
    shortcut: str
    content: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class ExpandIn(Input):
    text: Annotated[str, msgspec.Meta(max_length=4096)]
    # Keys are the placeholders' names as written, e.g. {"contact.name": "Ann"}.
    variables: dict[str, str] = {}


class ExpandOut(Output):
    text: str
    # The canned response that was used, or None when the text had no /shortcut.
    canned_response_id: str | None
