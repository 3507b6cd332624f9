from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody, QueryParameter

from wacc.ai import guardrails, services
from wacc.ai.schemas import (
    AiProviderCreate,
    AiProviderOut,
    AiProviderUpdate,
    AiSettingsOut,
    AiSettingsPatch,
    AiTestIn,
    AiTestOut,
    ProviderId,
    UsageOut,
)
from wacc.http.deps import PrincipalDep, RuntimeDep


class AiConfigController(Controller):
    path = "/ai"
    tags = ["AI"]
    opt = {"resource": "ai_provider"}

    @get("/providers", opt={"permission": "read:ai"})
    async def list_ai_providers(self, principal: PrincipalDep, rt: RuntimeDep) -> list[AiProviderOut]:
        """The organization's providers in the order they are tried (lowest priority
        first). API keys are write-only: ``hasApiKey`` and at most the last 4 characters."""
        return await services.list_providers(rt, principal)

    @post("/providers", opt={"permission": "write:ai"}, status_code=201)
    async def create_ai_provider(self, principal: PrincipalDep, rt: RuntimeDep,
                                 data: JSONBody[AiProviderCreate]) -> AiProviderOut:
        """Add a provider; ``provider`` is an installed type (openai, anthropic, gemini,
        custom, or a plugin's). Without ``priority`` it is tried after the others."""
        return await services.create_provider(rt, principal, data)

    @patch("/providers/{providerId:str}", opt={"permission": "write:ai"})
    async def update_ai_provider(self, principal: PrincipalDep, rt: RuntimeDep, provider_id: ProviderId,
                                 data: JSONBody[AiProviderUpdate]) -> AiProviderOut:
        """Change a provider; ``priority`` reorders, ``apiKey: ""`` removes the key."""
        return await services.update_provider(rt, principal,
                                              provider_id, data)

    @delete("/providers/{providerId:str}", opt={"permission": "write:ai"}, status_code=204)
    async def delete_ai_provider(self, principal: PrincipalDep, provider_id: ProviderId) -> None:
        await services.delete_provider(principal, provider_id)

    @post("/test", opt={"permission": "write:ai", "audit": "ai_provider.test"}, status_code=200)
    async def test_ai_provider(self, principal: PrincipalDep, rt: RuntimeDep,
                               data: JSONBody[AiTestIn]) -> AiTestOut:
        """Try a stored provider (``providerId``) or an unsaved one (``provider``). A
        provider that fails (wrong key, timeout, garbage) is a test result: 200 with
        ``ok: false`` and the error ``kind``; a request that cannot be tested is a 400."""
        return await services.test_provider(rt, principal, data)

    @get("/settings", opt={"permission": "read:ai"})
    async def get_ai_settings(self, principal: PrincipalDep) -> AiSettingsOut:
        return await services.settings_out(principal.organization_id)

    @patch("/settings", opt={"permission": "write:ai", "resource": "ai_settings"})
    async def update_ai_settings(self, principal: PrincipalDep,
                                 data: JSONBody[AiSettingsPatch]) -> AiSettingsOut:
        """Change the guardrails it names: ``requestsPerMinute``, ``dailySpendCapUsd``,
        ``prices`` (USD per million tokens by model), ``timeoutFallbackMessage``,
        ``contextTokenBudget``, ``cacheTtlSeconds``, ``systemPrompt`` (a template)."""
        await services.update_settings(principal, data)
        return await services.settings_out(principal.organization_id)

    @get("/usage", opt={"permission": "read:ai"})
    async def get_ai_usage(
        self, principal: PrincipalDep,
        since: Annotated[date | None, QueryParameter(name="from")] = None,
        until: Annotated[date | None, QueryParameter(name="to")] = None,
    ) -> UsageOut:
        """Calls, tokens, cost, failovers and cache hits per UTC day, provider and model
        (``from``/``to`` inclusive, default the last 30 days, at most 366)."""
        return await guardrails.usage_summary(principal.organization_id, since, until)
