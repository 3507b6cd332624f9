from __future__ import annotations

from piccolo.columns import ForeignKey, OnDelete, Timestamptz, Varchar
from piccolo.table import Table

from wacc.db.columns import ID_LENGTH, Index, created_at, id_column
from wacc.users.tables import User


class RefreshToken(Table, tablename="refresh_token"):
    """One refresh token of a login "family". Rotation marks it used and issues the next
    one in the same family; presenting a used token again revokes the whole family."""

    id = id_column()
    user = ForeignKey(User, on_delete=OnDelete.cascade, null=False)
    family_id = Varchar(length=ID_LENGTH, index=True)
    token_hash = Varchar(length=64, unique=True)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    ip_address = Varchar(length=64, null=True, default=None)
    user_agent = Varchar(length=255, null=True, default=None)
    created_at = created_at()


INDEXES = [Index(RefreshToken, "user", "revoked_at")]
