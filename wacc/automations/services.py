"""Automations: saved rules (trigger, conditions, steps), their runs, and dry runs.

Everything here is scoped by the caller's organization. Stats are counted from the
runs when read (one grouped query), so they are exact without a counter to keep in
step with every run.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import msgspec

from wacc.automations import actions, conditions, definition, engine, queries, signing, triggers
from wacc.automations.conditions import Catalog
from wacc.automations.schemas import (
    AutomationCreate,
    AutomationOut,
    AutomationUpdate,
    DryRunCase,
    DryRunDefinition,
    DryRunIn,
    DryRunOut,
    ExecutionOut,
    ExecutionPage,
    HookAccepted,
    Stats,
    StepLog,
)
from wacc.automations.tables import Automation, AutomationExecution
from wacc.conditions.language import Bad
from wacc.customfields import services as customfields
from wacc.customfields.tables import CustomField
from wacc.lib import cursor
from wacc.lib.clock import iso, utcnow
from wacc.lib.errors import NotFoundError, ValidationError
from wacc.lib.ids import new_id
from wacc.messages.tables import Message, MessageDirection
from wacc.orgs import services as orgs
from wacc.runtime import Runtime
from wacc.security.crypto import Keyring
from wacc.security.principal import Principal
from wacc.tags.tables import Tag
from wacc.users.tables import User

MAX_PAGE = 100
HOOK_PATH = "/api/v1/automations/hooks/"


async def catalog(organization_id: str) -> Catalog:
    """What this organization's definitions may name (tags, fields, users are few)."""
    fields = {r["key"]: r for r in await CustomField.select().where(
        CustomField.organization == organization_id).output(load_json=True)}
    tag_ids = frozenset(r["id"] for r in await Tag.select(Tag.id).where(
        Tag.organization == organization_id))
    user_ids = frozenset(r["id"] for r in await User.select(User.id).where(
        User.organization == organization_id))
    org = await orgs.get_by_id(organization_id)
    settings = org.settings or {}
    hours = settings.get("businessHours")
    if hours is not None:
        try:
            hours = conditions.check_hours(hours, "businessHours")
        except Bad:
            hours = None
    return Catalog(fields=fields, tag_ids=tag_ids, user_ids=user_ids,
                   timezone=settings.get("timezone") or "UTC", hours=hours, org_name=org.name)


async def _checked(organization_id: str, trigger: Any, conds: Any,
                   steps: Any) -> tuple[dict[str, Any], dict[str, Any] | None, list[Any]]:
    trig, cond, acts = definition.validate(trigger, conds, steps, await catalog(organization_id))
    await _check_fields(organization_id, acts)
    for _, step in definition._walk(acts, "actions"):
        if step["type"] == "call_webhook" and "secret" not in step:
            step["secret"] = secrets.token_urlsafe(24)  # signed always; shown to managers
    return trig, cond, acts


async def _check_fields(organization_id: str, steps: list[Any]) -> None:
    """A set_field value must be one the field accepts (the contacts' own check)."""
    details = []
    for path, step in definition._walk(steps, "actions"):
        if step["type"] != "set_field" or step["value"] is None:
            continue
        try:
            checked = await customfields.validate_values(
                organization_id, {step["key"]: step["value"]}, partial=True)
            step["value"] = checked.get(step["key"], step["value"])
        except ValidationError as exc:
            details += [{"field": f"{path}.value", "message": d.get("message", "")}
                        for d in exc.details]
    if details:
        raise ValidationError("Invalid automation", details)


def _name(raw: str) -> str:
    name = raw.strip()
    if not name or "\x00" in name:
        raise ValidationError.field("name", "must not be blank or hold a NUL character")
    return name


async def _stats(ids: list[str]) -> dict[str, Stats]:
    out = {i: Stats() for i in ids}
    if not ids:
        return out
    rows = await AutomationExecution.raw(
        "SELECT automation AS a, status AS s, COUNT(*) AS n, MAX(started_at) AS last "
        f"FROM automation_execution WHERE automation IN ({', '.join('{}' for _ in ids)}) "
        "GROUP BY automation, status", *ids)
    for r in rows:
        stats = out[r["a"]]
        stats.runs += int(r["n"])
        if r["s"] == "COMPLETED":
            stats.completed += int(r["n"])
        elif r["s"] == "FAILED":
            stats.failed += int(r["n"])
        last = r["last"]
        last_text = iso(last) if isinstance(last, datetime) else (str(last) if last else None)
        if last_text and (stats.last_run_at is None or last_text > stats.last_run_at):
            stats.last_run_at = last_text
    return out


def _out(row: dict[str, Any], stats: Stats, reveal: Keyring | None = None,
         **extra: Any) -> AutomationOut:
    steps = row["actions"] or []
    # Webhook signing secrets: masked, except in the answer to the write that set them.
    steps = signing.revealed(reveal, steps) if reveal is not None else signing.masked(steps)
    return AutomationOut(
        id=row["id"], name=row["name"], description=row["description"], enabled=row["enabled"],
        trigger=row["trigger"] or {}, conditions=row["conditions"], actions=steps,
        stats=stats, version=row["version"], created_at=row["created_at"],
        updated_at=row["updated_at"], **extra)


async def _row(principal: Principal, automation_id: str) -> dict[str, Any]:
    row = await Automation.select().where(
        (Automation.id == automation_id) & (Automation.organization == principal.organization_id)
    ).output(load_json=True).first()
    if row is None:
        raise NotFoundError("Automation not found")
    return row


async def list_automations(principal: Principal) -> list[AutomationOut]:
    rows = await Automation.select().where(
        Automation.organization == principal.organization_id).output(load_json=True)
    rows.sort(key=lambda r: (r["name"].casefold(), r["id"]))
    stats = await _stats([r["id"] for r in rows])
    return [_out(r, stats[r["id"]]) for r in rows]


async def get_automation(principal: Principal, automation_id: str, reveal: Keyring | None = None,
                         **extra: Any) -> AutomationOut:
    row = await _row(principal, automation_id)
    return _out(row, (await _stats([row["id"]]))[row["id"]], reveal, **extra)


def _new_token(base_url: str) -> tuple[str, dict[str, Any]]:
    token = secrets.token_urlsafe(32)
    return triggers.token_hash(token), {
        "webhook_token": token, "webhook_url": base_url.rstrip("/") + HOOK_PATH + token}


async def create_automation(principal: Principal, data: AutomationCreate,
                            base_url: str, keyring: Keyring) -> AutomationOut:
    name = _name(data.name)
    trig, cond, acts = await _checked(principal.organization_id, data.trigger, data.conditions,
                                      data.actions)
    signing.seal(keyring, acts)
    automation_id, token_hash = new_id(), None
    shown: dict[str, Any] = {}
    if trig["type"] == "webhook":
        token_hash, shown = _new_token(base_url)
    await Automation.insert(Automation(
        id=automation_id, organization=principal.organization_id, name=name,
        description=data.description, enabled=data.enabled, trigger=trig, conditions=cond,
        actions=acts, webhook_token_hash=token_hash))
    return await get_automation(principal, automation_id, keyring, **shown)


async def update_automation(principal: Principal, automation_id: str, data: AutomationUpdate,
                            base_url: str, keyring: Keyring) -> AutomationOut:
    """Checked as a whole before anything is written. Runs already started keep the
    steps they started with."""
    row = await _row(principal, automation_id)
    updates: dict[Any, Any] = {}
    shown: dict[str, Any] = {}
    if data.name is not None:
        updates[Automation.name] = _name(data.name)
    if data.description is not None:
        updates[Automation.description] = data.description or None
    if data.enabled is not None:
        updates[Automation.enabled] = data.enabled
    if data.actions is not None:
        signing.restore_masked(keyring, data.actions, row["actions"] or [])
    if data.trigger is not None or data.conditions is not None or data.actions is not None:
        trig, cond, acts = await _checked(
            principal.organization_id, row["trigger"] if data.trigger is None else data.trigger,
            row["conditions"] if data.conditions is None else data.conditions,
            row["actions"] if data.actions is None else data.actions)
        signing.seal(keyring, acts)
        updates.update({Automation.trigger: trig, Automation.conditions: cond,
                        Automation.actions: acts})
        if trig["type"] == "webhook" and not row["webhook_token_hash"]:
            updates[Automation.webhook_token_hash], shown = _new_token(base_url)
        elif trig["type"] != "webhook":
            updates[Automation.webhook_token_hash] = None
    if updates:
        updates[Automation.updated_at] = utcnow()
        updates[Automation.version] = row["version"] + 1
        await Automation.update(updates).where(Automation.id == automation_id)
    return await get_automation(principal, automation_id,
                                keyring if data.actions is not None else None, **shown)


async def toggle(principal: Principal, automation_id: str) -> AutomationOut:
    row = await _row(principal, automation_id)
    await Automation.update({Automation.enabled: not row["enabled"],
                             Automation.updated_at: utcnow()}).where(
        Automation.id == automation_id)
    return await get_automation(principal, automation_id)


async def delete_automation(principal: Principal, automation_id: str) -> None:
    await _row(principal, automation_id)
    await Automation.delete().where(Automation.id == automation_id)


# -- runs ------------------------------------------------------------------------------


def _execution_out(row: dict[str, Any], with_logs: bool) -> ExecutionOut:
    state = row["state"] or {}
    logs = [msgspec.convert(entry, StepLog) for entry in row["logs"] or []] if with_logs else None
    return ExecutionOut(
        id=row["id"], automation_id=row["automation"], status=row["status"],
        trigger=row["trigger"], event=row["event"], contact_id=row["contact"],
        conversation_id=row["conversation"], step=row["step"],
        waiting_until=row["resume_at"] if state.get("waiting") else None, depth=row["depth"],
        error=row["error"], started_at=row["started_at"], completed_at=row["completed_at"],
        logs=logs)


async def list_executions(principal: Principal, automation_id: str, after: str | None,
                          limit: int) -> ExecutionPage:
    """Newest first; ``after`` is the previous page's cursor."""
    await _row(principal, automation_id)
    where: Any = AutomationExecution.automation == automation_id
    if after:
        at, last_id = cursor.decode_time(after)
        where &= (AutomationExecution.started_at < at) | (
            (AutomationExecution.started_at == at) & (AutomationExecution.id < last_id))
    rows = await AutomationExecution.select().where(where).order_by(
        AutomationExecution.started_at, ascending=False).order_by(
        AutomationExecution.id, ascending=False).limit(limit + 1).output(load_json=True)
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = cursor.encode(last["started_at"].isoformat(), last["id"])
    return ExecutionPage(items=[_execution_out(r, False) for r in rows[:limit]],
                         next_cursor=next_cursor)


async def get_execution(principal: Principal, automation_id: str,
                        execution_id: str) -> ExecutionOut:
    await _row(principal, automation_id)
    row = await AutomationExecution.select().where(
        (AutomationExecution.id == execution_id)
        & (AutomationExecution.automation == automation_id)).output(load_json=True).first()
    if row is None:
        raise NotFoundError("Execution not found")
    return _execution_out(row, True)


# -- the inbound webhook ---------------------------------------------------------------


async def receive_hook(rt: Runtime, token: str, payload: Any) -> HookAccepted:
    """Start a webhook-triggered automation. An unknown token is a 404, as for any
    missing resource: a caller learns nothing about which tokens exist."""
    row = await Automation.select().where(
        Automation.webhook_token_hash == triggers.token_hash(token)).output(
        load_json=True).first()
    if row is None or not row["enabled"] or (row["trigger"] or {}).get("type") != "webhook":
        raise NotFoundError("Not found")
    if not isinstance(payload, dict):
        raise ValidationError("The body must be a JSON object")
    event = {"kind": "webhook", "organizationId": row["organization"], "id": new_id(),
             "automationId": row["id"], "at": iso(utcnow()), "payload": payload}
    started = await engine.consider(rt, [row], event)
    return HookAccepted(execution_id=started[0] if started else None)


# -- dry runs --------------------------------------------------------------------------


async def _sample_events(principal: Principal, data: DryRunIn,
                         trigger: dict[str, Any]) -> list[dict[str, Any]]:
    org = principal.organization_id
    if data.event is not None:
        kind = data.event.get("kind") or triggers.LISTENS.get(trigger.get("type", ""), "")
        return [{"id": "dry-run", "at": iso(utcnow()), **data.event, "kind": kind,
                 "organizationId": org}]
    if data.recent is None and data.since is None:
        raise ValidationError.field("event", "give an event, recent or since")
    where: Any = ((Message.organization == org)
                  & (Message.direction == MessageDirection.INBOUND.value))
    if data.since is not None:
        if data.since.tzinfo is None:
            raise ValidationError.field("since", "must include a timezone")
        where &= Message.timestamp >= data.since
    rows = await Message.select(Message.id, Message.conversation, Message.session, Message.type,
                                Message.body, Message.timestamp).where(where).order_by(
        Message.timestamp, ascending=False).limit(data.recent or 50)
    return [{"kind": "message.received", "id": f"dry-run:{r['id']}", "organizationId": org,
             "messageId": r["id"], "conversationId": r["conversation"],
             "sessionId": r["session"], "type": r["type"], "body": r["body"], "fromMe": False,
             "at": iso(r["timestamp"])} for r in rows]


# A sample message comes from nobody: without a stand-in every step said "would fail:
# this run has no conversation to act on" and {{contact.name}} rendered empty ("Hi !").
SAMPLE_CONTACT: dict[str, Any] = {"id": "sample", "name": "Sample Customer", "phone": "+15550100000",
                  "email": "sample.customer@example.com", "language": None, "custom": {},
                  "tags": []}


def _with_sample_customer(ctx: dict[str, Any], event: dict[str, Any]) -> None:
    """Fill what a sample event names none of: the sample customer's open conversation
    and the message itself. What the event does name (a real conversation) stays."""
    if ctx["contact"] is None and ctx["conversation"] is None:
        ctx["contact"] = {**SAMPLE_CONTACT, "isNew": bool(event.get("newContact"))}
        ctx["conversation"] = {"id": "sample", "status": "OPEN", "priority": "NORMAL",
                               "sessionId": event.get("sessionId"), "assignees": [],
                               "tags": []}
    if ctx["message"] is None and ctx["conversation"] is not None and "body" in event:
        ctx["message"] = {"id": "sample", "body": event.get("body"),
                          "type": event.get("type") or "TEXT", "direction": "INBOUND",
                          "fromMe": bool(event.get("fromMe")), "metadata": {},
                          "idempotencyKey": None}


async def dry_run(principal: Principal, data: DryRunIn, trigger: Any, conds: Any,
                  steps: Any) -> DryRunOut:
    """What the automation would do for each sample, changing nothing: no run is
    stored, no step acts; templates are filled and an assignee is chosen, not set."""
    trig, cond, acts = definition.validate(trigger, conds, steps,
                                           await catalog(principal.organization_id))
    cases = []
    for event in await _sample_events(principal, data, trig):
        ctx = await queries.load_context(principal.organization_id, event)
        if data.event is not None:
            _with_sample_customer(ctx, event)
        ctx["automationId"] = event.get("automationId")
        fired = triggers.matches(trig, event, ctx)
        held = fired and conditions.matches(cond, ctx)
        planned = await _plan(acts, ctx) if held else []
        cases.append(DryRunCase(event=event, triggered=fired, conditions_met=held,
                                steps=planned,
                                reason=None if held else ("trigger" if not fired else "conditions")))
    return DryRunOut(items=cases)


async def _plan(acts: list[Any], ctx: dict[str, Any]) -> list[dict[str, Any]]:
    flat, pc, out = engine.program(acts), 0, []
    while pc < len(flat):
        step = flat[pc]
        if step["type"] == "_jump":
            pc = step["_jump"]
            continue
        if step["type"] == "if":
            held = conditions.matches(step["conditions"], ctx)
            out.append({"type": "if", "path": step["_path"], "branch": "then" if held else "else"})
            pc = pc + 1 if held else step["_else"]
            continue
        described = await actions.describe(step, ctx)
        out.append({**described, "path": step["_path"]})
        if step["type"] == "stop":
            break
        pc += 1
    return out


async def dry_run_saved(principal: Principal, automation_id: str, data: DryRunIn) -> DryRunOut:
    row = await _row(principal, automation_id)
    return await dry_run(principal, data, row["trigger"], row["conditions"], row["actions"])


async def dry_run_definition(principal: Principal, data: DryRunDefinition) -> DryRunOut:
    return await dry_run(principal, data, data.trigger, data.conditions, data.actions)
