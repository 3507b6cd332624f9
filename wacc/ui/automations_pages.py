"""Automation pages: the list, the step builder, and the execution log.

Pages read through wacc.automations.services as the signed-in person; every write (save,
enable, delete, dry run) is the browser calling /api/v1/automations with the session
cookie, so validation, permissions and audit stay the API's. The builder's state lives
in static/js/automations.js; this module hands it the saved definition and what the
definition may name (tags, users, custom fields) as JSON.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import QueryParameter
from litestar.response import Template

from wacc.automations import services
from wacc.automations.definition import MATCH_MODES, PRIORITIES, STATUSES, TRIGGERS
from wacc.automations.schemas import AutomationId, AutomationOut, ExecutionId
from wacc.customfields import services as customfields
from wacc.http.deps import PrincipalDep
from wacc.lib.errors import WaccError
from wacc.security.principal import Principal
from wacc.tags import services as tags
from wacc.ui.render import page, to_plain
from wacc.users import services as users

READ = {"permission": "read:automations"}
WRITE = {"permission": "write:automations"}
PAGE_SIZE = 50

TRIGGER_LABELS = {
    "message.received": "A message arrives",
    "conversation.created": "A conversation starts",
    "conversation.status_changed": "A conversation's status changes",
    "conversation.assigned": "A conversation is assigned",
    "contact.created": "A contact is created",
    "tag.added": "A tag is added",
    "no_reply": "No reply for a while",
    "outside_business_hours": "A message arrives outside business hours",
    "schedule": "On a schedule",
    "webhook": "An incoming webhook",
}


def trigger_summary(trigger: dict[str, Any], tag_names: dict[str, str]) -> str:
    """One line in words for the list: what starts the automation."""
    kind = trigger.get("type", "")
    label = TRIGGER_LABELS.get(kind, kind)
    if kind == "message.received":
        match = trigger.get("match", "any")
        if match == "keywords":
            words = ", ".join(trigger.get("keywords") or [])
            return f"{label} with the keywords {words} ({trigger.get('mode', 'contains')})"
        if match == "regex":
            return f"{label} matching /{trigger.get('pattern', '')}/"
        if match == "firstMessageOfNewContact":
            return f"{label} (first message of a new contact)"
    if kind == "no_reply":
        return f"No reply for {trigger.get('minutes')} minutes"
    if kind == "schedule":
        return f"{label}: {trigger.get('cron', '')}"
    if kind == "tag.added":
        return f"{label}: {tag_names.get(trigger.get('tagId', ''), 'a deleted tag')}"
    if kind == "conversation.status_changed" and trigger.get("to"):
        return f"{label} to {', '.join(trigger['to'])}"
    return label


async def _catalog(principal: Principal) -> dict[str, Any]:
    """What a definition may name, for the builder's selects. A list the role cannot
    read is left empty rather than failing the page (the API checks the ids anyway)."""
    out: dict[str, Any] = {"tags": [], "users": [], "fields": []}
    try:
        out["tags"] = [{"id": t.id, "name": t.name} for t in await tags.list_tags(principal)]
        out["users"] = [{"id": u.id, "name": u.name} for u in
                        await users.list_members(principal, principal.organization_id)]
        out["fields"] = [{"key": f.key, "name": f.name, "type": str(f.type.value),
                          "options": f.options} for f in await customfields.list_fields(principal)]
    except WaccError:
        pass
    out.update(triggers=[{"type": t, "label": TRIGGER_LABELS[t]} for t in TRIGGERS],
               statuses=list(STATUSES), priorities=list(PRIORITIES), modes=list(MATCH_MODES))
    return out


class AutomationPages(Controller):
    include_in_schema = False

    @get("/automations", opt=READ)
    async def list_page(self, request: Request, principal: PrincipalDep) -> Template:
        automations = await services.list_automations(principal)
        tag_names = {t.id: t.name for t in await tags.list_tags(principal)}
        rows = [{"a": a, "summary": trigger_summary(a.trigger, tag_names),
                 "steps": len(a.actions)} for a in automations]
        return page(request, "automations/list.html", section="automations", rows=rows,
                    can_write=principal.can("write:automations"))

    @get("/automations/new", opt=WRITE)
    async def new_page(self, request: Request, principal: PrincipalDep) -> Template:
        return await self._builder(request, principal, None)

    @get("/automations/{automationId:str}", opt=READ)
    async def edit_page(self, request: Request, principal: PrincipalDep,
                        automation_id: AutomationId) -> Template:
        return await self._builder(request, principal,
                                   await services.get_automation(principal, automation_id))

    async def _builder(self, request: Request, principal: Principal,
                       automation: AutomationOut | None) -> Template:
        state = to_plain(automation) if automation else {
            "id": None, "name": "", "description": "", "enabled": True,
            "trigger": {"type": "message.received", "match": "keywords", "keywords": [],
                        "mode": "contains"},
            "conditions": None, "actions": []}
        return page(request, "automations/builder.html", section="automations",
                    automation=automation, state=state, catalog=await _catalog(principal),
                    can_write=principal.can("write:automations"))

    @get("/automations/{automationId:str}/executions", opt=READ)
    async def executions_page(
        self, request: Request, principal: PrincipalDep, automation_id: AutomationId,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Template:
        automation = await services.get_automation(principal, automation_id)
        runs = await services.list_executions(principal, automation_id, cursor, PAGE_SIZE)
        return page(request, "automations/executions.html", section="automations",
                    automation=automation, runs=runs, cursor=cursor)

    @get("/automations/{automationId:str}/executions/{executionId:str}", opt=READ)
    async def execution_page(self, request: Request, principal: PrincipalDep, automation_id: AutomationId,
                             execution_id: ExecutionId) -> Template:
        automation = await services.get_automation(principal, automation_id)
        run = await services.get_execution(principal, automation_id, execution_id)
        return page(request, "automations/execution.html", section="automations",
                    automation=automation, run=run)
