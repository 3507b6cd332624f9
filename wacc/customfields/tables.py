from __future__ import annotations

from enum import StrEnum

from piccolo.columns import JSONB, Boolean, Varchar
from piccolo.table import Table

from wacc.db.columns import Index, created_at, enum_column, id_column, org_fk
from wacc.orgs.tables import Organization


class FieldType(StrEnum):
    TEXT = "TEXT"
    NUMBER = "NUMBER"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    DATE = "DATE"
    SELECT = "SELECT"
    MULTISELECT = "MULTISELECT"
    URL = "URL"


class CustomField(Table, tablename="custom_field"):
    id = id_column()
    organization = org_fk(Organization)
    name = Varchar(length=120)
    key = Varchar(length=64)
    type = enum_column(FieldType, FieldType.TEXT)
    options = JSONB(null=True, default=None)
    required = Boolean(default=False)
    created_at = created_at()


INDEXES = [
    Index(CustomField, "organization", "key", unique=True),
]
