"""Failover across an organization's providers, each behind a circuit breaker.

The router tries the configured providers in priority order and returns the first
completion, with every attempt recorded (provider, outcome, latency) for analytics.
A provider whose breaker is open is skipped without a call. Breakers live in this
process's memory: each web or worker process learns on its own that a provider is
down, which costs at most ``failures`` slow calls per process; nothing is shared
through the database or Redis, so a breaker never outlives a restart.

The breaker is a small state machine rather than a library: the candidates we looked
at (purgatory, circuitbreaker, aiobreaker, pybreaker) either have no way to open for
a provider's Retry-After, let every concurrent caller through while half-open, read
the wall clock with no way to pass another, or are no longer maintained.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import msgspec

from wacc.ai.contract import (
    AiError,
    Completion,
    CompletionRequest,
    ErrorKind,
    Provider,
    ProviderBadResponse,
    ProviderConfig,
    ProviderFactory,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnsupported,
)
from wacc.logs import get_logger
from wacc.runtime import Runtime

log = get_logger(__name__)

# Where wacc.ai.plugin registers the process's router (wacc_runtime_parts).
ROUTER = "ai.router"

# A provider that ignores request.timeout (a plugin's bug) is cut off this much later.
TIMEOUT_GRACE = 1.0

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int = 3  # consecutive retryable failures that open the circuit
    cooldown: float = 30.0  # seconds a circuit stays open before one trial call
    max_retry_after: float = 300.0  # a rate limit's Retry-After opens it for at most this


class CircuitBreaker:
    """closed → (``failures`` retryable failures in a row, or a rate limit that names a
    wait) → open → (after the cool-down) half-open: exactly one trial call goes through,
    its success closes the circuit, its failure opens it again. Errors that are not
    retryable (a wrong key, a refused request) prove the provider is up, so they count
    as answers here; the router still moves on to the next provider."""

    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float]) -> None:
        self.policy, self.clock = policy, clock
        self.state: BreakerState = "closed"
        self.failures = 0
        self.open_until = 0.0

    def allow(self) -> bool:
        """May a call go through now? Taking the half-open trial is part of asking."""
        if self.state == "open" and self.clock() >= self.open_until:
            self.state = "half_open"
            return True
        return self.state == "closed"

    def remaining(self) -> float:
        return max(0.0, self.open_until - self.clock())

    def answered(self) -> None:
        self.state, self.failures = "closed", 0

    def failed(self, retry_after: float | None = None) -> None:
        self.failures += 1
        now = self.clock()
        if self.state == "half_open" or self.failures >= self.policy.failures:
            self._open(now + self.policy.cooldown)
        if retry_after:
            self._open(now + min(retry_after, self.policy.max_retry_after))

    def abandoned(self) -> None:
        """The trial call was cancelled before it told us anything: offer it again."""
        if self.state == "half_open":
            self.state, self.open_until = "open", self.clock()

    def _open(self, until: float) -> None:
        self.open_until = max(until, self.open_until) if self.state == "open" else until
        self.state = "open"


Outcome = Literal["ok"] | ErrorKind


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """One provider tried (or skipped) for one request."""

    provider: str
    type: str
    model: str
    outcome: Outcome
    latency_ms: int
    message: str = ""


class Routed(msgspec.Struct, frozen=True, kw_only=True):
    completion: Completion
    attempts: list[Attempt]

    @property
    def failed_over(self) -> bool:
        return len(self.attempts) > 1


class AllProvidersFailed(AiError):
    """No configured provider answered; the message names each one and why."""

    kind = "all_failed"

    def __init__(self, attempts: list[Attempt]) -> None:
        if attempts:
            reasons = "; ".join(f"{a.provider} ({a.outcome}: {a.message})" for a in attempts)
            message = f"all {len(attempts)} AI providers failed: {reasons}"
        else:
            message = "no AI provider is configured"
        super().__init__(message)
        self.attempts = attempts


def _breaker_key(config: ProviderConfig) -> str:
    """One breaker per endpoint, key and model: a rate limit is per key (so one
    organization's never trips another's) and an overloaded model is not its endpoint."""
    identity = "\0".join([config.type, config.base_url or "", config.api_key, config.model])
    return hashlib.sha256(identity.encode()).hexdigest()


class AiRouter:
    """One per process. Holds the breakers and a small pool of provider clients (an
    SDK client keeps its connections alive between calls)."""

    def __init__(self, factories: Mapping[str, ProviderFactory], *, policy: BreakerPolicy | None = None,
                 clock: Callable[[], float] = time.monotonic, max_clients: int = 64,
                 grace: float = TIMEOUT_GRACE) -> None:
        self.factories = factories
        self.policy = policy or BreakerPolicy()
        self.clock = clock
        self.max_clients = max_clients
        self.grace = grace
        self._breakers: dict[str, CircuitBreaker] = {}
        self._clients: OrderedDict[bytes, Provider] = OrderedDict()

    def breaker(self, config: ProviderConfig) -> CircuitBreaker:
        key = _breaker_key(config)
        if key not in self._breakers:
            self._breakers[key] = CircuitBreaker(self.policy, self.clock)
        return self._breakers[key]

    async def provider(self, config: ProviderConfig) -> Provider:
        """The client for *config*, built once and reused while the configuration is
        unchanged (a new key or model builds a new one)."""
        key = msgspec.json.encode(config)
        if key in self._clients:
            self._clients.move_to_end(key)
            return self._clients[key]
        factory = self.factories.get(config.type)
        if factory is None:
            known = ", ".join(sorted(self.factories)) or "none"
            raise ProviderUnsupported(f"unknown provider type {config.type!r} (installed: {known})",
                                      provider=config.label)
        self._clients[key] = client = factory(config)
        while len(self._clients) > self.max_clients:
            _, old = self._clients.popitem(last=False)
            await _close(old)
        return client

    async def complete(self, configs: Sequence[ProviderConfig], request: CompletionRequest) -> Routed:
        """The first completion from *configs* in order; AllProvidersFailed otherwise."""
        attempts: list[Attempt] = []
        for config in configs:
            breaker = self.breaker(config)
            if not breaker.allow():
                attempts.append(_attempt(config, "circuit_open", 0,
                                         f"skipped, circuit open for {breaker.remaining():.1f} s more"))
                continue
            started = time.perf_counter()
            try:
                completion = await self._call(config, request)
            except AiError as exc:
                error = exc
            except asyncio.CancelledError:
                breaker.abandoned()
                raise
            else:
                breaker.answered()
                attempts.append(_attempt(config, "ok", _ms_since(started)))
                return Routed(completion=completion, attempts=attempts)
            if error.retryable:
                breaker.failed(error.retry_after if isinstance(error, ProviderRateLimited) else None)
            else:
                breaker.answered()
            attempts.append(_attempt(config, error.kind, _ms_since(started), error.message))
            log.warning("AI provider failed", provider=config.label, outcome=error.kind,
                        error=error.message, breaker=breaker.state)
        raise AllProvidersFailed(attempts)

    async def _call(self, config: ProviderConfig, request: CompletionRequest) -> Completion:
        try:
            provider = await self.provider(config)
            async with asyncio.timeout(request.timeout + self.grace):
                return await provider.complete(request)
        except AiError:
            raise
        except TimeoutError as exc:
            raise ProviderTimeout(f"no answer within {request.timeout:g} s",
                                  provider=config.label) from exc
        except Exception as exc:
            # A provider's bug (often a plugin's) is that provider failing, not wacc.
            log.exception("AI provider raised an unexpected error", provider=config.label)
            raise ProviderBadResponse(f"provider failed unexpectedly: {type(exc).__name__}: {exc}",
                                      provider=config.label) from exc

    async def embed(self, config: ProviderConfig, texts: list[str]) -> list[list[float]]:
        """Embeddings from exactly this provider: vectors from two providers are not
        comparable, so there is no failover."""
        return await (await self.provider(config)).embed(texts)

    async def check(self, config: ProviderConfig) -> None:
        """Verify a provider's key and model (for ``POST /ai/test``); raises an AiError."""
        await (await self.provider(config)).check()

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            await _close(client)


def _attempt(config: ProviderConfig, outcome: Outcome, latency_ms: int, message: str = "") -> Attempt:
    return Attempt(provider=config.label, type=config.type, model=config.model, outcome=outcome,
                   latency_ms=latency_ms, message=message)


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


async def _close(provider: Provider) -> None:
    try:
        await provider.aclose()
    except Exception:
        log.warning("AI provider client did not close cleanly", provider=provider.config.label)


def router_of(rt: Runtime) -> AiRouter:
    """This process's AI router: one per process, as its circuit breakers and SDK
    clients are the point (docs/ai.md); registered by wacc.ai.plugin."""
    return rt.part(ROUTER, AiRouter)
