"""Values controllers receive: the caller and the runtime, read from the request.

Handlers declare ``principal: PrincipalDep`` and ``rt: RuntimeDep`` and Litestar hands
them in (:data:`DEPENDENCIES`, registered on the app). A dependency is only resolved for
a handler that declares it, so public routes that do not ask for ``principal`` never need
one; dependencies are not request parameters, so the OpenAPI document does not list them.
``principal_of`` and ``runtime_of`` remain for code that holds the request itself
(middleware, exception handlers, cookie helpers).
"""

from __future__ import annotations

from litestar import Request
from litestar.di import NamedDependency, Provide

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


async def provide_principal(request: Request) -> Principal:
    return principal_of(request)


async def provide_runtime(request: Request) -> Runtime:
    # Read per request, not captured when the app is made: tests swap the runtime.
    return runtime_of(request)


# What a handler writes: the type, marked as a dependency found by the parameter's name.
PrincipalDep = NamedDependency[Principal]
RuntimeDep = NamedDependency[Runtime]

DEPENDENCIES = {
    "principal": Provide(provide_principal),
    "rt": Provide(provide_runtime),
}
