from __future__ import annotations

from litestar import Controller, Response, get
from litestar.openapi import ResponseSpec

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
