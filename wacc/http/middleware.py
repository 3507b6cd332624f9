"""The request pipeline shared by every route: context → authentication → rate limit →
audit → handler. Collaborators (how to authenticate, where to write audit rows) are
put on ``app.state`` by the composition root, so this layer imports no feature."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import structlog
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from wacc.http.context import (
    client_ip,
    get_audit_org,
    get_principal,
    request_id,
    set_principal,
    user_agent,
)
from wacc.lib.errors import AuthenticationError, AuthorizationError, RateLimitError
from wacc.logs import get_logger
from wacc.security.principal import Principal

log = get_logger("wacc.http")

# Named here rather than imported from wacc.auth: this layer imports no feature.
SESSION_COOKIE = "wacc_session"

Authenticator = Callable[[str, str], Awaitable[Principal]]


@dataclass
class AuditEntry:
    organization_id: str
    action: str
    resource: str
    resource_id: str | None
    user_id: str | None
    api_key_id: str | None
    ip_address: str | None
    user_agent: str | None
    request_id: str
    status_code: int
    metadata: dict[str, Any] = field(default_factory=dict)


AuditWriter = Callable[[AuditEntry], Awaitable[None]]


_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


class RequestContextMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP, ScopeType.WEBSOCKET)

    def __init__(self) -> None:
        self.base_url_checked = False

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        structlog.contextvars.unbind_contextvars("request_id", "principal")
        request_id(scope)
        if not self.base_url_checked:
            self._check_base_url(scope)
        await next_app(scope, receive, send)

    def _check_base_url(self, scope: Scope) -> None:
        """Once per process: with WACC_BASE_URL unset, links are made for the listen
        address; if people reach wacc under another name, say so (issue 16)."""
        settings = scope["app"].state["runtime"].settings
        if settings.core.base_url:
            self.base_url_checked = True
            return
        host = dict(scope.get("headers") or ()).get(b"host", b"").decode("latin-1")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if not name or name in _LOOPBACK_HOSTS:
            return  # this machine's own requests say nothing yet
        self.base_url_checked = True
        log.warning("WACC_BASE_URL is not set, so the links wacc gives out (invites, password "
                    "resets, webhook URLs) point at the listen address, which people reaching "
                    "this wacc as the host named here cannot open; set WACC_BASE_URL",
                    links_to=settings.public_url, requested_host=host)


class AuthenticationMiddleware(ASGIMiddleware):
    """Turns credentials into a Principal. Missing credentials leave it empty (the
    guard decides); wrong credentials are a 401 even on public routes."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        state = scope["app"].state
        authenticate: Authenticator = state["authenticate"]
        scheme, credential = _credentials(scope)
        principal = None
        if credential:
            principal = await authenticate(scheme, credential)
            if scheme == "cookie" and scope.get("method", "GET") not in _SAFE_METHODS:
                presented = _header_value(scope, b"x-csrf-token")
                if not state["csrf_ok"](principal.token_family, presented):
                    raise AuthorizationError(
                        "The form's security token is missing or out of date; reload the "
                        "page and try again", [{"field": "X-CSRF-Token", "message": "missing or wrong"}],
                    )
            structlog.contextvars.bind_contextvars(
                principal=principal.rate_key, org=principal.organization_id
            )
        set_principal(scope, principal)
        await next_app(scope, receive, send)


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _header_value(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def session_cookie(scope: Scope) -> str | None:
    """The web UI's session cookie (see wacc/auth/websession.py), if the browser sent one."""
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                name, _, cookie = part.strip().partition("=")
                if name == SESSION_COOKIE and cookie:
                    return cookie
    return None


def _credentials(scope: Scope) -> tuple[str, str]:
    """Explicit credentials win; the session cookie counts only when there are none."""
    auth = api_key = None
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            auth = value.decode("latin-1")
        elif key == b"x-api-key":
            api_key = value.decode("latin-1").strip()
    if api_key:
        return "api-key", api_key
    if auth:
        kind, _, cred = auth.partition(" ")
        if kind.lower() != "bearer" or not cred.strip():
            raise AuthenticationError("Use 'Authorization: Bearer <token>' or X-API-Key")
        return "bearer", cred.strip()
    cookie = session_cookie(scope)
    if cookie:
        return "cookie", cookie
    return "", ""


class RateLimitMiddleware(ASGIMiddleware):
    """Requests per minute per user, API key or anonymous IP (seed 6.3)."""

    scopes = (ScopeType.HTTP,)
    exclude_opt_key = "no_rate_limit"

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        state = scope["app"].state
        principal = get_principal(scope)
        key = principal.rate_key if principal else f"ip:{client_ip(scope, state['trusted_proxies'])}"
        try:
            verdict = await state["limiter"].hit(state["api_rate"], "api", key)
        except Exception:  # Redis down: degrade to no limit rather than refuse all
            log.warning("rate limiter unavailable; request allowed", exc_info=True)
            await next_app(scope, receive, send)
            return
        if not verdict.allowed:
            raise RateLimitError(
                f"Rate limit of {verdict.limit} requests per minute exceeded",
                verdict.retry_after,
            )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-ratelimit-limit", str(verdict.limit).encode()))
                headers.append((b"x-ratelimit-remaining", str(verdict.remaining).encode()))
                message["headers"] = headers
            await send(message)

        await next_app(scope, receive, send_with_headers)


_VERBS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}


def audit_action(opt: dict[str, Any], resource: str, method: str, path_template: str) -> str:
    """What an audit row says happened: the handler's ``audit`` name when it gives one;
    else a POST to an action on one item (``/conversations/{id}/read``) is named by that
    action (``conversation.read``), and the other writes by their method on the resource
    (``contact.create``, ``tag.update``, ``tag.delete``). A POST that adds to a list of
    an item (``/{id}/notes``) or acts on a whole resource (``/ai/test``) cannot be named
    from its path: it names itself with ``audit``, or it would read as the action
    ``notes``."""
    if opt.get("audit"):
        return str(opt["audit"])
    parts = [p for p in path_template.split("/") if p]
    if method == "POST" and len(parts) >= 2 and parts[-2].startswith("{") \
            and not parts[-1].startswith("{"):
        return f"{resource}.{parts[-1].replace('-', '_')}"
    return f"{resource}.{_VERBS[method]}"
_MAX_CAPTURE = 65_536


class AuditMiddleware(ASGIMiddleware):
    """Every mutating request leaves an ActivityLog row: who, what, which, from where."""

    scopes = (ScopeType.HTTP,)
    exclude_opt_key = "no_audit"

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        method = scope.get("method", "GET")
        if method not in _VERBS:
            await next_app(scope, receive, send)
            return
        status = 500
        body = bytearray()
        last: Message | None = None

        async def capture(message: Message) -> None:
            nonlocal status, last
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                if len(body) < _MAX_CAPTURE:
                    body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    # Hold the end of the response until the audit row is written, so
                    # a client that reads the log right after sees its own change.
                    last = message
                    return
            await send(message)

        try:
            await next_app(scope, receive, capture)
        except Exception as exc:
            status = getattr(exc, "status", getattr(exc, "status_code", 500))
            await self._record(scope, method, status, b"")
            raise
        await self._record(scope, method, status, bytes(body))
        if last is not None:
            await send(last)

    async def _record(self, scope: Scope, method: str, status: int, body: bytes) -> None:
        if status == 429:
            return  # a flood of refused requests must not become a flood of rows
        principal = get_principal(scope)
        org_user = get_audit_org(scope)
        if principal is not None:
            org_id, user_id = principal.organization_id, principal.user_id
        elif org_user is not None:
            org_id, user_id = org_user
        else:
            return  # nobody known to attribute it to (e.g. a login for an unknown e-mail)
        handler = scope["route_handler"]
        resource = handler.opt.get("resource") or handler.handler_name
        action = audit_action(handler.opt, resource, method,
                              scope.get("path_template") or scope.get("path", ""))
        state = scope["app"].state
        entry = AuditEntry(
            organization_id=org_id,
            action=action,
            resource=resource,
            resource_id=_resource_id(scope, body, status),
            user_id=user_id,
            api_key_id=principal.api_key_id if principal else None,
            ip_address=client_ip(scope, state["trusted_proxies"]),
            user_agent=user_agent(scope),
            request_id=request_id(scope),
            status_code=status,
            metadata={"method": method, "path": scope.get("path", "")},
        )
        try:
            writer: AuditWriter = state["audit"]
            await writer(entry)
        except Exception:
            log.exception("audit row not written", action=action)


def _resource_id(scope: Scope, body: bytes, status: int) -> str | None:
    if status in (200, 201) and body[:1] == b"{":
        with contextlib.suppress(msgspec.DecodeError, TypeError):
            value = msgspec.json.decode(body)
            if isinstance(value, dict) and isinstance(value.get("id"), str):
                return value["id"]
    params = scope.get("path_params") or {}
    ids = [str(v) for k, v in params.items() if k == "id" or k.endswith("Id")]
    return ids[-1] if ids else None


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        b"script-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; "
        b"base-uri 'self'; form-action 'self'",
    ),
]


# The API docs page starts Swagger UI with an inline script (Litestar renders it).
_DOCS_CSP = (
    b"content-security-policy",
    b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    b"script-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
)


def make_before_send(hsts: bool) -> Callable[[Message, Scope], Awaitable[None]]:
    extra = [(b"strict-transport-security", b"max-age=31536000; includeSubDomains")] if hsts else []
    docs_headers = [_DOCS_CSP if h[0] == b"content-security-policy" else h for h in SECURITY_HEADERS]

    async def before_send(message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {k.lower() for k, _ in headers}
            headers.append((b"x-request-id", request_id(scope).encode()))
            base = docs_headers if scope.get("path", "").startswith("/api/docs") else SECURITY_HEADERS
            headers.extend(h for h in [*base, *extra] if h[0] not in present)
            message["headers"] = headers

    return before_send


def make_options_allow(app: Litestar) -> Callable[[Message, Scope], Awaitable[None]]:
    """Answer OPTIONS with every method of the path.

    When several controllers serve one path (``GET /tags`` and ``POST /tags`` come from
    the same controller, but ``/contacts/{id}`` gathers handlers registered apart),
    Litestar rebuilds the route and keeps the OPTIONS handler made for the first part:
    its ``Allow`` named only that part's methods. The 405 answer was already right.
    """
    allow = {route.path_format: ", ".join(sorted(route.methods))
             for route in app.routes if isinstance(route, HTTPRoute)}

    async def before_send(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
            return
        methods = allow.get(scope.get("path_template", ""))  # type: ignore[call-overload]
        headers = list(message.get("headers", []))
        if methods and any(k.lower() == b"allow" for k, _ in headers):
            kept = [(k, v) for k, v in headers if k.lower() != b"allow"]
            message["headers"] = [*kept, (b"allow", methods.encode())]

    return before_send
