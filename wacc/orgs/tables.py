from __future__ import annotations

from enum import StrEnum

from piccolo.columns import JSONB, Varchar
from piccolo.table import Table

from wacc.db.columns import created_at, enum_column, id_column, updated_at


class Plan(StrEnum):
    FREE = "FREE"
    STARTER = "STARTER"
    PROFESSIONAL = "PROFESSIONAL"
    ENTERPRISE = "ENTERPRISE"


class Organization(Table, tablename="organization"):
    id = id_column()
    name = Varchar(length=120)
    slug = Varchar(length=64, unique=True)
    plan = enum_column(Plan, Plan.FREE)
    settings = JSONB(default={})
    created_at = created_at()
    updated_at = updated_at()
