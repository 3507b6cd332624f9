"""Registers wacc's own AI providers (found through wacc's own ``wacc`` entry point,
the way a third-party provider package is found)."""

from __future__ import annotations

from typing import Any

from wacc.ai.contract import Provider, ProviderConfig
from wacc.plugins.spec import hookimpl

# Each SDK is imported on first use: every process discovers providers, only those that
# call a model pay for them (measured: openai +19 MB RSS and 0.4 s of imports, google-genai
# +26 MB and 0.5 s, anthropic +47 MB and 1.2 s).


def openai(config: ProviderConfig) -> Provider:
    from wacc.ai.providers.openai import OpenAIProvider

    return OpenAIProvider(config)


def custom(config: ProviderConfig) -> Provider:
    """Any OpenAI-compatible server (Ollama, vLLM, llama.cpp…) at ``config.base_url``."""
    from wacc.ai.providers.openai import OpenAIProvider

    return OpenAIProvider(config, compatible=True)


def anthropic(config: ProviderConfig) -> Provider:
    from wacc.ai.providers.anthropic import AnthropicProvider

    return AnthropicProvider(config)


def gemini(config: ProviderConfig) -> Provider:
    from wacc.ai.providers.gemini import GeminiProvider

    return GeminiProvider(config)


@hookimpl
def wacc_ai_providers() -> dict[str, Any]:
    return {"openai": openai, "anthropic": anthropic, "gemini": gemini, "custom": custom}
