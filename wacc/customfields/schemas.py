"""Request and response bodies for custom field definitions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar.params import PathParameter

from wacc.customfields.tables import FieldType
from wacc.http.schemas import Input, Name, Output

FieldId = Annotated[str, PathParameter(name="fieldId", min_length=1, max_length=64)]

FieldKey = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Option = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Options = Annotated[list[Option], msgspec.Meta(max_length=200)]


class CustomFieldCreate(Input):
    name: Name
    key: FieldKey
    type: FieldType
    # Required for SELECT and MULTISELECT, refused for every other type.
    options: Options | None = None
    required: bool = False


class CustomFieldUpdate(Input):
    """Key and type are fixed once created: contacts' stored values depend on them."""

    name: Name | None = None
    options: Options | None = None
    required: bool | None = None


class CustomFieldOut(Output):
    id: str
    name: str
    key: str
    type: FieldType
    options: list[str] | None
    required: bool
    created_at: datetime
