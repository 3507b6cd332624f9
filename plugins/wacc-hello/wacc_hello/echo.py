"""An AI provider that answers without any model: it repeats the customer's last
message. The template for a real provider: build from ProviderConfig, answer with a
Completion that carries usage, raise wacc.ai.contract errors."""

from __future__ import annotations

import time

from wacc.ai.contract import (
    Completion,
    CompletionRequest,
    ProviderAuthError,
    ProviderConfig,
    ProviderUnsupported,
)


class EchoProvider:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    async def complete(self, request: CompletionRequest) -> Completion:
        await self.check()
        started = time.perf_counter()
        prompt = " ".join(m.content for m in request.messages)
        last = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        text = f"echo: {last}"
        return Completion(
            text=text, provider=self.config.label, model=request.model or self.config.model,
            prompt_tokens=len(prompt.split()), completion_tokens=len(text.split()),
            latency_ms=round((time.perf_counter() - started) * 1000), finish_reason="stop",
        )

    async def embed(self, texts: list[str]) -> list[list[float]]:
        raise ProviderUnsupported("the echo provider has no embeddings", provider=self.config.label)

    async def check(self) -> None:
        if self.config.api_key != "hello":
            raise ProviderAuthError("the echo provider's key is 'hello'", provider=self.config.label)

    async def aclose(self) -> None:
        return None
