from __future__ import annotations

from datetime import datetime

from wacc.http.schemas import Email, Input, Name, Output, Password
from wacc.security.roles import Role


class UserOut(Output):
    id: str
    organization_id: str
    email: str
    name: str
    role: Role
    is_active: bool
    two_factor_enabled: bool
    last_login_at: datetime | None
    created_at: datetime


class UserUpdate(Input):
    name: Name | None = None
    role: Role | None = None
    is_active: bool | None = None


class InviteCreate(Input):
    email: Email
    name: Name | None = None
    role: Role = Role.AGENT


class InviteOut(Output):
    id: str
    email: str
    name: str
    role: Role
    expires_at: datetime
    accepted_at: datetime | None
    created_at: datetime
    # Present only when no SMTP server is configured: then the inviter passes it on.
    invite_url: str | None = None
    emailed: bool = False


class InviteInfo(Output):
    email: str
    name: str
    role: Role
    organization_name: str
    expires_at: datetime


class InviteAccept(Input):
    token: str
    password: Password
    name: Name | None = None
