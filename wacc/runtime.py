"""What services need from the outside world, built once by a composition root."""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from wacc.ai.providers.registry import provider_factories
from wacc.ai.providers.router import AiRouter
from wacc.bus import Bus, make_bus
from wacc.config import Settings
from wacc.engines.contract import EngineFactory
from wacc.mail import Mailer
from wacc.queue import make_huey
from wacc.queue.jobs import Jobs
from wacc.realtime.presence import Presence, make_presence
from wacc.security.crypto import Keyring
from wacc.security.limits import Limiter, make_limiter
from wacc.sessions.rpc import SessionRpc
from wacc.storage import MediaStore, make_media_store


def _not_here(coro: Coroutine[Any, Any, Any]) -> Any:
    coro.close()
    raise RuntimeError("jobs run in the worker role, not in this process")


@dataclass
class Runtime:
    settings: Settings
    keyring: Keyring
    limiter: Limiter
    mailer: Mailer
    bus: Bus
    media: MediaStore
    rpc: SessionRpc
    jobs: Jobs
    presence: Presence
    engines: dict[str, EngineFactory] = field(default_factory=dict)
    plugins: Any = None
    # One per process: its circuit breakers and SDK clients are the point (docs/ai.md).
    ai_router: AiRouter = field(default_factory=lambda: AiRouter({}))
    ai_cache: Any = None  # wacc.ai.guardrails.AnswerCache

    async def close_ai(self) -> None:
        await self.ai_router.aclose()
        if self.ai_cache is not None:
            await self.ai_cache.aclose()

    @classmethod
    def build(cls, settings: Settings, keyring: Keyring, plugins: Any = None,
              run: Any = None) -> Runtime:
        """Everything services need; with *plugins*, their engines and jobs are known
        (jobs are registered in every process so any process can enqueue them; only the
        worker passes *run*, which executes their async work)."""
        runtime = cls(
            settings=settings, keyring=keyring, limiter=make_limiter(settings),
            mailer=Mailer(settings.smtp), bus=make_bus(settings), media=make_media_store(settings),
            rpc=SessionRpc(keyring), jobs=Jobs(make_huey(settings)),
            presence=make_presence(settings),
        )
        from wacc.ai.guardrails import AnswerCache  # imports tables: not at module load

        runtime.ai_cache = AnswerCache(settings.redis.url)
        if plugins is not None:
            runtime.plugins = plugins
            runtime.ai_router = AiRouter(provider_factories(plugins))
            for engines in plugins.call("wacc_engines"):
                runtime.engines.update(engines)
            plugins.call("wacc_tasks", jobs=runtime.jobs, run=run or _not_here, runtime=runtime)
        return runtime
