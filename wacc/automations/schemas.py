"""Request and response bodies for automations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.params import PathParameter

from wacc.http.schemas import Input, Name, Output

AutomationId = Annotated[str, PathParameter(name="automationId", min_length=1, max_length=64)]
ExecutionId = Annotated[str, PathParameter(name="executionId", min_length=1, max_length=64)]
HookToken = Annotated[str, PathParameter(name="token", min_length=1, max_length=128)]
Description = Annotated[str, msgspec.Meta(max_length=2000)]
# The definition language is checked by wacc.automations.definition, which names the
# place of each problem (``actions[2].then[0].text``); msgspec only sees JSON.
Steps = Annotated[list[Any], msgspec.Meta(max_length=100)]


class AutomationCreate(Input):
    name: Name
    trigger: dict[str, Any]
    actions: Steps
    description: Description | None = None
    enabled: bool = True
    conditions: dict[str, Any] | None = None


class AutomationUpdate(Input):
    name: Name | None = None
    description: Description | None = None
    enabled: bool | None = None
    trigger: dict[str, Any] | None = None
    conditions: dict[str, Any] | None = None
    actions: Steps | None = None


class Stats(Output):
    runs: int = 0
    completed: int = 0
    failed: int = 0
    last_run_at: str | None = None


class AutomationOut(Output):
    id: str
    name: str
    description: str | None
    enabled: bool
    trigger: dict[str, Any]
    conditions: dict[str, Any] | None
    actions: list[Any]
    stats: Stats
    version: int
    created_at: datetime
    updated_at: datetime
    # Only in the answer that creates the inbound-webhook URL: shown once, stored hashed.
    webhook_url: str | None = None
    webhook_token: str | None = None


class StepLog(Output):
    step: int
    path: str
    type: str
    input: dict[str, Any]
    outcome: str
    error: str | None
    at: str
    ms: int


class ExecutionOut(Output):
    id: str
    automation_id: str
    status: str
    trigger: str
    event: dict[str, Any] | None
    contact_id: str | None
    conversation_id: str | None
    step: int
    waiting_until: datetime | None
    depth: int
    error: str | None
    started_at: datetime
    completed_at: datetime | None
    logs: list[StepLog] | None = None


class ExecutionPage(Output):
    items: list[ExecutionOut]
    next_cursor: str | None


class DryRunIn(Input):
    """What to try the automation on: one sample event, or recent inbound messages."""

    event: dict[str, Any] | None = None
    recent: Annotated[int, msgspec.Meta(ge=1, le=50)] | None = None
    since: datetime | None = None


class DryRunDefinition(DryRunIn, kw_only=True):
    trigger: dict[str, Any]
    conditions: dict[str, Any] | None = None
    actions: Steps


class DryRunCase(Output):
    event: dict[str, Any]
    triggered: bool
    conditions_met: bool
    steps: list[dict[str, Any]]
    reason: str | None = None


class DryRunOut(Output):
    items: list[DryRunCase]


class HookAccepted(Output):
    execution_id: str | None
