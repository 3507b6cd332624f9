"""The browser's sign-in: an HttpOnly cookie instead of a bearer token.

The web UI signs in through the same login, two-factor and registration services as the
API, then keeps the login's token family in a cookie holding a signed "web" token. It
lives as long as a refresh token and dies with the family: logout, a password change or
a reuse alarm end it exactly like they end the API tokens of that login.

A cookie is sent by the browser on its own, so a request carrying it proves nothing
about which page made it. Every state-changing request authenticated by the cookie must
therefore also carry ``X-CSRF-Token``: an HMAC of the family that only our own pages can
read (from a <meta> tag). Bearer tokens and API keys are never sent ambiently, so they
need no such token.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from wacc.http.middleware import SESSION_COOKIE
from wacc.runtime import Runtime
from wacc.security.tokens import decode, issue

WEB = "web"
COOKIE = SESSION_COOKIE
CSRF_HEADER = "x-csrf-token"
WS_TOKEN_TTL = timedelta(minutes=5)


def start(rt: Runtime, access_token: str) -> str:
    """The cookie value for a login that just produced *access_token*."""
    claims = decode(rt.keyring, access_token, "access")
    return issue(
        rt.keyring, {"sub": claims["sub"], "org": claims["org"], "fam": claims["fam"]},
        timedelta(days=rt.settings.auth.refresh_token_days), WEB,
    )


def max_age(rt: Runtime) -> int:
    return rt.settings.auth.refresh_token_days * 86_400


def claims_of(rt: Runtime, cookie: str) -> dict[str, Any]:
    """Verified claims of a cookie value; raises TokenError."""
    return decode(rt.keyring, cookie, WEB)


def csrf_token(rt: Runtime, family: str) -> str:
    return hmac.new(rt.keyring.derive("csrf"), family.encode(), hashlib.sha256).hexdigest()


def csrf_ok(rt: Runtime, family: str | None, presented: str | None) -> bool:
    if not family or not presented:
        return False
    return hmac.compare_digest(csrf_token(rt, family), presented)


def socket_token(rt: Runtime, user_id: str, organization_id: str, family: str) -> str:
    """A short access token the page's script uses to authenticate its WebSocket (the
    cookie is HttpOnly, so the script cannot read it)."""
    return issue(rt.keyring, {"sub": user_id, "org": organization_id, "fam": family},
                 WS_TOKEN_TTL, "access")
