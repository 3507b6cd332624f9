"""The web application's composition root: settings in, Litestar app out.

Every controller comes from a plugin (wacc's own features register through the same
hook as third-party plugins), except health, which sits outside /api/v1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router

from wacc import __version__
from wacc.assets import static_dir, vendor_dir
from wacc.audit import services as audit
from wacc.auth import services as auth
from wacc.auth import websession
from wacc.config import Settings
from wacc.db.engine import bind, close_engine, make_engine, open_engine
from wacc.features import make_plugin_manager
from wacc.http.cleaning import TextCleaningMiddleware
from wacc.http.deps import DEPENDENCIES
from wacc.http.errors import EXCEPTION_HANDLERS
from wacc.http.guards import require_permission
from wacc.http.middleware import (
    AuditMiddleware,
    AuthenticationMiddleware,
    RateLimitMiddleware,
    RequestContextMiddleware,
    make_before_send,
    make_options_allow,
)
from wacc.http.openapi import JsonDocument, SwaggerDocument
from wacc.lib.errors import WaccError
from wacc.outbox import Dispatcher
from wacc.plugins.manager import PluginManager
from wacc.runtime import Runtime
from wacc.schema import ALL_TABLES
from wacc.security.crypto import Keyring, load_keyring
from wacc.security.limits import per_minute
from wacc.system.controllers import HealthController, MetricsController
from wacc.ui import session as ui_session
from wacc.ui.render import template_config

API_PREFIX = "/api/v1"


def _openapi() -> OpenAPIConfig:
    vendor = "/static/vendor/swagger-ui-dist"
    return OpenAPIConfig(
        title="wacc API",
        version=__version__,
        description="WhatsApp Command Center. Authenticate with `Authorization: Bearer "
        "<access token>` (from /api/v1/auth/login) or `X-API-Key: <key>`.",
        path="/api/docs",
        render_plugins=[
            SwaggerDocument(
                js_url=f"{vendor}/swagger-ui-bundle.js",
                css_url=f"{vendor}/swagger-ui.css",
                standalone_preset_js_url=f"{vendor}/swagger-ui-standalone-preset.js",
                favicon="<link rel='icon' type='image/svg+xml' href='/static/favicon.svg'>",
                path="/",
            ),
            JsonDocument(),
        ],
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
                "apiKey": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header"),
            }
        ),
        security=[{"bearer": []}, {"apiKey": []}],
    )


def create_app(
    settings: Settings,
    *,
    keyring: Keyring | None = None,
    plugins: PluginManager | None = None,
) -> Litestar:
    keyring = keyring or load_keyring(settings)
    plugins = plugins or make_plugin_manager(settings)
    runtime = Runtime.build(settings, keyring, plugins)
    engine = make_engine(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Bound at startup, not when the app object is made, so building an app (docs,
        # introspection) never repoints a running process's tables.
        bind(engine, ALL_TABLES)
        await open_engine(engine, settings)
        # Moves the jobs this process records (sends, events) to the queue.
        dispatcher = app.state["outbox"] = Dispatcher(runtime.jobs)
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()
            await runtime.bus.close()
            await runtime.close_parts()  # presence, the session RPC client, the AI router…
            await close_engine(engine)

    api = Router(
        path=API_PREFIX,
        route_handlers=plugins.collect("wacc_controllers"),
        middleware=[AuthenticationMiddleware(), RateLimitMiddleware(), AuditMiddleware()],
        guards=[require_permission],
    )
    # The web UI: same authentication (the session cookie, with its CSRF check) and audit
    # trail as the API; a guard fills each page's layout context or sends to sign-in.
    pages = Router(
        path="/",
        route_handlers=plugins.collect("wacc_pages"),
        middleware=[AuthenticationMiddleware(), AuditMiddleware()],
        guards=[ui_session.load_context],
        exception_handlers={WaccError: ui_session.on_ui_error},
    )
    state: dict[str, Any] = {
        "runtime": runtime,
        "settings": settings,
        "plugins": plugins,
        "limiter": runtime.limiter,
        "api_rate": per_minute(settings.security.rate_limit_per_minute),
        "trusted_proxies": settings.security.trusted_proxies,
        "authenticate": partial(auth.authenticate, runtime),
        "csrf_ok": partial(websession.csrf_ok, runtime),
        "audit": audit.record,
    }
    cors = (
        CORSConfig(allow_origins=settings.security.cors_origins, allow_credentials=True,
                   allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
                   expose_headers=["X-Request-ID", "Retry-After"])
        if settings.security.cors_origins else None
    )
    app = Litestar(
        route_handlers=[
            HealthController,
            MetricsController,
            api,
            pages,
            create_static_files_router(path="/static/vendor", directories=[vendor_dir()],
                                       opt={"no_audit": True}, include_in_schema=False),
            create_static_files_router(path="/static", directories=[static_dir()],
                                       include_in_schema=False),
        ],
        # `principal` and `rt`, for every handler that declares them (wacc/http/deps.py).
        dependencies=DEPENDENCIES,
        middleware=[RequestContextMiddleware(),
                    TextCleaningMiddleware(settings.security.max_body_bytes)],
        exception_handlers={**EXCEPTION_HANDLERS, HTTPException: ui_session.on_ui_http_error},
        template_config=template_config(),
        before_send=[make_before_send(settings.security.hsts)],
        openapi_config=_openapi(),
        cors_config=cors,
        lifespan=[lifespan],
        state=State(state),
        request_max_body_size=settings.security.max_body_bytes,
        debug=False,
        # wacc.logs configures logging; Litestar's default config would replace it.
        logging_config=None,
    )
    app.before_send.append(make_options_allow(app))
    return app
