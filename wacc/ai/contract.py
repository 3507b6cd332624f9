"""The AI provider contract: what every chat model provider does and reports.

A provider is built by a factory registered through the ``wacc_ai_providers`` plugin
hook, given a :class:`ProviderConfig`, and then driven through :class:`Provider`. Every
completion carries its usage (tokens, provider, model, latency) so spend caps and
analytics need nothing else. Failures are :class:`AiError` subclasses whose ``kind``
and ``retryable`` tell the router what happened; providers import only this module,
``wacc.lib`` and their own SDK. docs/ai.md describes the contract in prose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal, Protocol

import msgspec

Role = Literal["system", "user", "assistant"]


class ChatMessage(msgspec.Struct, frozen=True, kw_only=True):
    role: Role
    content: str


class CompletionRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One chat completion. ``model``, ``temperature`` and ``max_tokens`` override the
    provider's configured defaults when given; ``timeout`` (seconds) bounds the whole
    call, so a hanging provider costs at most that before failover."""

    messages: list[ChatMessage]
    system: str | None = None
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float = 30.0


class Completion(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    provider: str  # the configured provider's name (ProviderConfig.label)
    model: str  # the model that answered, as the provider reports it
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    finish_reason: str | None = None  # the provider's own word: stop, length, end_turn, STOP…

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ProviderConfig(msgspec.Struct, frozen=True, kw_only=True):
    """How to reach one provider. ``type`` picks the factory ("openai", "anthropic",
    "gemini", "custom" or a plugin's name); ``name`` identifies this configuration in
    usage, attempts and circuit breakers (two OpenAI keys are two providers)."""

    type: str
    model: str
    api_key: str = ""
    name: str = ""
    base_url: str | None = None
    temperature: float | None = None
    max_tokens: int = 1024
    options: dict[str, Any] = {}

    @property
    def label(self) -> str:
        return self.name or self.type


# -- errors ---------------------------------------------------------------------------

ErrorKind = Literal[
    "timeout", "rate_limited", "unavailable", "auth", "bad_request", "bad_response",
    "unsupported", "circuit_open", "all_failed",
]


class AiError(Exception):
    """A provider call failed. ``retryable`` says whether the same call may succeed
    later (it counts towards the provider's circuit breaker); the router moves on to
    the next provider on every AiError either way."""

    kind: ClassVar[ErrorKind]
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, provider: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status  # the HTTP status the provider answered, when there was one

    def __str__(self) -> str:
        return f"{self.provider}: {self.message}" if self.provider else self.message


class ProviderTimeout(AiError):
    kind = "timeout"
    retryable = True


class ProviderRateLimited(AiError):
    kind = "rate_limited"
    retryable = True

    def __init__(self, message: str, *, provider: str = "", status: int | None = 429,
                 retry_after: float | None = None) -> None:
        super().__init__(message, provider=provider, status=status)
        self.retry_after = retry_after  # seconds, when the provider said


class ProviderUnavailable(AiError):
    """5xx, overloaded, or no connection at all."""

    kind = "unavailable"
    retryable = True


class ProviderBadResponse(AiError):
    """The provider answered something that is not a completion (garbage, HTML, a
    truncated body): often a proxy in trouble, so retryable."""

    kind = "bad_response"
    retryable = True


class ProviderAuthError(AiError):
    """Wrong or revoked key, or no access to the model. Retrying cannot help; the
    router still moves on so a working backup answers, and reports it."""

    kind = "auth"


class ProviderRequestError(AiError):
    """The provider refused this request (unknown model, prompt too long, bad value)."""

    kind = "bad_request"


class ProviderUnsupported(AiError):
    """The provider cannot do this at all (e.g. embeddings on Anthropic)."""

    kind = "unsupported"


def error_for_status(status: int, message: str, *, provider: str = "",
                     retry_after: float | None = None) -> AiError:
    """The error an HTTP status means, the same for every provider."""
    if status in (401, 403):
        return ProviderAuthError(message, provider=provider, status=status)
    if status == 408:
        return ProviderTimeout(message, provider=provider, status=status)
    if status == 429:
        return ProviderRateLimited(message, provider=provider, status=status, retry_after=retry_after)
    if status >= 500:
        return ProviderUnavailable(message, provider=provider, status=status)
    return ProviderRequestError(message, provider=provider, status=status)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds or a Go-style duration like "20s")."""
    if not value:
        return None
    try:
        seconds = float(value.strip().removesuffix("s"))
    except ValueError:
        return None  # an HTTP date: rare from these APIs, and the breaker's cool-down covers it
    return seconds if seconds >= 0 else None


# -- the provider ---------------------------------------------------------------------


class Provider(Protocol):
    """One configured provider. Implementations map every failure to an AiError, never
    retry on their own (failover is the router's), and honour ``request.timeout``."""

    config: ProviderConfig

    async def complete(self, request: CompletionRequest) -> Completion: ...

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """Vectors for *texts*, or ProviderUnsupported. Vectors of different providers
        live in different spaces, so embeddings never fail over."""

    async def check(self) -> None:
        """Verify the key and the model without spending tokens; raise an AiError."""

    async def aclose(self) -> None:
        """Release connections."""


ProviderFactory = Callable[[ProviderConfig], Provider]
