"""Values controllers receive: the caller and the runtime, read from the request."""

from __future__ import annotations

from litestar import Request

from wacc.http.context import client_ip, get_principal, user_agent
from wacc.lib.errors import AuthenticationError
from wacc.runtime import Runtime
from wacc.security.principal import Principal


def principal_of(request: Request) -> Principal:
    principal = get_principal(request.scope)
    if principal is None:  # the guard already refused; this keeps types honest
        raise AuthenticationError("Authentication required")
    return principal


def runtime_of(request: Request) -> Runtime:
    return request.app.state["runtime"]


def client_of(request: Request) -> tuple[str, str | None]:
    rt = runtime_of(request)
    return client_ip(request.scope, rt.settings.security.trusted_proxies), user_agent(request.scope)
