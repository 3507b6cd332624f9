"""Self-service password reset: a signed link sent by e-mail, usable once.

The link carries a JWT of kind "reset" holding the user's id and a fingerprint of the
password hash it was issued against. Any new password changes the hash, so a link dies
with its first use (and with any other password change) without a table of issued
links. The cost: a link cannot be withdrawn on its own before it expires, only by
changing the password, and every earlier link dies with the first one used.

Nothing the caller sees depends on whether the address has an account: the request
answers the same body at once, and the look-up, the link and the e-mail happen after
the response has been sent, so its timing does not tell either.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from wacc.audit import services as audit
from wacc.auth import services as auth
from wacc.auth.schemas import PasswordResetInfo
from wacc.lib.clock import utcnow
from wacc.lib.errors import RateLimitError, ValidationError
from wacc.logs import get_logger
from wacc.runtime import Runtime
from wacc.security.limits import per
from wacc.security.passwords import hash_password
from wacc.security.tokens import TokenError, decode, issue, same
from wacc.users import services as users
from wacc.users.tables import User

log = get_logger(__name__)

RESET = "reset"
RESET_TTL = timedelta(hours=1)
# Requests per address and per client IP within the window. Every request counts, for
# unknown addresses too, so hitting the limit reveals nothing about accounts; the
# per-address limit stops anyone from flooding a mailbox with reset mail.
FORGOT_PER_EMAIL = 5
FORGOT_PER_IP = 20
FORGOT_WINDOW_MINUTES = 60

ACCEPTED = (
    "If an account exists for this address, a link to reset its password is on its way. "
    "It works once, for one hour."
)
LINK_GONE = "This reset link has expired or was already used; ask for a new one"
LINK_INVALID = "This reset link is not valid; ask for a new one"


def fingerprint(password_hash: str) -> str:
    """A short digest of a password hash: enough to notice it changed, useless to crack."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def mask_email(email: str) -> str:
    """``jane@example.com`` → ``j***@example.com``: the owner recognises it, a stranger
    holding the link learns little."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def reset_url(rt: Runtime, token: str) -> str:
    return f"{rt.settings.public_url}/reset/{token}"


# -- asking for a link ---------------------------------------------------------------


async def throttle_request(rt: Runtime, email: str, client: auth.Client) -> str:
    """Count one reset request against the address and the IP (429 when over); returns
    the normalized address."""
    email = users.normalize_email(email)
    limits = [
        (per(FORGOT_PER_EMAIL, FORGOT_WINDOW_MINUTES), f"acct:{email}"),
        (per(FORGOT_PER_IP, FORGOT_WINDOW_MINUTES), f"ip:{client.ip}"),
    ]
    for item, key in limits:
        verdict = await rt.limiter.check(item, "password-reset", key)
        if not verdict.allowed:
            raise RateLimitError(
                "Too many password reset requests; try again later", verdict.retry_after
            )
    for item, key in limits:
        await rt.limiter.hit(item, "password-reset", key)
    return email


async def send_reset_link(rt: Runtime, email: str, client: auth.Client) -> bool:
    """E-mail a reset link to *email* if it belongs to an active user; True when sent.

    Runs after the response (see the module docstring), so it must never raise."""
    try:
        return await _send_reset_link(rt, email, client)
    except Exception:
        log.exception("password reset link not sent")
        return False


async def _send_reset_link(rt: Runtime, email: str, client: auth.Client) -> bool:
    row = await users.row_by_email(email)
    if row is None or not row["is_active"]:
        return False
    await audit.record_event(
        row["organization"], "auth.password_reset_requested", "user", row["id"],
        ip=client.ip, user_agent=client.user_agent, request_id=client.request_id, status=202,
    )
    if not rt.mailer.enabled:
        # The link is a password: it is never logged, so without SMTP there is no way to
        # deliver it; an administrator can still run `wacc user reset-password`.
        log.warning("password reset requested but e-mail is not configured; no link sent",
                    user_id=row["id"])
        return False
    token = issue(
        rt.keyring, {"sub": row["id"], "pwh": fingerprint(row["password_hash"])},
        RESET_TTL, RESET,
    )
    sent = await rt.mailer.send(
        row["email"],
        "Reset your wacc password",
        f"Someone (hopefully you) asked to reset the password of {row['email']} on wacc.\n\n"
        f"Choose a new password: {reset_url(rt, token)}\n\n"
        "The link works once and expires in one hour. If you did not ask for it, ignore "
        "this message: your password stays as it is.",
    )
    if not sent:
        log.warning("password reset e-mail not sent", user_id=row["id"])
    return sent


# -- using a link --------------------------------------------------------------------


def _gone(detail: str, message: str = LINK_GONE) -> ValidationError:
    return ValidationError(message, [{"field": "token", "message": detail}])


async def _open_link(rt: Runtime, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The user a reset link is for and its claims, or a 400 saying why it is dead."""
    try:
        claims = decode(rt.keyring, token, RESET)
    except TokenError as exc:
        if str(exc) == "token expired":
            raise _gone("expired") from None
        raise _gone("not a valid reset link", LINK_INVALID) from None
    row = await users.row_by_id(str(claims["sub"]))
    if row is None or not row["is_active"]:
        raise _gone("the account no longer exists or is deactivated", LINK_INVALID)
    if not same(fingerprint(row["password_hash"]), str(claims.get("pwh", ""))):
        raise _gone("already used, or the password changed since it was sent")
    return row, claims


async def reset_info(rt: Runtime, token: str) -> PasswordResetInfo:
    """What the reset page shows before asking for the new password."""
    row, claims = await _open_link(rt, token)
    return PasswordResetInfo(
        email=mask_email(row["email"]),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
    )


async def reset_password(rt: Runtime, token: str, new_password: str) -> tuple[str, str]:
    """Set a new password through a reset link and end every sign-in of the account.

    Returns the user's organization and id (for the audit log)."""
    row, _ = await _open_link(rt, token)
    users.check_password(rt, new_password, row["email"], row["name"], field="newPassword")
    # Conditional on the hash the link was checked against: of two concurrent uses of
    # one link, only one sets a password.
    won = await User.update(
        {User.password_hash: hash_password(new_password), User.password_changed_at: utcnow()}
    ).where(
        (User.id == row["id"]) & (User.password_hash == row["password_hash"])
    ).returning(User.id)
    if not won:
        raise _gone("already used, or the password changed since it was sent")
    await auth.revoke_user_sessions(row["id"])
    return row["organization"], row["id"]
