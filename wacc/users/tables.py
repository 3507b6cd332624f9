from __future__ import annotations

from piccolo.columns import JSONB, Boolean, ForeignKey, Integer, OnDelete, Timestamptz, Varchar
from piccolo.table import Table

from wacc.db.columns import (
    EncryptedText,
    Index,
    created_at,
    enum_column,
    id_column,
    org_fk,
    updated_at,
)
from wacc.orgs.tables import Organization
from wacc.security.roles import Role


class User(Table, tablename="app_user"):  # "user" is reserved in PostgreSQL
    id = id_column()
    organization = org_fk(Organization)
    email = Varchar(length=254, unique=True)
    password_hash = Varchar(length=255)
    name = Varchar(length=120)
    role = enum_column(Role, Role.AGENT)
    is_active = Boolean(default=True)
    totp_secret = EncryptedText(null=True, default=None)
    totp_enabled = Boolean(default=False)
    # The last TOTP time step accepted, so a code cannot be replayed within its window.
    totp_last_step = Integer(null=True, default=None)
    # Hashes of unused recovery codes; a used one is removed.
    recovery_codes = JSONB(default=[])
    last_login_at = Timestamptz(null=True, default=None)
    password_changed_at = Timestamptz(null=True, default=None)
    created_at = created_at()
    updated_at = updated_at()


class Invite(Table, tablename="invite"):
    id = id_column()
    organization = org_fk(Organization)
    email = Varchar(length=254)
    name = Varchar(length=120, default="")
    role = enum_column(Role, Role.AGENT)
    token_hash = Varchar(length=64, unique=True)
    invited_by = ForeignKey(User, on_delete=OnDelete.set_null, null=True)
    expires_at = Timestamptz()
    accepted_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    created_at = created_at()


INDEXES = [Index(User, "organization"), Index(Invite, "organization", "email")]
