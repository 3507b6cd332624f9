"""Composition root for features: the list of wacc's built-in features, which register
through the same plugin hooks as third-party packages. Every process starts here; it
imports nothing heavy (controllers load only where HTTP is served)."""

from __future__ import annotations

from wacc.config import Settings
from wacc.plugins.manager import PluginManager

# Built-in features, registered exactly like third-party plugins.
BUILTIN_PLUGINS = [
    "wacc.system.plugin",
    "wacc.events",
    "wacc.auth.plugin",
    "wacc.orgs.plugin",
    "wacc.users.plugin",
    "wacc.apikeys.plugin",
    "wacc.tags.plugin",
    "wacc.canned.plugin",
    "wacc.customfields.plugin",
    "wacc.contacts.plugin",
    "wacc.audit.plugin",
    "wacc.sessions.plugin",
    "wacc.messages.plugin",
    "wacc.conversations.plugin",
    "wacc.search.plugin",
    "wacc.realtime.plugin",
    "wacc.segments.plugin",
    "wacc.automations.plugin",
    "wacc.ai.plugin",
    "wacc.ai.knowledge.plugin",
    "wacc.ai.responder.plugin",
    "wacc.ai.assist.plugin",
    "wacc.ui.plugin",
]


def make_plugin_manager(settings: Settings) -> PluginManager:
    return PluginManager(settings.plugins.allow, BUILTIN_PLUGINS)
