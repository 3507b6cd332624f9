"""API keys: ``wacc_<prefix>_<secret>``, stored as a SHA-256 of the whole key.

The prefix finds the row in one indexed lookup; the hash proves the rest. Scopes are
permissions from the same matrix as roles, and a key never gets a scope its creator
does not hold.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from wacc.apikeys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from wacc.apikeys.tables import ApiKey
from wacc.lib.clock import utcnow
from wacc.lib.errors import AuthenticationError, NotFoundError, ValidationError
from wacc.lib.ids import new_id
from wacc.security.principal import Principal
from wacc.security.roles import PERMISSIONS
from wacc.security.tokens import hash_secret, same

KEY_PREFIX = "wacc_"
# last_used_at is written at most this often per key, not on every request.
LAST_USED_GRANULARITY = timedelta(minutes=1)


def _out(row: dict[str, Any]) -> ApiKeyOut:
    scopes = row["permissions"]
    return ApiKeyOut(
        id=row["id"], name=row["name"], prefix=row["prefix"], scopes=list(scopes or []),
        created_by=row["created_by"], last_used_at=row["last_used_at"],
        expires_at=row["expires_at"], revoked_at=row["revoked_at"], created_at=row["created_at"],
    )


async def create(principal: Principal, data: ApiKeyCreate) -> ApiKeyCreated:
    details = []
    for i, scope in enumerate(data.scopes):
        if scope not in PERMISSIONS:
            details.append({"field": f"scopes[{i}]", "message": f"unknown scope {scope}"})
        elif not principal.can(scope):
            details.append({"field": f"scopes[{i}]", "message": f"you do not hold {scope}"})
    if details:
        raise ValidationError("Invalid scopes", details)
    if data.expires_at is not None:
        expires = data.expires_at if data.expires_at.tzinfo else None
        if expires is None:
            raise ValidationError.field("expiresAt", "must include a timezone")
        if expires <= utcnow():
            raise ValidationError.field("expiresAt", "must be in the future")
    prefix = secrets.token_hex(4)
    while await ApiKey.exists().where(ApiKey.prefix == prefix):
        prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key_id = new_id()
    await ApiKey.insert(
        ApiKey(
            id=key_id, organization=principal.organization_id, name=data.name.strip(),
            prefix=prefix, key_hash=hash_secret(key), permissions=sorted(set(data.scopes)),
            created_by=principal.user_id, expires_at=data.expires_at,
        )
    )
    row = await ApiKey.select().where(ApiKey.id == key_id).first()
    assert row is not None
    out = _out(row)
    return ApiKeyCreated(**{f: getattr(out, f) for f in out.__struct_fields__}, key=key)


async def list_keys(principal: Principal) -> list[ApiKeyOut]:
    rows = (
        await ApiKey.select()
        .where(ApiKey.organization == principal.organization_id)
        .order_by(ApiKey.created_at, ascending=False)
    )
    return [_out(r) for r in rows]


async def _scoped(principal: Principal, key_id: str) -> dict[str, Any]:
    row = await ApiKey.select().where(
        (ApiKey.id == key_id) & (ApiKey.organization == principal.organization_id)
    ).first()
    if row is None:
        raise NotFoundError("API key not found")
    return row


async def get(principal: Principal, key_id: str) -> ApiKeyOut:
    return _out(await _scoped(principal, key_id))


async def revoke(principal: Principal, key_id: str) -> None:
    """Revocation takes effect on the key's next request: every request checks it."""
    row = await _scoped(principal, key_id)
    if row["revoked_at"] is None:
        await ApiKey.update({ApiKey.revoked_at: utcnow()}).where(ApiKey.id == key_id)


async def authenticate(key: str) -> Principal:
    parts = key.split("_", 2)
    if len(parts) != 3 or f"{parts[0]}_" != KEY_PREFIX or not parts[1]:
        raise AuthenticationError("API key not valid")
    row = await ApiKey.select().where(ApiKey.prefix == parts[1]).first()
    if row is None or not same(row["key_hash"], hash_secret(key)):
        raise AuthenticationError("API key not valid")
    now = utcnow()
    if row["revoked_at"] is not None:
        raise AuthenticationError("API key revoked")
    if row["expires_at"] is not None and row["expires_at"] <= now:
        raise AuthenticationError("API key expired")
    last = row["last_used_at"]
    if last is None or now - last > LAST_USED_GRANULARITY:
        await ApiKey.update({ApiKey.last_used_at: now}).where(ApiKey.id == row["id"])
    return Principal(
        organization_id=row["organization"], api_key_id=row["id"],
        scopes=frozenset(row["permissions"] or []),
    )
