"""Request and response bodies for tags."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar.params import PathParameter

from wacc.http.schemas import Input, Output

TagId = Annotated[str, PathParameter(name="tagId", min_length=1, max_length=64)]

# Length is checked again after trimming in the service; this bounds the raw input.
TagName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Color = Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$")]


class TagCreate(Input):
    name: TagName
    color: Color | None = None


class TagUpdate(Input):
    name: TagName | None = None
    color: Color | None = None


class TagOut(Output):
    id: str
    name: str
    color: str
    created_at: datetime
