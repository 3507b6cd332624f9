"""Request and response bodies for segments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar.params import PathParameter

from wacc.contacts.schemas import ContactOut
from wacc.http.schemas import Input, Name, Output

SegmentId = Annotated[str, PathParameter(name="segmentId", min_length=1, max_length=64)]
# The condition language is checked by wacc.segments.conditions, which names the
# place of each problem (``conditions.all[2].op``); msgspec only sees a JSON object.
Conditions = dict[str, Any]


class SegmentCreate(Input):
    name: Name
    conditions: Conditions


class SegmentUpdate(Input):
    name: Name | None = None
    conditions: Conditions | None = None


class SegmentPreview(Input):
    conditions: Conditions


class SegmentOut(Output):
    id: str
    name: str
    conditions: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class SegmentCount(Output):
    count: int


class SegmentPreviewOut(Output):
    """How many contacts match, and the first of them (newest first)."""

    count: int
    items: list[ContactOut]
