"""Who is looking at a page: the session cookie turned into the layout's context, the
sign-in redirect, and error pages that speak words instead of JSON."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect

from wacc.auth import websession
from wacc.http.context import get_principal
from wacc.http.deps import runtime_of
from wacc.http.errors import on_http_exception, on_wacc_error
from wacc.lib.errors import AuthenticationError, AuthorizationError, WaccError
from wacc.orgs import services as orgs
from wacc.ui.render import PageContext, page
from wacc.users import services as users


class SignInRequired(WaccError):
    status = 401
    code = "AUTHENTICATION_ERROR"


async def load_context(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard for every UI route: fill the layout's context; pages not marked public need
    a signed-in user, and a page with opt["permission"] needs that permission."""
    principal = get_principal(connection.scope)
    handler_opt = connection.route_handler.opt
    if principal is None or principal.user_id is None:
        if not handler_opt.get("public"):
            raise SignInRequired("Sign in to continue")
        return
    permission = handler_opt.get("permission")
    if permission and not principal.can(permission):
        raise AuthorizationError(f"Your role cannot open this page (it needs {permission})")
    rt = connection.app.state["runtime"]
    connection.scope.setdefault("state", {})["ui"] = PageContext(  # type: ignore[typeddict-item]
        principal=principal,
        user=await users.get_by_id(principal.user_id),
        organization=await orgs.get_by_id(principal.organization_id),
        csrf=websession.csrf_token(rt, principal.token_family or ""),
        permissions=principal.permissions,
    )


def wants_html(request: Request) -> bool:
    """A browser navigating asks for text/html and gets pages, also for errors; our
    script's fetch() calls, htmx swaps and API clients get the JSON error format."""
    return "text/html" in request.headers.get("accept", "")


def set_session(request: Request, response: Response[Any], access_token: str) -> None:
    rt = runtime_of(request)
    response.set_cookie(
        websession.COOKIE, websession.start(rt, access_token), max_age=websession.max_age(rt),
        path="/", httponly=True, samesite="lax", secure=_secure(request),
    )


def clear_session(request: Request, response: Response[Any]) -> None:
    response.delete_cookie(websession.COOKIE, path="/")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or runtime_of(request).settings.security.hsts


def to_sign_in(request: Request, expired: bool) -> Response[Any]:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    where = f"/login?next={quote(target, safe='')}" + ("&expired=1" if expired else "")
    if request.headers.get("hx-request"):
        response: Response[Any] = Response(content="", status_code=200,
                                           headers={"HX-Redirect": where})
    else:
        response = Redirect(path=where)
    if expired:
        clear_session(request, response)
    return response


def on_ui_error(request: Request, exc: WaccError) -> Response[Any]:
    """Signed-out and expired sessions go to the sign-in page; other errors of a page
    render the error page; fetch() calls keep the JSON error format."""
    signed_out = isinstance(exc, AuthenticationError | SignInRequired)
    if signed_out and (wants_html(request) or request.headers.get("hx-request")):
        return to_sign_in(request, expired=isinstance(exc, AuthenticationError))
    if not wants_html(request):
        return on_wacc_error(request, exc)
    return page(request, "error.html", status_code=exc.status, status=exc.status,
                message=exc.message)


def on_ui_http_error(request: Request, exc: HTTPException) -> Response[Any]:
    """Unknown page, wrong method: the error page in words (JSON for our script)."""
    if request.url.path.startswith("/api/") or not wants_html(request):
        return on_http_exception(request, exc)
    message = "This page does not exist." if exc.status_code == 404 else str(exc.detail)
    return page(request, "error.html", status_code=exc.status_code, status=exc.status_code,
                message=message)
