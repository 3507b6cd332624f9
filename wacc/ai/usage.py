"""One AiUsage row per AI call, refusals included: what it cost and why it ended as it did.
Its own module so that replies (answers) and services (provider tests) both record usage
without importing each other."""

from __future__ import annotations

import msgspec

from wacc.ai.contract import Completion, ProviderConfig
from wacc.ai.providers.router import Attempt
from wacc.ai.tables import AiUsage
from wacc.lib.ids import new_id


async def record_usage(organization_id: str, conversation_id: str | None, purpose: str, outcome: str, *,
                       completion: Completion | None = None, config: ProviderConfig | None = None,
                       attempts: list[Attempt] | None = None, cost: int = 0, latency_ms: int = 0,
                       cached: bool = False) -> str:
    usage_id = new_id()
    attempts = attempts or []
    await AiUsage.insert(AiUsage(
        id=usage_id, organization=organization_id, conversation=conversation_id, purpose=purpose,
        provider_name=(completion.provider if completion else attempts[-1].provider if attempts else ""),
        provider_type=(config.type if config else attempts[-1].type if attempts else ""),
        model=(completion.model if completion else attempts[-1].model if attempts else ""),
        prompt_tokens=completion.prompt_tokens if completion else 0,
        completion_tokens=completion.completion_tokens if completion else 0,
        cost_micros=cost, latency_ms=latency_ms, outcome=outcome, failed_over=len(attempts) > 1,
        cached=cached, attempts=msgspec.to_builtins(attempts)))
    return usage_id
