"""Failover across providers, circuit breakers, provider plugins and pricing, with the
real SDKs against the fakes of tests/fakes/ai_providers.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from msgspec.structs import replace

from tests.fakes.ai_providers import vector
from tests.support.ai import QUESTION
from wacc.ai.contract import (
    ChatMessage,
    Completion,
    CompletionRequest,
    ProviderConfig,
)
from wacc.ai.providers.pricing import PriceTable
from wacc.ai.providers.registry import provider_factories
from wacc.ai.providers.router import AiRouter, AllProvidersFailed, BreakerPolicy, CircuitBreaker
from wacc.features import BUILTIN_PLUGINS
from wacc.plugins.manager import PluginManager
from wacc.plugins.spec import hookimpl


class Clock:
    """A clock the test moves, so cool-downs pass without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def router(clock: Clock) -> AsyncIterator[AiRouter]:
    factories = provider_factories(PluginManager(["none"], BUILTIN_PLUGINS))
    r = AiRouter(factories, policy=BreakerPolicy(failures=2, cooldown=30), clock=clock)
    yield r
    await r.aclose()


def outcomes(result: Any) -> list[str]:
    return [a.outcome for a in result.attempts]


async def test_a_hanging_provider_fails_over_to_the_next(fakes, router):
    fakes.openai.hang_next()
    routed = await router.complete([fakes.config("openai"), fakes.config("anthropic")],
                                   replace(QUESTION, timeout=0.4))
    assert routed.completion.provider == "anthropic-main" and routed.failed_over
    assert routed.completion.text == "You said: How much does it cost?"
    assert outcomes(routed) == ["timeout", "ok"]
    timeout, ok = routed.attempts
    assert timeout.provider == "openai-main" and timeout.model == "gpt-4o-mini" and timeout.latency_ms >= 390
    assert "no answer within 0.4 s" in timeout.message
    assert ok.type == "anthropic" and ok.message == ""


@pytest.mark.parametrize(("status", "outcome"), [(500, "unavailable"), (503, "unavailable"),
                                                 (429, "rate_limited")])
async def test_server_errors_and_rate_limits_fail_over(status, outcome, fakes, router):
    fakes.gemini.fail_next(status=status)
    routed = await router.complete([fakes.config("gemini"), fakes.config("openai")], QUESTION)
    assert outcomes(routed) == [outcome, "ok"] and routed.completion.provider == "openai-main"
    assert routed.completion.prompt_tokens > 0 and routed.completion.model.startswith("gpt-4o-mini")


async def test_a_wrong_key_fails_over_but_never_opens_the_breaker(fakes, router):
    configs = [fakes.config("openai", api_key="sk-revoked"), fakes.config("gemini")]
    for _ in range(4):
        routed = await router.complete(configs, QUESTION)
        assert outcomes(routed) == ["auth", "ok"]
    assert "Incorrect API key" in routed.attempts[0].message
    assert router.breaker(configs[0]).state == "closed"
    assert len(fakes.openai.requests) == 4  # asked every time: the key may be fixed any moment


async def test_when_every_provider_fails_one_error_names_each(fakes, router):
    fakes.openai.fail_next(status=500)
    fakes.gemini.garbage_next()
    configs = [fakes.config("openai"), fakes.config("anthropic", api_key="nope"), fakes.config("gemini")]
    with pytest.raises(AllProvidersFailed) as caught:
        await router.complete(configs, QUESTION)
    error = caught.value
    assert [a.outcome for a in error.attempts] == ["unavailable", "auth", "bad_response"]
    assert str(error).startswith("all 3 AI providers failed: openai-main (unavailable: 500: The server")
    assert "anthropic-main (auth: 401: invalid x-api-key)" in str(error)
    assert "gemini-main (bad_response: " in str(error)
    with pytest.raises(AllProvidersFailed, match="no AI provider is configured"):
        await router.complete([], QUESTION)


async def test_the_breaker_opens_skips_and_recovers_after_the_cool_down(fakes, router, clock):
    primary, backup = fakes.config("openai"), fakes.config("gemini")
    fakes.openai.fail_next(2, status=500)
    for _ in range(2):
        assert outcomes(await router.complete([primary, backup], QUESTION)) == ["unavailable", "ok"]
    assert router.breaker(primary).state == "open"
    # Open: skipped without a call, at no cost.
    routed = await router.complete([primary, backup], QUESTION)
    assert outcomes(routed) == ["circuit_open", "ok"] and routed.attempts[0].latency_ms == 0
    assert "circuit open for 30.0 s more" in routed.attempts[0].message
    assert len(fakes.openai.requests) == 2
    clock.now += 29
    assert outcomes(await router.complete([primary, backup], QUESTION)) == ["circuit_open", "ok"]
    # After the cool-down one trial goes through; it succeeds and closes the circuit.
    clock.now += 1
    routed = await router.complete([primary, backup], QUESTION)
    assert outcomes(routed) == ["ok"] and routed.completion.provider == "openai-main"
    assert router.breaker(primary).state == "closed" and router.breaker(primary).failures == 0
    assert len(fakes.openai.requests) == 3


async def test_a_failed_trial_reopens_the_circuit_at_once(fakes, router, clock):
    primary, backup = fakes.config("anthropic"), fakes.config("gemini")
    fakes.anthropic.fail_next(3, status=529)  # Anthropic's "overloaded"
    for _ in range(2):
        await router.complete([primary, backup], QUESTION)
    clock.now += 30
    assert outcomes(await router.complete([primary, backup], QUESTION)) == ["unavailable", "ok"]
    assert router.breaker(primary).state == "open"  # one failure in half-open is enough
    assert outcomes(await router.complete([primary, backup], QUESTION)) == ["circuit_open", "ok"]


async def test_a_rate_limit_opens_the_breaker_for_its_retry_after(fakes, router, clock):
    primary, backup = fakes.config("gemini"), fakes.config("openai")
    fakes.gemini.rate_limit_next(retry_after=7)
    assert outcomes(await router.complete([primary, backup], QUESTION)) == ["rate_limited", "ok"]
    assert outcomes(await router.complete([primary, backup], QUESTION)) == ["circuit_open", "ok"]
    clock.now += 7
    assert outcomes(await router.complete([primary, backup], QUESTION)) == ["ok"]


async def test_breakers_are_per_key_and_model(fakes, router):
    """One organization's rate limit never skips another organization's provider."""
    mine, theirs = fakes.config("openai"), fakes.config("openai", api_key="sk-other")
    assert router.breaker(mine) is not router.breaker(theirs)
    assert router.breaker(mine) is not router.breaker(fakes.config("openai", model="gpt-4o"))
    assert router.breaker(mine) is router.breaker(replace(mine, temperature=0.9))


def test_half_open_lets_exactly_one_trial_through(clock):
    breaker = CircuitBreaker(BreakerPolicy(failures=1, cooldown=10), clock)
    assert breaker.allow()
    breaker.failed()
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 10
    assert breaker.allow() and breaker.state == "half_open"
    assert not breaker.allow()  # a concurrent caller waits for the trial's verdict
    breaker.abandoned()  # the trial was cancelled: the next caller may try
    assert breaker.allow() and not breaker.allow()
    breaker.answered()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()


def test_retry_after_is_capped(clock):
    breaker = CircuitBreaker(BreakerPolicy(failures=5, cooldown=10, max_retry_after=60), clock)
    breaker.failed(retry_after=86400)
    assert breaker.state == "open" and breaker.remaining() == 60


async def test_a_cancelled_trial_does_not_leave_the_circuit_stuck(fakes, router, clock):
    primary = fakes.config("openai")
    fakes.openai.fail_next(2)
    for _ in range(2):
        with pytest.raises(AllProvidersFailed):
            await router.complete([primary], QUESTION)
    clock.now += 30
    fakes.openai.hang_next()
    task = asyncio.create_task(router.complete([primary], QUESTION))
    while len(fakes.openai.requests) < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcomes(await router.complete([primary], QUESTION)) == ["ok"]


class Misbehaving:
    """A third-party provider with bugs: it raises what it should not, or ignores the
    timeout it was given."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    async def complete(self, request: CompletionRequest) -> Completion:
        if self.config.options.get("hang"):
            await asyncio.sleep(60)
        raise KeyError("choices")

    async def aclose(self) -> None:
        return None


async def test_unknown_types_and_buggy_plugins_are_failures_not_crashes(fakes, router, clock):
    factories = {**router.factories, "buggy": Misbehaving}
    r = AiRouter(factories, policy=BreakerPolicy(), clock=clock, grace=0.2)
    configs = [ProviderConfig(type="nope", model="m", name="mystery"),
               ProviderConfig(type="buggy", model="m"),
               ProviderConfig(type="buggy", model="m", name="sleepy", options={"hang": True}),
               fakes.config("openai")]
    started = time.perf_counter()
    routed = await r.complete(configs, replace(QUESTION, timeout=0.2))
    assert time.perf_counter() - started < 2
    assert outcomes(routed) == ["unsupported", "bad_response", "timeout", "ok"]
    assert "unknown provider type 'nope' (installed: anthropic, buggy, custom, gemini, openai)" \
        in routed.attempts[0].message
    assert "KeyError" in routed.attempts[1].message
    assert "no answer within 0.2 s" in routed.attempts[2].message
    await r.aclose()


async def test_clients_are_reused_until_the_configuration_changes(fakes, clock):
    factories = provider_factories(PluginManager(["none"], BUILTIN_PLUGINS))
    r = AiRouter(factories, clock=clock, max_clients=1)
    config = fakes.config("openai")
    first = await r.provider(config)
    assert await r.provider(config) is first
    rotated = await r.provider(replace(config, api_key="sk-rotated"))
    assert rotated is not first
    assert first.client.is_closed()  # type: ignore[attr-defined]  (evicted: its connections freed)
    await r.aclose()
    assert rotated.client.is_closed()  # type: ignore[attr-defined]


async def test_check_and_embed_go_to_exactly_one_provider(fakes, router):
    await router.check(fakes.config("gemini"))
    assert await router.embed(fakes.config("openai"), ["a"]) == [vector("a")]
    with pytest.raises(Exception, match="invalid x-api-key"):
        await router.check(fakes.config("anthropic", api_key="bad"))


# -- plugins -----------------------------------------------------------------------------


@pytest.mark.usefixtures("hello_installed")
async def test_a_provider_package_installs_and_appears(fakes, clock):
    pm = PluginManager([], BUILTIN_PLUGINS)
    factories = provider_factories(pm)
    assert {"openai", "anthropic", "gemini", "custom", "hello-echo"} <= set(factories)
    r = AiRouter(factories, clock=clock)
    echo = ProviderConfig(type="hello-echo", model="echo-1", api_key="hello", name="echo")
    routed = await r.complete([echo], QUESTION)
    assert routed.completion.text == "echo: How much does it cost?"
    assert routed.completion.provider == "echo" and routed.completion.completion_tokens == 6
    # Its errors are the contract's: a wrong key fails over like any provider's.
    routed = await r.complete([replace(echo, api_key="x"), fakes.config("openai")], QUESTION)
    assert outcomes(routed) == ["auth", "ok"]
    # Turned off by the allowlist, it is gone and a configuration naming it says so.
    r_off = AiRouter(provider_factories(PluginManager(["none"], BUILTIN_PLUGINS)), clock=clock)
    with pytest.raises(AllProvidersFailed, match="unknown provider type 'hello-echo'"):
        await r_off.complete([echo], QUESTION)


def test_a_plugin_cannot_take_over_a_builtin_type():
    pm = PluginManager(["none"], BUILTIN_PLUGINS)
    impostor = SimpleNamespace()

    @hookimpl
    def wacc_ai_providers() -> dict[str, Any]:
        return {"openai": Misbehaving, "extra": Misbehaving}

    impostor.wacc_ai_providers = wacc_ai_providers
    pm.pm.register(impostor, name="impostor")
    factories = provider_factories(pm)
    assert factories["openai"].__module__ == "wacc.ai.providers.plugin"
    assert factories["extra"] is Misbehaving


# -- pricing -----------------------------------------------------------------------------


def test_cost_from_tokens_with_the_default_table():
    table = PriceTable()
    cost = table.cost("gpt-4o-mini", 1_000_000, 500_000)
    assert cost.usd == Decimal("0.45") and cost.priced and cost.price_key == "gpt-4o-mini"
    # Dated releases find their family, the longest match winning.
    assert table.cost("gpt-4o-mini-2024-07-18", 2000, 1000).usd == Decimal("0.0009")
    assert table.cost("gpt-4.1-mini-2025-04-14", 1000, 0).price_key == "gpt-4.1-mini"
    assert table.cost("claude-3-5-haiku-20241022", 1000, 1000).usd == Decimal("0.0048")
    assert table.cost("models/gemini-2.0-flash", 10_000, 0).usd == Decimal("0.001")


def test_unknown_models_cost_nothing_and_are_flagged():
    cost = PriceTable().cost("llama3.2", 5000, 5000)
    assert cost.usd == 0 and not cost.priced and cost.price_key is None
    # A longer name is another model, not a release of the entry it starts with.
    assert not PriceTable().cost("gpt-4o-audio-preview", 1, 1).priced
    assert PriceTable().cost("gemini-2.0-flash-001", 1, 1).price_key == "gemini-2.0-flash"
    assert PriceTable().cost("claude-3-5-haiku@20241022", 1, 1).price_key == "claude-3-5-haiku"


def test_an_organizations_prices_override_the_defaults():
    table = PriceTable({"gpt-4o-mini": {"input": 0.2, "output": "0.8"}, "llama3.2": {"input": 0.01}})
    assert table.cost("gpt-4o-mini", 1_000_000, 1_000_000).usd == Decimal("1.0")
    assert table.cost("llama3.2", 1_000_000, 1_000_000).usd == Decimal("0.01")
    completion = Completion(text="x", provider="p", model="llama3.2", prompt_tokens=2_000_000,
                            completion_tokens=0, latency_ms=1)
    assert table.of(completion).usd == Decimal("0.02")
    for bad in ({"input": -1}, {"input": "free"}, {"output": "NaN"}):
        with pytest.raises(ValueError):
            PriceTable({"m": bad})


async def test_usage_and_cost_of_a_routed_completion(fakes, router):
    routed = await router.complete([fakes.config("openai")], CompletionRequest(
        messages=[ChatMessage(role="user", content="one two three four")]))
    completion = routed.completion
    assert (completion.prompt_tokens, completion.completion_tokens) == (4, 6)
    assert PriceTable().of(completion).usd == (Decimal("0.15") * 4 + Decimal("0.60") * 6) / 1_000_000
