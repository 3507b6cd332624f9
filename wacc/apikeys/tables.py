from __future__ import annotations

from piccolo.columns import Array, ForeignKey, OnDelete, Timestamptz, Varchar
from piccolo.table import Table

from wacc.db.columns import Index, created_at, id_column, org_fk
from wacc.orgs.tables import Organization
from wacc.users.tables import User


class ApiKey(Table, tablename="api_key"):
    """The secret itself is never stored: `prefix` finds the row, `key_hash` proves it."""

    id = id_column()
    organization = org_fk(Organization)
    name = Varchar(length=120)
    prefix = Varchar(length=16, unique=True)
    key_hash = Varchar(length=64, unique=True)
    permissions = Array(base_column=Varchar(length=64), default=[])
    created_by = ForeignKey(User, on_delete=OnDelete.set_null, null=True)
    last_used_at = Timestamptz(null=True, default=None)
    expires_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    created_at = created_at()


INDEXES = [Index(ApiKey, "organization")]
