"""Google's Gemini API through google-genai (the maintained successor of
google-generativeai)."""

from __future__ import annotations

import re
from typing import Any

from google import genai
from google.genai import errors, types

from wacc.ai.contract import (
    AiError,
    Completion,
    CompletionRequest,
    ProviderAuthError,
    ProviderBadResponse,
    ProviderConfig,
    error_for_status,
)
from wacc.ai.providers.base import Stopwatch, mapped_errors, read_reply, settings, system_and_turns, tokens

GEMINI_URL = "https://generativelanguage.googleapis.com"
DEFAULT_EMBEDDING_MODEL = "gemini-embedding-001"
CHECK_TIMEOUT = 10.0


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))  # google-genai counts timeouts in milliseconds


class GeminiProvider:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        # attempts=1: the SDK's own retries (tenacity, up to 5 with backoff) are off,
        # failover is the router's. An explicit key keeps GOOGLE_API_KEY out of it.
        self.client = genai.Client(
            api_key=config.api_key or "unused",
            http_options=types.HttpOptions(
                base_url=config.base_url or GEMINI_URL,
                timeout=_ms(float(config.options.get("timeout", 30.0))),
                retry_options=types.HttpRetryOptions(attempts=1),
            ),
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        model, temperature, max_tokens = settings(self.config, request)
        system, turns = system_and_turns(request)
        contents = [types.Content(role="model" if m.role == "assistant" else "user",
                                  parts=[types.Part(text=m.content)]) for m in turns]
        config = types.GenerateContentConfig(
            system_instruction=system, temperature=temperature, max_output_tokens=max_tokens,
            http_options=types.HttpOptions(timeout=_ms(request.timeout)),
        )
        clock = Stopwatch()
        with mapped_errors(self.config.label, request.timeout, _convert):
            response = await self.client.aio.models.generate_content(
                model=model, contents=contents, config=config)  # type: ignore[arg-type]

        def read() -> Completion:
            candidate = response.candidates[0]  # type: ignore[index]
            parts = candidate.content.parts  # type: ignore[union-attr]
            texts = [part.text for part in parts or [] if isinstance(part.text, str)]
            if not texts:
                raise ValueError(f"the candidate has no text (finish reason {candidate.finish_reason})")
            usage = response.usage_metadata
            finish = candidate.finish_reason
            return Completion(
                text="".join(texts), provider=self.config.label,
                model=response.model_version or model,
                prompt_tokens=tokens(usage and usage.prompt_token_count),
                completion_tokens=tokens(usage and usage.candidates_token_count),
                latency_ms=clock.ms, finish_reason=finish.value if finish is not None else None,
            )

        return read_reply(self.config.label, read)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        model = self.config.options.get("embedding_model", DEFAULT_EMBEDDING_MODEL)
        timeout = float(self.config.options.get("timeout", 30.0))
        with mapped_errors(self.config.label, timeout, _convert):
            response = await self.client.aio.models.embed_content(
                model=model, contents=texts,  # type: ignore[arg-type]
                config=types.EmbedContentConfig(http_options=types.HttpOptions(timeout=_ms(timeout))))

        def read() -> list[list[float]]:
            vectors = [list(e.values or []) for e in response.embeddings or []]
            if len(vectors) != len(texts) or not all(vectors):
                raise ValueError(f"{len(vectors)} vectors for {len(texts)} texts")
            return vectors

        return read_reply(self.config.label, read)

    async def check(self) -> None:
        with mapped_errors(self.config.label, CHECK_TIMEOUT, _convert):
            await self.client.aio.models.get(
                model=self.config.model,
                config=types.GetModelConfig(http_options=types.HttpOptions(timeout=_ms(CHECK_TIMEOUT))))

    async def aclose(self) -> None:
        await self.client.aio.aclose()


def _convert(exc: Exception, provider: str, timeout: float) -> AiError | None:
    """google-genai raises ClientError (4xx) and ServerError (5xx) with the HTTP status
    in ``code``, UnknownApiResponseError for a body it cannot parse, and lets timeouts
    and connection errors through from httpx2 (handled by mapped_errors)."""
    if isinstance(exc, errors.APIError):
        message = f"{exc.code} {exc.status or ''}: {exc.message or exc.details}".replace("  ", " ")
        # Gemini answers a wrong key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
        if exc.code == 400 and "API_KEY_INVALID" in repr(exc.details):
            return ProviderAuthError(message, provider=provider, status=exc.code)
        return error_for_status(exc.code, message, provider=provider, retry_after=_retry_delay(exc.details))
    if isinstance(exc, errors.UnknownApiResponseError):
        return ProviderBadResponse(f"unreadable response: {str(exc)[:200]}", provider=provider)
    return None


def _retry_delay(details: Any) -> float | None:
    """Seconds from a google.rpc.RetryInfo detail ("retryDelay": "20s"), as Gemini
    sends with RESOURCE_EXHAUSTED."""
    match = re.search(r"'retryDelay': '([\d.]+)s'", repr(details))
    return float(match.group(1)) if match else None
