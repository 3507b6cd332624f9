"""Anthropic's Messages API through the official SDK."""

from __future__ import annotations

from typing import Any

import anthropic

from wacc.ai.contract import (
    AiError,
    Completion,
    CompletionRequest,
    ProviderAuthError,
    ProviderBadResponse,
    ProviderConfig,
    ProviderTimeout,
    ProviderUnavailable,
    ProviderUnsupported,
    error_for_status,
    parse_retry_after,
)
from wacc.ai.providers.base import (
    Stopwatch,
    mapped_errors,
    read_reply,
    settings,
    status_message,
    system_and_turns,
    tokens,
)

ANTHROPIC_URL = "https://api.anthropic.com"
CHECK_TIMEOUT = 10.0


class AnthropicProvider:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        # An explicit key also stops the SDK from looking for credentials in the
        # environment or profile files; no SDK retries (failover is the router's).
        self.client = anthropic.AsyncAnthropic(
            api_key=config.api_key, base_url=config.base_url or ANTHROPIC_URL, max_retries=0,
            timeout=float(config.options.get("timeout", 30.0)),
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        # No temperature: the Messages API of SDK 2.x has none (current models sample as
        # Anthropic decides), so the configured one is not sent.
        model, _, max_tokens = settings(self.config, request)
        system, turns = system_and_turns(request)
        extra: dict[str, Any] = {"system": system} if system else {}
        clock = Stopwatch()
        with mapped_errors(self.config.label, request.timeout, _convert):
            response = await self.client.messages.create(
                model=model, max_tokens=max_tokens, timeout=request.timeout,
                messages=[{"role": m.role, "content": m.content} for m in turns],  # type: ignore[misc]
                **extra,
            )

        def read() -> Completion:
            texts = [block.text for block in response.content if block.type == "text"]
            if not texts or not all(isinstance(t, str) for t in texts):
                raise ValueError("the message has no text block")
            return Completion(
                text="".join(texts), provider=self.config.label, model=response.model or model,
                prompt_tokens=tokens(response.usage.input_tokens),
                completion_tokens=tokens(response.usage.output_tokens),
                latency_ms=clock.ms, finish_reason=response.stop_reason,
            )

        return read_reply(self.config.label, read)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        raise ProviderUnsupported("Anthropic has no embeddings API", provider=self.config.label)

    async def check(self) -> None:
        with mapped_errors(self.config.label, CHECK_TIMEOUT, _convert):
            await self.client.models.retrieve(self.config.model, timeout=CHECK_TIMEOUT)

    async def aclose(self) -> None:
        await self.client.close()


def _convert(exc: Exception, provider: str, timeout: float) -> AiError | None:
    """The SDK's exceptions (anthropic/_exceptions.py) as the contract's; 529
    "overloaded" is an InternalServerError there, so unavailable here."""
    if isinstance(exc, anthropic.APITimeoutError):
        return ProviderTimeout(f"no answer within {timeout:g} s", provider=provider)
    if isinstance(exc, anthropic.APIConnectionError):
        return ProviderUnavailable(f"cannot reach the provider: {exc.message}", provider=provider)
    if isinstance(exc, anthropic.APIResponseValidationError):
        return ProviderBadResponse(f"unexpected response: {exc.message}", provider=provider,
                                   status=exc.status_code)
    if isinstance(exc, anthropic.APIStatusError):
        retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
        return error_for_status(exc.status_code, status_message(exc.status_code, exc.body, exc.message),
                                provider=provider, retry_after=retry_after)
    if isinstance(exc, anthropic.CredentialsError):
        return ProviderAuthError(str(exc), provider=provider)
    return None
