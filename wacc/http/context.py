"""Per-request facts kept in the ASGI scope: request id, client address, principal."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import structlog
from litestar.types import Scope

from wacc.lib.ids import token
from wacc.security.principal import Principal

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def _state(scope: Scope) -> dict[str, Any]:
    return scope.setdefault("state", {})  # type: ignore[return-value]


def request_id(scope: Scope) -> str:
    """The caller's X-Request-ID when it is sane, else a new one; stable per request."""
    state = _state(scope)
    rid = state.get("request_id")
    if rid is None:
        header = _header(scope, b"x-request-id")
        rid = header if header and _REQUEST_ID_OK.match(header) else f"req_{token(9)}"
        state["request_id"] = rid
        structlog.contextvars.bind_contextvars(request_id=rid)
    return rid


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def client_ip(scope: Scope, trusted_proxies: list[str]) -> str:
    """The client's address; X-Forwarded-For only counts when the peer is a trusted proxy."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if trusted_proxies and peer in trusted_proxies:
        forwarded = _header(scope, b"x-forwarded-for")
        if forwarded:
            candidate = forwarded.split(",")[0].strip()
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
    return peer


def user_agent(scope: Scope) -> str | None:
    ua = _header(scope, b"user-agent")
    return ua[:255] if ua else None


def set_principal(scope: Scope, principal: Principal | None) -> None:
    _state(scope)["principal"] = principal


def get_principal(scope: Scope) -> Principal | None:
    return _state(scope).get("principal")


def set_audit_org(scope: Scope, organization_id: str, user_id: str | None = None) -> None:
    """For requests made before the caller is known (register, login): whose log it is."""
    _state(scope)["audit_org"] = (organization_id, user_id)


def get_audit_org(scope: Scope) -> tuple[str, str | None] | None:
    return _state(scope).get("audit_org")
