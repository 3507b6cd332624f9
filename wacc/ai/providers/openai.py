"""OpenAI's Chat Completions API through the official SDK; with a base URL, any
OpenAI-compatible server (Ollama, vLLM, llama.cpp, LiteLLM…) as the "custom" type."""

from __future__ import annotations

from typing import Any

import openai

from wacc.ai.contract import (
    AiError,
    Completion,
    CompletionRequest,
    ProviderAuthError,
    ProviderBadResponse,
    ProviderConfig,
    ProviderTimeout,
    ProviderUnavailable,
    error_for_status,
    parse_retry_after,
)
from wacc.ai.providers.base import (
    Stopwatch,
    mapped_errors,
    read_reply,
    settings,
    status_message,
    tokens,
)

OPENAI_URL = "https://api.openai.com/v1"
DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"
CHECK_TIMEOUT = 10.0


class OpenAIProvider:
    def __init__(self, config: ProviderConfig, *, compatible: bool = False) -> None:
        self.config = config
        self.compatible = compatible
        # Local servers need no key, but the SDK insists on one; everything is passed
        # explicitly so OPENAI_API_KEY / OPENAI_BASE_URL in the environment change nothing.
        # No SDK retries: failover to the next provider is faster than a backoff here.
        self.client = openai.AsyncOpenAI(
            api_key=config.api_key or "unused", base_url=config.base_url or OPENAI_URL,
            max_retries=0, timeout=float(config.options.get("timeout", 30.0)),
            organization=config.options.get("organization"), project=config.options.get("project"),
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        model, temperature, max_tokens = settings(self.config, request)
        messages: list[dict[str, str]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        # OpenAI's reasoning models refuse max_tokens; compatible servers know only it.
        extra: dict[str, Any] = {"max_tokens" if self.compatible else "max_completion_tokens": max_tokens}
        if temperature is not None:
            extra["temperature"] = temperature
        clock = Stopwatch()
        with mapped_errors(self.config.label, request.timeout, _convert):
            response = await self.client.chat.completions.create(
                model=model, messages=messages, timeout=request.timeout, **extra)  # type: ignore[arg-type]

        def read() -> Completion:
            choice = response.choices[0]
            if not isinstance(choice.message.content, str):
                raise ValueError("the first choice has no text content")
            usage = response.usage
            return Completion(
                text=choice.message.content, provider=self.config.label, model=response.model or model,
                prompt_tokens=tokens(usage and usage.prompt_tokens),
                completion_tokens=tokens(usage and usage.completion_tokens),
                latency_ms=clock.ms, finish_reason=choice.finish_reason,
            )

        return read_reply(self.config.label, read)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        model = self.config.options.get("embedding_model", DEFAULT_EMBEDDING_MODEL)
        timeout = float(self.config.options.get("timeout", 30.0))
        with mapped_errors(self.config.label, timeout, _convert):
            response = await self.client.embeddings.create(model=model, input=texts, timeout=timeout)

        def read() -> list[list[float]]:
            vectors = [list(item.embedding) for item in sorted(response.data, key=lambda d: d.index)]
            if len(vectors) != len(texts) or not all(vectors):
                raise ValueError(f"{len(vectors)} vectors for {len(texts)} texts")
            return vectors

        return read_reply(self.config.label, read)

    async def check(self) -> None:
        with mapped_errors(self.config.label, CHECK_TIMEOUT, _convert):
            await self.client.models.retrieve(self.config.model, timeout=CHECK_TIMEOUT)

    async def aclose(self) -> None:
        await self.client.close()


def _convert(exc: Exception, provider: str, timeout: float) -> AiError | None:
    """The SDK's exceptions (openai/_exceptions.py) as the contract's."""
    if isinstance(exc, openai.APITimeoutError):
        return ProviderTimeout(f"no answer within {timeout:g} s", provider=provider)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderUnavailable(f"cannot reach the provider: {exc.message}", provider=provider)
    if isinstance(exc, openai.APIResponseValidationError):
        return ProviderBadResponse(f"unexpected response: {exc.message}", provider=provider,
                                   status=exc.status_code)
    if isinstance(exc, openai.APIStatusError):
        retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
        return error_for_status(exc.status_code, status_message(exc.status_code, exc.body, exc.message),
                                provider=provider, retry_after=retry_after)
    if isinstance(exc, openai.OpenAIError) and "api_key" in str(exc):
        return ProviderAuthError(str(exc), provider=provider)
    return None

