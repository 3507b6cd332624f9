"""Request and response bodies of the auto-responder."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from wacc.http.schemas import Input, Output

Clock = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]
Span = Annotated[list[Clock], msgspec.Meta(min_length=2, max_length=2)]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class BusinessHours(Input):
    timezone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    # Opening spans per day, e.g. {"mon": [["09:00", "12:30"], ["13:30", "17:00"]]};
    # a day not named is closed.
    days: dict[Day, Annotated[list[Span], msgspec.Meta(max_length=8)]]


Keyword = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Text = Annotated[str, msgspec.Meta(max_length=4096)]


class ResponderIn(Input):
    """The whole configuration (PUT): fields left out take their defaults."""

    enabled: bool = False
    business_hours: BusinessHours | None = None  # null: at any hour
    system_prompt: Annotated[str, msgspec.Meta(max_length=8000)] = ""
    knowledge_base_only: bool = False
    handoff_keywords: Annotated[list[Keyword], msgspec.Meta(max_length=50)] = []
    min_confidence: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0
    handoff_message: Text | None = None
    fallback_message: Text | None = None


class ResponderOut(Output):
    session_id: str
    enabled: bool
    business_hours: dict[str, Any] | None
    system_prompt: str
    knowledge_base_only: bool
    handoff_keywords: list[str]
    min_confidence: float
    handoff_message: str | None
    fallback_message: str | None
    open_now: bool  # whether the business hours cover this moment
    updated_at: datetime | None
