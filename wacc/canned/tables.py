from __future__ import annotations

from piccolo.columns import ForeignKey, OnDelete, Text, Varchar
from piccolo.table import Table

from wacc.db.columns import Index, created_at, id_column, org_fk, updated_at
from wacc.orgs.tables import Organization
from wacc.users.tables import User


class CannedResponse(Table, tablename="canned_response"):
    """A saved reply, typed as /shortcut in the composer."""

    id = id_column()
    organization = org_fk(Organization)
    shortcut = Varchar(length=48)
    content = Text()
    created_by = ForeignKey(User, on_delete=OnDelete.set_null, null=True)
    created_at = created_at()
    updated_at = updated_at()


INDEXES = [
    Index(CannedResponse, "organization", "shortcut", unique=True),
]
