"""Signed tokens (JWT, HS256 only) and hashed opaque secrets."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

import jwt

from wacc.lib.clock import utcnow
from wacc.security.crypto import Keyring

ALGORITHM = "HS256"
_PURPOSE = "wacc jwt signing v1"


class TokenError(Exception):
    """A token is malformed, forged, expired or of the wrong kind."""


def issue(keyring: Keyring, claims: dict[str, Any], ttl: timedelta, kind: str) -> str:
    now = utcnow()
    payload = {**claims, "typ": kind, "iat": now, "nbf": now, "exp": now + ttl}
    return jwt.encode(
        payload, keyring.derive(_PURPOSE), algorithm=ALGORITHM,
        headers={"kid": keyring.current_id},
    )


def decode(keyring: Keyring, token: str, kind: str) -> dict[str, Any]:
    """Verify signature, expiry and kind. Only HS256 is accepted (never ``alg: none``)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError("malformed token") from None
    key = keyring.derive_all(_PURPOSE).get(str(header.get("kid")))
    if key is None:
        raise TokenError("token signed with an unknown key")
    try:
        claims = jwt.decode(
            token, key, algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "sub", "typ"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.PyJWTError:
        raise TokenError("invalid token") from None
    if claims.get("typ") != kind:
        raise TokenError("wrong kind of token")
    return claims


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy random secret (refresh tokens, invites, API keys).

    These secrets carry 256 bits of randomness, so a fast hash is enough: nobody can
    guess one, and the database never holds a usable copy."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
