"""The AI configuration feature's hooks: providers, settings, tests and usage (API)."""

from __future__ import annotations

from typing import Any

from wacc.ai.guardrails import ANSWER_CACHE, AnswerCache
from wacc.ai.providers.registry import provider_factories
from wacc.ai.providers.router import ROUTER, AiRouter
from wacc.plugins.spec import hookimpl
from wacc.runtime import Runtime


@hookimpl
def wacc_runtime_parts(runtime: Runtime) -> dict[str, Any]:
    # One router per process: its circuit breakers and SDK clients are the point
    # (docs/ai.md). The answer cache is Redis when configured, else this process's memory.
    return {ROUTER: AiRouter(provider_factories(runtime.plugins)),
            ANSWER_CACHE: AnswerCache(runtime.settings.redis.url)}


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load it.
    from wacc.ai.controllers import AiConfigController

    return [AiConfigController]
