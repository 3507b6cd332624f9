"""What services need from the outside world, built once by a composition root.

The runtime holds infrastructure only: settings, keyring, limiter, mailer, bus, media
store, jobs, and the plugins. What a feature keeps for the whole process (the AI
router, presence, the session RPC client) the feature registers itself, through its
plugin's ``wacc_runtime_parts`` hook, and reads back through a typed accessor of its
own (``wacc.ai.providers.router.router_of(rt)``): the layer every feature is handed depends on
no feature."""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from wacc.bus import Bus, make_bus
from wacc.config import Settings
from wacc.engines.contract import EngineFactory
from wacc.logs import get_logger
from wacc.mail import Mailer
from wacc.queue import make_huey
from wacc.queue.jobs import Jobs
from wacc.security.crypto import Keyring
from wacc.security.limits import Limiter, make_limiter
from wacc.storage import MediaStore, make_media_store

log = get_logger(__name__)

T = TypeVar("T")


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
    jobs: Jobs
    engines: dict[str, EngineFactory] = field(default_factory=dict)
    plugins: Any = None
    # What the features registered (wacc_runtime_parts), by key: one per process.
    parts: dict[str, object] = field(default_factory=dict)

    def part(self, key: str, kind: type[T]) -> T:
        """The object a feature registered under *key*; a *kind* or a LookupError (a
        runtime built without plugins, as the command line's, has no parts)."""
        found = self.parts.get(key)
        if not isinstance(found, kind):
            raise LookupError(f"no {kind.__name__} registered as {key!r} in this process "
                              "(its feature's plugin is not loaded)")
        return found

    async def close_parts(self) -> None:
        """At shutdown: close what the features registered (each part that has an
        ``aclose()``), the last registered first."""
        for part in reversed(list(self.parts.values())):
            close = getattr(part, "aclose", None)
            if close is not None:
                await close()

    def _register_parts(self) -> None:
        for offered in self.plugins.call("wacc_runtime_parts", runtime=self):
            for key, part in offered.items():
                if key in self.parts:  # wacc's own plugins load first: theirs is kept
                    log.warning("runtime part offered twice; the first is kept", part=key,
                                ignored=type(part).__name__)
                    continue
                self.parts[key] = part

    @classmethod
    def build(cls, settings: Settings, keyring: Keyring, plugins: Any = None,
              run: Any = None) -> Runtime:
        """Everything services need; with *plugins*, the features' parts, engines and
        jobs are known (jobs are registered in every process so any process can enqueue
        them; only the worker passes *run*, which executes their async work)."""
        runtime = cls(
            settings=settings, keyring=keyring, limiter=make_limiter(settings),
            mailer=Mailer(settings.smtp), bus=make_bus(settings), media=make_media_store(settings),
            jobs=Jobs(make_huey(settings)),
        )
        if plugins is not None:
            runtime.plugins = plugins
            runtime._register_parts()
            for engines in plugins.call("wacc_engines"):
                runtime.engines.update(engines)
            plugins.call("wacc_tasks", jobs=runtime.jobs, run=run or _not_here, runtime=runtime)
        return runtime
