from __future__ import annotations

import hmac

from litestar import Controller, MediaType, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.openapi import ResponseSpec
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from wacc import __version__, outbox
from wacc.http.deps import RuntimeDep
from wacc.system import services
from wacc.system.schemas import Check, Health, Readiness


class HealthController(Controller):
    path = "/health"
    tags = ["Health"]
    opt = {"public": True, "no_rate_limit": True}

    @get("/")
    async def health(self) -> Health:
        """Alive: the web process answers. Touches nothing else."""
        return Health(status="ok", version=__version__)

    @get("/ready", responses={503: ResponseSpec(
        Readiness, description="Not ready: the failing checks", generate_examples=False)})
    async def ready(self, rt: RuntimeDep) -> Response[Readiness]:
        """Ready: the database answers, Redis answers (when configured), and a worker
        has reported in recently. 503 with the failing checks otherwise."""
        checks: dict[str, Check] = {}
        db_error = await services.check_database()
        checks["database"] = Check(ok=db_error is None, detail=db_error)
        if rt.settings.redis.url:
            redis_error = await services.check_redis(rt.settings.redis.url)
            checks["redis"] = Check(ok=redis_error is None, detail=redis_error)
        if db_error is None:
            # Work recorded but not yet on the queue (the outbox): it grows while Redis
            # is away and drains when it answers. Delayed, never lost: not a failure.
            waiting, oldest = await outbox.backlog()
            checks["outbox"] = Check(ok=True, detail=f"{waiting} waiting" + (
                f", oldest {oldest:.0f}s" if waiting else ""))
            window = rt.settings.worker.heartbeat_seconds * 3
            workers = await services.alive("worker", window)
            checks["worker"] = Check(
                ok=bool(workers),
                detail=f"{len(workers)} alive" if workers else f"no heartbeat in {window}s",
            )
        ok = all(c.ok for c in checks.values())
        return Response(
            Readiness(status="ok" if ok else "unavailable", checks=checks),
            status_code=200 if ok else 503,
        )


class MetricsController(Controller):
    """GET /metrics in Prometheus' text format, for the operator's scraper (with the
    bearer token WACC_METRICS_TOKEN; without one configured the route does not exist).
    The figures are this web process's view: whether each part that leans on Redis is
    running on its in-process fallback, and the outbox backlog (work waiting for the
    queue). Aggregates only: nothing about any organization."""

    path = "/metrics"
    opt = {"public": True, "no_rate_limit": True}
    include_in_schema = False

    @get("/", media_type=MediaType.TEXT)
    async def metrics(self, request: Request, rt: RuntimeDep) -> Response[bytes]:
        token = rt.settings.security.metrics_token
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not token or not hmac.compare_digest(given.encode(), token.encode()):
            raise NotFoundException()  # a scraper without the token sees no such page
        registry = CollectorRegistry()
        away = Gauge("wacc_redis_fallback", "1 while a part runs on its in-process fallback "
                     "because Redis does not answer", ["part"], registry=registry)
        dispatcher = request.app.state.get("outbox")
        for part, flag in (("rate_limits", getattr(rt.limiter, "away", False)),
                           ("realtime", getattr(rt.bus, "away", False)),
                           # A feature's own part (wacc_runtime_parts) read by key, not
                           # imported: realtime builds on system.
                           ("presence", getattr(rt.parts.get("realtime.presence"), "away", False)),
                           ("job_queue", bool(dispatcher and dispatcher.outage))):
            away.labels(part).set(1 if flag else 0)
        waiting, oldest = await outbox.backlog()
        Gauge("wacc_outbox_waiting", "Jobs recorded and not yet on the queue",
              registry=registry).set(waiting)
        Gauge("wacc_outbox_oldest_seconds", "Age of the oldest job waiting for the queue",
              registry=registry).set(oldest)
        Gauge("wacc_outbox_dispatched", "Jobs this process handed to the queue since it "
              "started", registry=registry).set(dispatcher.dispatched if dispatcher else 0)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
