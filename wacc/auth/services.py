"""Registration, login (with throttling and two-factor), token refresh and logout.

Access tokens are short JWTs; refresh tokens are random secrets stored hashed, in
families: each refresh uses one up and issues the next. A used token presented again
means it was stolen (or replayed), so the whole family is revoked, and with it every
access token of that login.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp
import segno

from wacc.apikeys import services as apikeys
from wacc.audit import services as audit
from wacc.auth import websession
from wacc.auth.schemas import LoginOut, MeOut, MfaSetupOut, RecoveryCodesOut, RegisterIn, TokensOut
from wacc.auth.tables import RefreshToken
from wacc.db.engine import transaction
from wacc.lib.clock import utcnow
from wacc.lib.errors import (
    AuthenticationError,
    AuthorizationError,
    ConflictError,
    RateLimitError,
    ValidationError,
)
from wacc.lib.ids import new_id, token
from wacc.logs import get_logger
from wacc.orgs import services as orgs
from wacc.runtime import Runtime
from wacc.security.limits import per
from wacc.security.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from wacc.security.principal import Principal
from wacc.security.roles import Role
from wacc.security.tokens import TokenError, decode, hash_secret, issue
from wacc.users import services as users
from wacc.users.tables import User

log = get_logger(__name__)

ACCESS, MFA = "access", "mfa"
MFA_CHALLENGE_TTL = timedelta(minutes=5)
RECOVERY_CODES = 10
TOTP_CONTEXT = "app_user.totp_secret"


@dataclass(frozen=True)
class Client:
    """Where a request came from, for throttles and the audit trail."""

    ip: str
    user_agent: str | None = None
    request_id: str | None = None


# -- registration --------------------------------------------------------------------


async def register(rt: Runtime, data: RegisterIn, client: Client) -> TokensOut:
    users.check_password(rt, data.password, data.email, data.name)
    async with transaction():
        await orgs.lock_for_create()  # so two first-run sign-ups cannot both pass
        if await orgs.count() > 0 and not rt.settings.auth.open_signup:
            raise AuthorizationError(
                "Registration is closed: ask an administrator of your organization for an invite"
            )
        org = await orgs.create(data.organization_name)
        user = await users.create(rt, org.id, data.email, data.name, data.password, Role.OWNER)
    return await _issue_tokens(rt, user.id, client)


async def first_run() -> bool:
    """True until the first organization exists (the UI shows its setup wizard)."""
    return await orgs.count() == 0


# -- login ---------------------------------------------------------------------------


def _throttles(rt: Runtime, email: str, ip: str) -> list[tuple[Any, str]]:
    a = rt.settings.auth
    return [
        (per(a.login_max_failures_account, a.login_window_minutes), f"acct:{email}"),
        (per(a.login_max_failures_ip, a.login_window_minutes), f"ip:{ip}"),
    ]


async def _check_throttles(rt: Runtime, throttles: list[tuple[Any, str]]) -> None:
    for item, key in throttles:
        verdict = await rt.limiter.check(item, "login-failures", key, fallback=True)
        if not verdict.allowed:
            raise RateLimitError(
                "Too many failed sign-in attempts; try again later", verdict.retry_after
            )


async def _count_failure(rt: Runtime, throttles: list[tuple[Any, str]]) -> None:
    for item, key in throttles:
        await rt.limiter.hit(item, "login-failures", key, fallback=True)


async def _clear_account_failures(rt: Runtime, throttles: list[tuple[Any, str]]) -> None:
    """After a complete sign-in: the account's count restarts (the address's does not)."""
    item, key = throttles[0]
    await rt.limiter.clear(item, "login-failures", key, fallback=True)


async def login(
    rt: Runtime, email: str, password: str, client: Client
) -> tuple[LoginOut, str, str]:
    """Returns the response and the user's organization and id (for the audit log: the
    response names no user when a second factor is still due)."""
    email = users.normalize_email(email)
    throttles = _throttles(rt, email, client.ip)
    await _check_throttles(rt, throttles)
    row = await users.row_by_email(email)
    # Verify against a dummy hash for unknown e-mails so timing does not reveal accounts.
    password_ok = verify_password(row["password_hash"] if row else dummy_hash(), password)
    if row is None or not password_ok:
        await _count_failure(rt, throttles)
        if row is not None:
            await audit.record_event(
                row["organization"], "auth.login_failed", "user", row["id"], user_id=row["id"],
                ip=client.ip, user_agent=client.user_agent, request_id=client.request_id,
                status=401,
            )
        raise AuthenticationError("Invalid e-mail or password")
    if not row["is_active"]:
        raise AuthenticationError("This account has been deactivated")
    if needs_rehash(row["password_hash"]):
        await User.update({User.password_hash: hash_password(password)}).where(User.id == row["id"])
    if row["totp_enabled"]:
        # The failure count survives until the second factor passes too: clearing it
        # here would let the password alone buy unlimited guesses at the code.
        challenge = issue(rt.keyring, {"sub": row["id"]}, MFA_CHALLENGE_TTL, MFA)
        return LoginOut(mfa_required=True, mfa_token=challenge), row["organization"], row["id"]
    await _clear_account_failures(rt, throttles)
    tokens = await _issue_tokens(rt, row["id"], client)
    return LoginOut(mfa_required=False, **_token_fields(tokens)), row["organization"], row["id"]


def _token_fields(tokens: TokensOut) -> dict[str, Any]:
    return {
        "access_token": tokens.access_token, "refresh_token": tokens.refresh_token,
        "token_type": tokens.token_type, "expires_in": tokens.expires_in, "user": tokens.user,
    }


async def login_mfa(rt: Runtime, mfa_token: str, code: str, client: Client) -> tuple[TokensOut, str]:
    try:
        claims = decode(rt.keyring, mfa_token, MFA)
    except TokenError as exc:
        raise AuthenticationError(f"Two-factor challenge not valid: {exc}; sign in again") from None
    row = await users.row_by_id(claims["sub"])
    if row is None or not row["is_active"] or not row["totp_enabled"]:
        raise AuthenticationError("Two-factor challenge not valid; sign in again")
    throttles = _throttles(rt, row["email"], client.ip)
    await _check_throttles(rt, throttles)
    if not await _verify_second_factor(rt, row, code):
        await _count_failure(rt, throttles)
        await audit.record_event(
            row["organization"], "auth.mfa_failed", "user", row["id"], user_id=row["id"],
            ip=client.ip, user_agent=client.user_agent, request_id=client.request_id,
                status=401,
        )
        raise AuthenticationError(
            "Wrong two-factor code", [{"field": "code", "message": "wrong or already used"}]
        )
    await _clear_account_failures(rt, throttles)
    return await _issue_tokens(rt, row["id"], client), row["organization"]


async def _verify_second_factor(rt: Runtime, row: dict[str, Any], code: str) -> bool:
    code = code.strip().replace(" ", "")
    if code.isdigit() and len(code) == 6:
        secret = rt.keyring.decrypt(row["totp_secret"], TOTP_CONTEXT)
        step = _matching_step(secret, code)
        if step is None or (row["totp_last_step"] is not None and step <= row["totp_last_step"]):
            return False
        # Conditional, so two concurrent uses of one code cannot both pass.
        updated = await User.update({User.totp_last_step: step}).where(
            (User.id == row["id"])
            & ((User.totp_last_step.is_null()) | (User.totp_last_step < step))
        ).returning(User.id)
        return bool(updated)
    hashed = hash_secret(code.lower())
    remaining = _json_list(row["recovery_codes"])
    if hashed not in remaining:
        return False
    remaining.remove(hashed)
    # Conditional on the row being unchanged since it was read (every update moves
    # updated_at), so one recovery code cannot pass in two concurrent sign-ins.
    updated = await User.update({User.recovery_codes: remaining}).where(
        (User.id == row["id"]) & (User.updated_at == row["updated_at"])
    ).returning(User.id)
    return bool(updated)


def _json_list(value: Any) -> list[Any]:
    """A JSON column's list: Piccolo returns JSON columns as text unless asked not to."""
    if isinstance(value, str):
        value = json.loads(value)
    return list(value or [])


def _matching_step(secret: str, code: str) -> int | None:
    """The time step whose code matches, allowing one step of clock drift either way."""
    totp = pyotp.TOTP(secret)
    now = utcnow()
    for drift in (0, -1, 1):
        at = now + timedelta(seconds=30 * drift)
        if secrets.compare_digest(totp.at(at), code):
            return totp.timecode(at)
    return None


# -- tokens --------------------------------------------------------------------------


async def _issue_tokens(
    rt: Runtime, user_id: str, client: Client, family_id: str | None = None
) -> TokensOut:
    user = await users.get_by_id(user_id)
    family_id = family_id or new_id()
    minutes = rt.settings.auth.access_token_minutes
    access = issue(
        rt.keyring, {"sub": user.id, "org": user.organization_id, "fam": family_id},
        timedelta(minutes=minutes), ACCESS,
    )
    secret = token()
    now = utcnow()
    await RefreshToken.insert(
        RefreshToken(
            id=new_id(), user=user.id, family_id=family_id, token_hash=hash_secret(secret),
            expires_at=now + timedelta(days=rt.settings.auth.refresh_token_days),
            ip_address=client.ip[:64], user_agent=(client.user_agent or "")[:255] or None,
        )
    )
    await User.update({User.last_login_at: now}).where(User.id == user.id)
    return TokensOut(
        access_token=access, refresh_token=secret, token_type="Bearer",  # noqa: S106
        expires_in=minutes * 60, user=user,
    )


async def refresh(rt: Runtime, refresh_token: str, client: Client) -> tuple[TokensOut, str]:
    now = utcnow()
    row = await RefreshToken.select().where(
        RefreshToken.token_hash == hash_secret(refresh_token)
    ).first()
    if row is None:
        raise AuthenticationError("Invalid refresh token")
    # The family, not just this row: a token issued by a refresh that raced with the
    # reuse which revoked the family is written after the revocation, yet is as dead.
    if await family_revoked(row["family_id"]):
        raise AuthenticationError("This sign-in was ended; sign in again")
    if row["expires_at"] <= now:
        raise AuthenticationError("Refresh token expired; sign in again")
    # Use it up, conditionally: of two presentations of one token, only one wins.
    won = await RefreshToken.update({RefreshToken.used_at: now}).where(
        (RefreshToken.id == row["id"]) & RefreshToken.used_at.is_null()
        & RefreshToken.revoked_at.is_null()
    ).returning(RefreshToken.id)
    if not won:
        await revoke_family(row["family_id"])
        user = await users.row_by_id(row["user"])
        if user is not None:
            await audit.record_event(
                user["organization"], "auth.refresh_reuse", "user", user["id"],
                user_id=user["id"], ip=client.ip, user_agent=client.user_agent,
                request_id=client.request_id, status=401,
            )
        log.warning("refresh token reused; family revoked", family=row["family_id"])
        raise AuthenticationError(
            "This refresh token was already used, so every session of this sign-in has "
            "been ended; sign in again"
        )
    user_row = await users.row_by_id(row["user"])
    if user_row is None or not user_row["is_active"]:
        await revoke_family(row["family_id"])
        raise AuthenticationError("This account has been deactivated")
    tokens = await _issue_tokens(rt, row["user"], client, family_id=row["family_id"])
    return tokens, user_row["organization"]


async def family_revoked(family_id: str) -> bool:
    """A login is over once any of its refresh tokens is revoked (logout, reuse)."""
    return await RefreshToken.exists().where(
        (RefreshToken.family_id == family_id) & RefreshToken.revoked_at.is_not_null()
    )


async def revoke_family(family_id: str) -> None:
    await RefreshToken.update({RefreshToken.revoked_at: utcnow()}).where(
        (RefreshToken.family_id == family_id) & RefreshToken.revoked_at.is_null()
    )


async def revoke_user_sessions(user_id: str, keep_family: str | None = None) -> None:
    query = RefreshToken.update({RefreshToken.revoked_at: utcnow()}).where(
        (RefreshToken.user == user_id) & RefreshToken.revoked_at.is_null()
    )
    if keep_family:
        query = query.where(RefreshToken.family_id != keep_family)
    await query


async def logout(principal: Principal, refresh_token: str | None) -> None:
    if principal.token_family:
        await revoke_family(principal.token_family)
    if refresh_token:
        row = await RefreshToken.select(RefreshToken.family_id, RefreshToken.user).where(
            RefreshToken.token_hash == hash_secret(refresh_token)
        ).first()
        if row is not None and row["user"] == principal.user_id:
            await revoke_family(row["family_id"])


# -- who is calling ------------------------------------------------------------------


async def authenticate(rt: Runtime, scheme: str, credential: str) -> Principal:
    """Turn an access token, API key or web-session cookie into a Principal, or raise
    AuthenticationError."""
    if scheme == "api-key" or credential.startswith(apikeys.KEY_PREFIX):
        return await apikeys.authenticate(credential)
    kind = websession.WEB if scheme == "cookie" else ACCESS
    try:
        claims = decode(rt.keyring, credential, kind)
    except TokenError as exc:
        if scheme == "cookie":
            raise AuthenticationError("Your sign-in expired; sign in again") from None
        raise AuthenticationError(f"Access token not valid: {exc}") from None
    member = await users.is_active_member(str(claims["sub"]), str(claims.get("org")))
    if member is None:
        raise AuthenticationError("Access token not valid: account inactive or removed")
    family = claims.get("fam")
    if family and await family_revoked(family):
        raise AuthenticationError("Access token not valid: signed out")
    return Principal(
        organization_id=member["organization"], user_id=member["id"],
        role=Role(member["role"]), token_family=family,
    )


async def me(principal: Principal) -> MeOut:
    user = await users.get_by_id(principal.user_id) if principal.user_id else None
    return MeOut(
        organization_id=principal.organization_id, user=user,
        api_key_id=principal.api_key_id, permissions=sorted(principal.permissions),
    )


async def change_password(
    rt: Runtime, principal: Principal, current: str, new: str
) -> None:
    row = await _user_row(principal)
    if not verify_password(row["password_hash"], current):
        raise ValidationError.field("currentPassword", "is not your current password")
    users.check_password(rt, new, row["email"], row["name"], field="newPassword")
    await users.set_password(rt, row["id"], new)
    await revoke_user_sessions(row["id"], keep_family=principal.token_family)


# -- two-factor enrolment -----------------------------------------------------------


async def _user_row(principal: Principal) -> dict[str, Any]:
    if principal.user_id is None:
        raise AuthorizationError("Only a signed-in user can do this, not an API key")
    row = await users.row_by_id(principal.user_id)
    if row is None:
        raise AuthenticationError("Account removed")
    return row


async def mfa_setup(rt: Runtime, principal: Principal) -> MfaSetupOut:
    row = await _user_row(principal)
    if row["totp_enabled"]:
        raise ConflictError("Two-factor authentication is already on; turn it off first")
    secret = pyotp.random_base32()
    await User.update(
        {User.totp_secret: rt.keyring.encrypt(secret, TOTP_CONTEXT), User.totp_last_step: None}
    ).where(User.id == row["id"])
    uri = pyotp.TOTP(secret).provisioning_uri(
        name=row["email"], issuer_name=rt.settings.auth.mfa_issuer
    )
    qr = segno.make(uri, error="m")
    return MfaSetupOut(secret=secret, otpauth_url=uri, qr_data_uri=qr.svg_data_uri(scale=4))


def _new_recovery_codes() -> tuple[list[str], list[str]]:
    # 80 random bits each: they are stored with hash_secret (fast, unsalted), which is
    # only safe for secrets nobody can enumerate, even with the database in hand.
    codes = [f"{secrets.token_hex(5)}-{secrets.token_hex(5)}" for _ in range(RECOVERY_CODES)]
    return codes, [hash_secret(c) for c in codes]


async def mfa_enable(rt: Runtime, principal: Principal, code: str) -> RecoveryCodesOut:
    row = await _user_row(principal)
    if row["totp_enabled"]:
        raise ConflictError("Two-factor authentication is already on")
    if not row["totp_secret"]:
        raise ConflictError("Start with /auth/mfa/setup first")
    secret = rt.keyring.decrypt(row["totp_secret"], TOTP_CONTEXT)
    step = _matching_step(secret, code.strip())
    if step is None:
        raise ValidationError.field("code", "wrong code; check your authenticator's clock")
    codes, hashes = _new_recovery_codes()
    await User.update(
        {User.totp_enabled: True, User.recovery_codes: hashes, User.totp_last_step: step}
    ).where(User.id == row["id"])
    return RecoveryCodesOut(recovery_codes=codes)


async def mfa_disable(rt: Runtime, principal: Principal, password: str, code: str) -> None:
    row = await _user_row(principal)
    if not row["totp_enabled"]:
        raise ConflictError("Two-factor authentication is not on")
    if not verify_password(row["password_hash"], password):
        raise ValidationError.field("password", "is not your password")
    if not await _verify_second_factor(rt, row, code):
        raise ValidationError.field("code", "wrong or already used")
    await User.update(
        {User.totp_enabled: False, User.totp_secret: None, User.recovery_codes: [],
         User.totp_last_step: None}
    ).where(User.id == row["id"])


async def mfa_recovery_codes(rt: Runtime, principal: Principal, code: str) -> RecoveryCodesOut:
    row = await _user_row(principal)
    if not row["totp_enabled"]:
        raise ConflictError("Two-factor authentication is not on")
    if not await _verify_second_factor(rt, row, code):
        raise ValidationError.field("code", "wrong or already used")
    codes, hashes = _new_recovery_codes()
    await User.update({User.recovery_codes: hashes}).where(User.id == row["id"])
    return RecoveryCodesOut(recovery_codes=codes)


async def prune_expired() -> int:
    """Delete refresh tokens past their expiry (kept a day longer to explain reuse)."""
    cutoff = utcnow() - timedelta(days=1)
    gone = await RefreshToken.delete().where(RefreshToken.expires_at < cutoff).returning(
        RefreshToken.id
    )
    return len(gone)
