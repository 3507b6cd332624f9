"""The AI providers this process knows: wacc's own and those of installed plugins."""

from __future__ import annotations

from typing import Any

from wacc.ai.contract import ProviderFactory
from wacc.logs import get_logger

log = get_logger(__name__)

BUILTIN_MODULE = "wacc.ai.providers.plugin"


def provider_factories(plugins: Any) -> dict[str, ProviderFactory]:
    """Factories by provider type from every plugin's ``wacc_ai_providers`` hook. A type
    offered twice keeps wacc's own factory, else the first loaded, and the clash is
    logged: an installed package cannot quietly take over "openai"."""
    offered = [item for result in plugins.call("wacc_ai_providers") for item in result.items()]
    offered.sort(key=lambda item: getattr(item[1], "__module__", "") != BUILTIN_MODULE)  # stable
    factories: dict[str, ProviderFactory] = {}
    for name, factory in offered:
        if name in factories:
            log.warning("AI provider type offered twice; the first is kept", provider=name,
                        ignored=getattr(factory, "__module__", repr(factory)))
            continue
        factories[name] = factory
    return factories
