"""AI providers through their official SDKs, against fakes that speak each API's wire
format over real HTTP: usage on success, and every failure a clear, typed error.
Failover, breakers, plugins and pricing: tests/test_ai_providers_routing.py."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from msgspec.structs import replace

from tests.fakes.ai_providers import count_tokens
from tests.support.ai import MODELS, QUESTION
from tests.support.env import free_port
from wacc.ai.contract import (
    ChatMessage,
    CompletionRequest,
    Provider,
    ProviderAuthError,
    ProviderBadResponse,
    ProviderConfig,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderTimeout,
    ProviderUnavailable,
    ProviderUnsupported,
)
from wacc.ai.providers import plugin

TYPES = ["openai", "anthropic", "gemini", "custom"]


@pytest.fixture
async def build() -> AsyncIterator[object]:
    """Builds providers through the registered factories; closes them after the test."""
    made: list[Provider] = []

    def make(config: ProviderConfig) -> Provider:
        made.append(getattr(plugin, config.type)(config))
        return made[-1]

    yield make
    for provider in made:
        await provider.aclose()


@pytest.mark.parametrize("kind", TYPES)
async def test_a_completion_carries_its_usage(kind, fakes, build):
    provider = build(fakes.config(kind))
    completion = await provider.complete(QUESTION)
    assert completion.text == "You said: How much does it cost?"
    assert completion.provider == f"{kind}-main"
    assert completion.model.startswith(MODELS[kind])
    prompt = count_tokens(QUESTION.system or "", *(m.content for m in QUESTION.messages))
    assert (completion.prompt_tokens, completion.completion_tokens) == (prompt, 7)
    assert completion.total_tokens == prompt + 7
    assert completion.finish_reason in ("stop", "end_turn", "STOP")
    assert 0 <= completion.latency_ms < 5000
    # Each API got the system prompt, the turns and the limits in its own shape.
    [request] = fakes.of(kind).requests
    body = request.json
    if kind in ("openai", "custom"):
        assert body["messages"][0] == {"role": "system", "content": "You answer for Acme Bikes."}
        assert [m["role"] for m in body["messages"][1:]] == ["user", "assistant", "user"]
        limit = "max_tokens" if kind == "custom" else "max_completion_tokens"
        assert body[limit] == 200 and body["temperature"] == 0.2
    elif kind == "anthropic":
        assert body["system"] == "You answer for Acme Bikes."
        assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
        assert body["max_tokens"] == 200 and request.headers["anthropic-version"]
        assert "temperature" not in body  # the SDK (2.x) has none for the Messages API
    else:
        assert body["systemInstruction"]["parts"] == [{"text": "You answer for Acme Bikes."}]
        assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
        assert body["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 200}


@pytest.mark.parametrize("kind", TYPES)
async def test_rate_limit_says_when_to_retry_without_retrying(kind, fakes, build):
    fakes.of(kind).rate_limit_next(retry_after=7)
    with pytest.raises(ProviderRateLimited) as caught:
        await build(fakes.config(kind)).complete(QUESTION)
    assert caught.value.retryable and caught.value.retry_after == 7
    assert caught.value.status == 429 and "429" in str(caught.value)
    assert len(fakes.of(kind).requests) == 1  # the SDK's own retries are off: failover is ours


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_unavailable(kind, status, fakes, build):
    fakes.of(kind).fail_next(status=status)
    with pytest.raises(ProviderUnavailable) as caught:
        await build(fakes.config(kind)).complete(QUESTION)
    assert caught.value.retryable and caught.value.status == status
    assert str(caught.value).startswith(f"{kind}-main: {status}")
    assert len(fakes.of(kind).requests) == 1


@pytest.mark.parametrize("kind", TYPES)
async def test_a_hanging_provider_times_out_on_time(kind, fakes, build):
    fakes.of(kind).hang_next()
    started = time.perf_counter()
    with pytest.raises(ProviderTimeout) as caught:
        await build(fakes.config(kind)).complete(replace(QUESTION, timeout=0.4))
    assert 0.35 < time.perf_counter() - started < 2
    assert caught.value.retryable and "no answer within 0.4 s" in str(caught.value)


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize(("body", "content_type"), [
    (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    (b'{"unexpected": true}', "application/json"),
    (b'{"choices": [{"message": {"content": 42}}], "content": "x", "candidates": []}', "application/json"),
])
async def test_garbage_is_a_bad_response(kind, body, content_type, fakes, build):
    fakes.of(kind).garbage_next(body=body, content_type=content_type)
    with pytest.raises(ProviderBadResponse) as caught:
        await build(fakes.config(kind)).complete(QUESTION)
    assert caught.value.retryable and str(caught.value).startswith(f"{kind}-main: ")


@pytest.mark.parametrize("kind", TYPES)
async def test_a_wrong_key_is_an_auth_error_with_the_providers_words(kind, fakes, build):
    provider = build(fakes.config(kind, api_key="sk-wrong-key"))
    with pytest.raises(ProviderAuthError) as caught:
        await provider.complete(QUESTION)
    assert not caught.value.retryable
    assert any(words in caught.value.message for words in
               ("Incorrect API key provided", "invalid x-api-key", "API key not valid"))
    with pytest.raises(ProviderAuthError):
        await provider.check()


@pytest.mark.parametrize("kind", TYPES)
async def test_check_verifies_key_and_model_without_spending_tokens(kind, fakes, build):
    await build(fakes.config(kind)).check()
    [request] = fakes.of(kind).requests
    assert request.method == "GET" and request.path.endswith(MODELS[kind])
    with pytest.raises(ProviderRequestError) as caught:
        await build(fakes.config(kind, model="no-such-model")).check()
    assert caught.value.status == 404 and not caught.value.retryable
    with pytest.raises(ProviderRequestError, match="no-such-model"):
        await build(fakes.config(kind, model="no-such-model")).complete(QUESTION)


@pytest.mark.parametrize("kind", TYPES)
async def test_a_refused_request_is_a_request_error(kind, fakes, build):
    provider = build(fakes.config(kind))
    with pytest.raises(ProviderRequestError) as caught:
        await provider.complete(replace(QUESTION, max_tokens=-5))
    assert caught.value.status == 400 and not caught.value.retryable
    assert "max_" in caught.value.message  # the API's own words name the field


@pytest.mark.parametrize("kind", TYPES)
async def test_nobody_listening_is_unavailable(kind, fakes, build):
    provider = build(fakes.config(kind, base_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(ProviderUnavailable, match=r"cannot reach|ConnectError"):
        await provider.complete(QUESTION)


@pytest.mark.parametrize("kind", ["openai", "gemini"])
async def test_embeddings(kind, fakes, build):
    provider = build(fakes.config(kind, options={"embedding_model": "text-embedding-3-small"
                                                 if kind == "openai" else "gemini-embedding-001"}))
    vectors = await provider.embed(["brake repair", "opening hours"])
    assert len(vectors) == 2 and len(vectors[0]) == 8 and vectors[0] != vectors[1]
    assert vectors == await provider.embed(["brake repair", "opening hours"])  # deterministic
    fakes.of(kind).fail_next(status=503)
    with pytest.raises(ProviderUnavailable):
        await provider.embed(["x"])


async def test_anthropic_has_no_embeddings(fakes, build):
    with pytest.raises(ProviderUnsupported):
        await build(fakes.config("anthropic")).embed(["x"])
    assert fakes.anthropic.requests == []


async def test_system_messages_join_the_system_prompt_where_the_api_wants_one(fakes, build):
    request = CompletionRequest(system="Be brief.", messages=[
        ChatMessage(role="system", content="Knowledge: we close at 6."),
        ChatMessage(role="user", content="When do you close?")])
    for kind in ("anthropic", "gemini"):
        await build(fakes.config(kind)).complete(request)
    assert fakes.anthropic.requests[0].json["system"] == "Be brief.\n\nKnowledge: we close at 6."
    assert fakes.anthropic.requests[0].json["messages"] == [{"role": "user", "content": "When do you close?"}]
    gemini = fakes.gemini.requests[0].json
    assert gemini["systemInstruction"]["parts"] == [{"text": "Be brief.\n\nKnowledge: we close at 6."}]
    assert len(gemini["contents"]) == 1
