"""Route guards: one permission per endpoint, checked for users and API keys alike."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from wacc.http.context import get_principal
from wacc.lib.errors import AuthenticationError, AuthorizationError, UnsupportedMediaTypeError
from wacc.security.roles import PERMISSIONS


def require_permission(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Guard applied to every route: reads the route's ``permission`` opt.

    A route is either ``public=True`` (no caller needed) or names a permission;
    a route that does neither is refused, so a forgotten declaration fails closed.
    """
    opt = handler.opt
    # OPTIONS is answered by Litestar itself (allowed methods, CORS preflight): no data.
    if opt.get("public") or connection.scope.get("method") == "OPTIONS":
        return
    principal = get_principal(connection.scope)
    if principal is None:
        raise AuthenticationError("Authentication required")
    permission = opt.get("permission")
    if permission == "authenticated":
        return
    if permission not in PERMISSIONS:
        raise AuthorizationError("This endpoint declares no permission")
    if not principal.can(permission):
        raise AuthorizationError(
            f"Missing permission {permission}",
            [{"field": "permission", "message": f"requires {permission}"}],
        )


def json_body_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Guard for the sign-in posts that set the session cookie: a body that is not
    declared ``application/json`` is refused before it is read. A cross-site HTML form
    can send only text/plain, url-encoded or multipart bodies without a CORS preflight,
    so without this check it could post JSON as text/plain and sign a victim's browser
    into the attacker's account (login CSRF, issue 14)."""
    content_type = connection.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaTypeError(
            "Send this form as application/json",
            [{"field": "Content-Type", "message": "must be application/json"}],
        )
