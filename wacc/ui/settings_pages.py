"""Settings pages: organization, tags, custom fields, canned responses, API keys and the
audit log. Each tab reads through its feature's services as the signed-in principal and
is gated by the permission its list endpoint needs; changes go through the public API
from the page (static/js/app.js forms and static/js/settings.js)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from litestar import Controller, Request, get
from litestar.response import Redirect, Template

from wacc.apikeys import services as apikeys
from wacc.audit import services as audit
from wacc.canned import services as canned
from wacc.customfields import services as customfields
from wacc.customfields.tables import FieldType
from wacc.http.deps import PrincipalDep
from wacc.lib.errors import ValidationError
from wacc.orgs import services as orgs
from wacc.security.roles import PERMISSIONS
from wacc.tags import services as tags
from wacc.ui.render import page
from wacc.users import services as users

# (slug, label, permission to read it): the tabs, in order; a tab you cannot open is hidden.
TABS = (
    ("organization", "Organization", "read:organization"),
    ("tags", "Tags", "read:contacts"),
    ("fields", "Custom fields", "read:contacts"),
    ("canned", "Canned responses", "read:conversations"),
    ("api-keys", "API keys", "read:api-keys"),
    ("audit", "Audit log", "read:audit"),
    ("ai", "AI", "read:ai"),
    ("knowledge-base", "Knowledge base", "read:ai"),
)
AUDIT_PAGE = 50


@cache
def timezones() -> list[str]:
    return sorted(available_timezones())


def _settings_page(request: Request, tab: str, template: str, **context: Any) -> Template:
    return page(request, f"settings/{template}", section="settings", tab=tab, tabs=TABS,
                **context)


def _day(raw: str | None, field: str, errors: list[str]) -> date | None:
    """A yyyy-mm-dd filter of the audit page; a bad one is reported, not a 500."""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"{field}: “{raw[:40]}” is not a date (use the date picker).")
        return None


class SettingsPages(Controller):
    include_in_schema = False

    @get("/settings", opt={"permission": "read:organization"})
    async def settings_home(self) -> Redirect:
        return Redirect(path="/settings/organization")

    @get("/settings/organization", opt={"permission": "read:organization"})
    async def organization(self, request: Request, principal: PrincipalDep) -> Template:
        org = await orgs.get(principal, principal.organization_id)
        return _settings_page(request, "organization", "organization.html", org=org,
                              org_settings=org.settings, timezones=timezones())

    @get("/settings/tags", opt={"permission": "read:contacts"})
    async def tag_list(self, request: Request, principal: PrincipalDep) -> Template:
        items = await tags.list_tags(principal)
        return _settings_page(request, "tags", "tags.html", tags=items)

    @get("/settings/fields", opt={"permission": "read:contacts"})
    async def field_list(self, request: Request, principal: PrincipalDep) -> Template:
        items = await customfields.list_fields(principal)
        return _settings_page(request, "fields", "fields.html", fields=items,
                              field_types=list(FieldType))

    @get("/settings/canned", opt={"permission": "read:conversations"})
    async def canned_list(self, request: Request, principal: PrincipalDep) -> Template:
        items = await canned.list_canned(principal)
        return _settings_page(request, "canned", "canned.html", canned=items)

    @get("/settings/api-keys", opt={"permission": "read:api-keys"})
    async def api_keys(self, request: Request, principal: PrincipalDep) -> Template:
        keys = await apikeys.list_keys(principal)
        # A key's scopes must be a subset of its creator's: offer only those.
        scopes = [(name, desc) for name, (desc, _) in PERMISSIONS.items() if principal.can(name)]
        members = {m.id: m.name for m in
                   await users.list_members(principal, principal.organization_id)}
        return _settings_page(request, "api-keys", "api_keys.html", keys=keys, scopes=scopes,
                              members=members, now=datetime.now(UTC),
                              min_expiry=(date.today() + timedelta(days=1)).isoformat())

    @get("/settings/audit", opt={"permission": "read:audit"})
    async def audit_log(self, request: Request, principal: PrincipalDep) -> Template:
        query = request.query_params
        errors: list[str] = []
        action = (query.get("action") or "").strip()[:80] or None
        user_id = (query.get("userId") or "").strip()[:64] or None
        since = _day(query.get("since"), "From", errors)
        until = _day(query.get("until"), "To", errors)
        cursor = (query.get("cursor") or "")[:200] or None
        try:
            result = await audit.list_entries(
                principal, user_id=user_id, action=action,
                since=datetime.combine(since, time(), UTC) if since else None,
                # "To" is inclusive: everything before the next midnight.
                until=datetime.combine(until + timedelta(days=1), time(), UTC) if until else None,
                after=cursor, limit=AUDIT_PAGE,
            )
        except ValidationError:
            errors.append("That page link is no longer valid; showing the newest entries.")
            result = await audit.list_entries(principal, user_id=user_id, action=action,
                                              limit=AUDIT_PAGE)
            cursor = None
        members = await users.list_members(principal, principal.organization_id)
        filters = {"action": action or "", "userId": user_id or "",
                   "since": since.isoformat() if since else "",
                   "until": until.isoformat() if until else ""}
        return _settings_page(request, "audit", "audit.html", entries=result.items,
                              next_cursor=result.next_cursor, paged=cursor is not None,
                              members=members, names={m.id: m.name for m in members},
                              filters=filters, errors=errors)

    # /settings/ai and /settings/knowledge-base: wacc/ui/ai_pages.py.
