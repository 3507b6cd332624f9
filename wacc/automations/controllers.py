"""The automations API, and the public URL that webhook-triggered automations listen on."""

from __future__ import annotations

import json
from typing import Annotated

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import JSONBody, QueryParameter

from wacc.automations import services
from wacc.automations.schemas import (
    AutomationCreate,
    AutomationId,
    AutomationOut,
    AutomationUpdate,
    DryRunDefinition,
    DryRunIn,
    DryRunOut,
    ExecutionId,
    ExecutionOut,
    ExecutionPage,
    HookAccepted,
    HookToken,
    Stats,
)
from wacc.http.deps import PrincipalDep, RuntimeDep
from wacc.lib.errors import ValidationError
from wacc.runtime import Runtime

READ = {"permission": "read:automations"}
WRITE = {"permission": "write:automations"}
HOOK_BODY_CAP = 64 * 1024


def _base_url(rt: Runtime) -> str:
    return rt.settings.public_url


class AutomationController(Controller):
    path = "/automations"
    tags = ["Automations"]
    opt = {"resource": "automation"}

    @get("/", opt=READ)
    async def list_automations(self, principal: PrincipalDep) -> list[AutomationOut]:
        return await services.list_automations(principal)

    @post("/", opt=WRITE, status_code=201)
    async def create_automation(self, principal: PrincipalDep, rt: RuntimeDep,
                                data: JSONBody[AutomationCreate]) -> AutomationOut:
        """A trigger, optional conditions and steps (docs/automations.md); every bad
        node is reported with its place, e.g. ``actions[1].text``. A webhook trigger's
        URL and token are in this answer only."""
        return await services.create_automation(principal, data, _base_url(rt), rt.keyring)

    # Reads that take a body: nothing is stored and no step acts.
    @post("/dry-run", opt={**READ, "audit": "automation.dry_run"}, status_code=200)
    async def dry_run_definition(self, principal: PrincipalDep,
                                 data: JSONBody[DryRunDefinition]) -> DryRunOut:
        """What an unsaved automation would do for a sample ``event``, or for the
        ``recent`` N inbound messages or those ``since`` a time."""
        return await services.dry_run_definition(principal, data)

    @get("/{automationId:str}", opt=READ)
    async def get_automation(self, principal: PrincipalDep, automation_id: AutomationId) -> AutomationOut:
        return await services.get_automation(principal, automation_id)

    @patch("/{automationId:str}", opt=WRITE)
    async def update_automation(self, principal: PrincipalDep, rt: RuntimeDep,
                                automation_id: AutomationId,
                                data: JSONBody[AutomationUpdate]) -> AutomationOut:
        return await services.update_automation(principal, automation_id, data, _base_url(rt), rt.keyring)

    @delete("/{automationId:str}", opt=WRITE, status_code=204)
    async def delete_automation(self, principal: PrincipalDep, automation_id: AutomationId) -> None:
        await services.delete_automation(principal, automation_id)

    @post("/{automationId:str}/toggle", opt=WRITE, status_code=200)
    async def toggle_automation(self, principal: PrincipalDep,
                                automation_id: AutomationId) -> AutomationOut:
        """Enable or disable; a disabled automation's waiting runs are cancelled when due."""
        return await services.toggle(principal, automation_id)

    @post("/{automationId:str}/dry-run", opt=READ, status_code=200)
    async def dry_run_automation(self, principal: PrincipalDep, automation_id: AutomationId,
                                 data: JSONBody[DryRunIn]) -> DryRunOut:
        return await services.dry_run_saved(principal, automation_id, data)

    @get("/{automationId:str}/stats", opt=READ)
    async def automation_stats(self, principal: PrincipalDep, automation_id: AutomationId) -> Stats:
        return (await services.get_automation(principal, automation_id)).stats

    @get("/{automationId:str}/executions", opt=READ)
    async def list_executions(
        self, principal: PrincipalDep, automation_id: AutomationId,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=services.MAX_PAGE)] = 50,
    ) -> ExecutionPage:
        """Newest first, cursor-paginated; each run's step log is on its own page."""
        return await services.list_executions(principal, automation_id, cursor,
                                              limit)

    @get("/{automationId:str}/executions/{executionId:str}", opt=READ)
    async def get_execution(self, principal: PrincipalDep, automation_id: AutomationId,
                            execution_id: ExecutionId) -> ExecutionOut:
        return await services.get_execution(principal, automation_id, execution_id)


class AutomationHookController(Controller):
    """Public: the random token in the URL is the credential (stored hashed)."""

    path = "/automations/hooks"
    tags = ["Automations"]
    opt = {"public": True, "no_audit": True}

    @post("/{token:str}", status_code=202, request_max_body_size=HOOK_BODY_CAP)
    async def receive_hook(self, request: Request, rt: RuntimeDep, token: HookToken) -> HookAccepted:
        """Start the automation; the JSON body is ``{{trigger.<key>}}`` in its steps."""
        raw = await request.body()
        try:
            payload = json.loads(raw or b"{}")
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            raise ValidationError("The body is not JSON") from None
        return await services.receive_hook(rt, token, payload)
