"""Registers the web UI's pages through the same hook a third-party plugin would use."""

from __future__ import annotations

from typing import Any

from wacc.plugins.spec import hookimpl


@hookimpl
def wacc_pages() -> list[Any]:
    from wacc.ui.ai_pages import AiPages
    from wacc.ui.auth_pages import AuthPages
    from wacc.ui.automations_pages import AutomationPages
    from wacc.ui.contacts_pages import ContactPages
    from wacc.ui.inbox_pages import InboxPages
    from wacc.ui.sessions_pages import SessionPages
    from wacc.ui.settings_pages import SettingsPages
    from wacc.ui.team_pages import TeamPages

    return [AiPages, AuthPages, AutomationPages, ContactPages, InboxPages, SessionPages, SettingsPages,
            TeamPages]
