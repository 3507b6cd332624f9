"""Find, load and call plugins. A plugin that fails to import or whose hook raises is
reported (``wacc plugins list``, the log) and skipped; it never stops wacc."""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pluggy

from wacc.logs import get_logger
from wacc.plugins import spec

log = get_logger(__name__)

ENTRY_POINT_GROUP = "wacc"


@dataclass
class PluginStatus:
    name: str
    source: str  # "builtin" or the distribution that provides it
    version: str
    state: str  # loaded | failed | disabled
    error: str | None = None


class PluginManager:
    def __init__(self, allow: list[str], builtins: Iterable[str]) -> None:
        self.pm = pluggy.PluginManager(spec.PROJECT)
        self.pm.add_hookspecs(spec)
        self.statuses: list[PluginStatus] = []
        for module_name in builtins:
            module = importlib.import_module(module_name)
            self.pm.register(module, name=module_name)
            self.statuses.append(PluginStatus(module_name, "builtin", "", "loaded"))
        self._load_entry_points(allow)

    def _load_entry_points(self, allow: list[str]) -> None:
        if allow == ["none"]:
            allowed: set[str] | None = set()
        else:
            allowed = set(allow) if allow else None
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else ""
            # The allowlist is for third-party plugins; wacc's own (its engines) always load.
            if allowed is not None and ep.name not in allowed and dist != "wacc":
                self.statuses.append(PluginStatus(ep.name, dist, version, "disabled",
                                                  "not in WACC_PLUGINS"))
                continue
            try:
                plugin = ep.load()
                self.pm.register(plugin, name=ep.name)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                log.error("plugin failed to load", plugin=ep.name, error=reason)
                self.statuses.append(PluginStatus(ep.name, dist, version, "failed", reason))
                continue
            self.statuses.append(PluginStatus(ep.name, dist, version, "loaded"))

    def call(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call *hook* on every plugin, one at a time, so one failure spoils nothing else."""
        results = []
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            try:
                result = impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:
                log.exception("plugin hook failed", plugin=impl.plugin_name, hook=hook)
                self._mark_failed(impl.plugin_name, f"{hook}: {type(exc).__name__}: {exc}")
                continue
            if result is not None:
                results.append(result)
        return results

    def collect(self, hook: str, **kwargs: Any) -> list[Any]:
        """Flatten the lists returned by *hook*."""
        return [item for result in self.call(hook, **kwargs) for item in result]

    def _mark_failed(self, name: str, error: str) -> None:
        for status in self.statuses:
            if status.name == name:
                status.state, status.error = "failed", error
