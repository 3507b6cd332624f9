from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from wacc.http.schemas import Email, Input, Name, Output, Password
from wacc.users.schemas import UserOut

Code = Annotated[str, msgspec.Meta(min_length=6, max_length=32)]


class RegisterIn(Input):
    organization_name: Name
    name: Name
    email: Email
    password: Password


class LoginIn(Input):
    email: Annotated[str, msgspec.Meta(min_length=1, max_length=254)]
    password: Password


class MfaLoginIn(Input):
    mfa_token: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    code: Code


class RefreshIn(Input):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class LogoutIn(Input):
    refresh_token: Annotated[str, msgspec.Meta(max_length=512)] | None = None


class TokensOut(Output):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    user: UserOut


class LoginOut(Output):
    """Either tokens, or (two-factor on) a challenge to answer at /auth/login/mfa."""

    mfa_required: bool
    mfa_token: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    token_type: str | None = None
    expires_in: int | None = None
    user: UserOut | None = None


class MeOut(Output):
    organization_id: str
    user: UserOut | None
    api_key_id: str | None
    permissions: list[str]


class MfaSetupOut(Output):
    secret: str
    otpauth_url: str
    qr_data_uri: str  # the otpauth URL as an SVG QR code (a data: URI for an <img>)


class MfaCodeIn(Input):
    code: Code


class MfaDisableIn(Input):
    password: Password
    code: Code


class RecoveryCodesOut(Output):
    recovery_codes: list[str]


class PasswordChangeIn(Input):
    current_password: Password
    new_password: Password


class PasswordForgotIn(Input):
    email: Annotated[str, msgspec.Meta(min_length=1, max_length=254)]


class PasswordForgotOut(Output):
    message: str


class PasswordResetInfo(Output):
    email: str  # masked: j***@example.com
    expires_at: datetime


class PasswordResetIn(Input):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    new_password: Password
