from __future__ import annotations

from piccolo.columns import Varchar
from piccolo.table import Table

from wacc.db.columns import Index, created_at, id_column, org_fk
from wacc.orgs.tables import Organization


class Tag(Table, tablename="tag"):
    id = id_column()
    organization = org_fk(Organization)
    name = Varchar(length=64)
    color = Varchar(length=16, default="#64748b")
    created_at = created_at()


INDEXES = [
    Index(Tag, "organization", "name", unique=True),
]
