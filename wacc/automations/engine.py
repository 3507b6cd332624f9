"""Runs: from an event to an execution, step by step, with waits that survive restarts.

An event (wacc.events, or the clock and webhooks of wacc.automations.triggers) is
matched against the organization's enabled automations; each match inserts one
AutomationExecution keyed by (automation, event id) — an event delivered again finds the
row there and starts nothing — then the worker runs it ("automations.run").

A run holds a lease while it works: ``resume_at`` is pushed LEASE ahead, and a runner
only claims a RUNNING execution whose ``resume_at`` has passed. A wait step sets
``resume_at`` to the wake-up time and schedules a delayed job; the every-minute sweep
also resumes anything due for GRACE, so a lost job delays a run by a minute or two. A run
interrupted mid-step (the worker died) is resumed by the sweep once its lease has
expired, at the step it was in: that step runs again (sends are deduplicated by an
idempotency key; a webhook may be called twice, with the same X-Wacc-Delivery). A step
interrupted MAX_ATTEMPTS times fails the run.

Loops: events caused while a run acts carry ``causedBy`` and ``depth``
(wacc.events.cause); an automation ignores events it caused itself, and a run deeper
than MAX_DEPTH fails instead of acting.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from wacc import events, outbox
from wacc.automations import actions, conditions, triggers
from wacc.automations.queries import Context, load_context
from wacc.automations.tables import Automation, AutomationExecution, ExecutionStatus
from wacc.db.engine import transaction
from wacc.db.outage import database_unavailable
from wacc.lib.clock import iso, utcnow
from wacc.lib.errors import WaccError
from wacc.lib.ids import new_id
from wacc.logs import get_logger
from wacc.runtime import Runtime

log = get_logger(__name__)

RUN_JOB = "automations.run"
SWEEP_JOB = "automations.sweep"
LEASE = timedelta(minutes=5)
# A delayed job may fire a moment before the time it was set for.
EARLY = timedelta(seconds=2)
# The sweep leaves a due run this long to its own job, so a busy queue does not get
# every waiting run again each minute.
GRACE = timedelta(seconds=30)
MAX_DEPTH = 5
MAX_ATTEMPTS = 3
MAX_LOGS = 200


def _own_output(automation_id: str, event: dict[str, Any], ctx: Context) -> bool:
    """Whether the event comes from this automation's own doing."""
    if event.get("causedBy") == automation_id:
        return True
    message = ctx.get("message") or {}
    key = message.get("idempotencyKey") or ""
    return ((message.get("metadata") or {}).get("automationId") == automation_id
            or key.startswith(f"auto:{automation_id}:"))


# -- starting runs ---------------------------------------------------------------------


async def _enabled(organization_id: str, kind: str) -> list[dict[str, Any]]:
    rows = await Automation.select().where(
        (Automation.organization == organization_id) & (Automation.enabled == True)  # noqa: E712
    ).output(load_json=True)
    return [r for r in rows
            if triggers.LISTENS.get(str((r["trigger"] or {}).get("type"))) == kind]


async def on_event(event: dict[str, Any], rt: Runtime) -> None:
    """The ``wacc_event_handlers`` handler: start every automation the event matches."""
    if event.get("kind") not in triggers.DURABLE_KINDS:
        return
    found = await _enabled(event["organizationId"], event["kind"])
    if found:
        await consider(rt, found, event)


async def consider(rt: Runtime, automations: list[dict[str, Any]], event: dict[str, Any],
                   ctx: Context | None = None) -> list[str]:
    """Start the runs *event* calls for; returns their execution ids."""
    ctx = ctx or await load_context(event["organizationId"], event)
    started = []
    for automation in automations:
        if _own_output(automation["id"], event, ctx):
            continue
        here = {**ctx, "automationId": automation["id"]}
        if not triggers.matches(automation["trigger"], event, here):
            continue
        if not conditions.matches(automation["conditions"], here):
            continue
        execution_id = await start(rt, automation, event, here)
        if execution_id:
            started.append(execution_id)
    return started


async def start(rt: Runtime, automation: dict[str, Any], event: dict[str, Any],
                ctx: Context) -> str | None:
    """Insert the run (once per automation and event) and queue it."""
    depth = int(event.get("depth") or 0)
    execution_id = new_id()
    # The run and its job commit together (the transactional outbox).
    async with transaction():
        inserted = await AutomationExecution.insert(AutomationExecution(
            id=execution_id, automation=automation["id"], organization=automation["organization"],
            contact=(ctx.get("contact") or {}).get("id"),
            conversation=(ctx.get("conversation") or {}).get("id"),
            status=ExecutionStatus.RUNNING.value, trigger=automation["trigger"]["type"],
            event=event, event_key=str(event["id"])[:200], step=0, depth=depth,
            state={"actions": automation["actions"], "version": automation["version"]},
            resume_at=utcnow(), logs=[],
        )).on_conflict(action="DO NOTHING").returning(AutomationExecution.id)
        if inserted and depth <= MAX_DEPTH:
            await outbox.add(RUN_JOB, execution_id, subject=execution_id)
    if not inserted:
        return None  # this event already started this automation
    if depth > MAX_DEPTH:
        await _finish(execution_id, ExecutionStatus.FAILED, [_log(0, "actions", "stop", {},
                      "failed", f"automation chain deeper than {MAX_DEPTH}: stopped")],
                      f"automation chain deeper than {MAX_DEPTH}: stopped")
    return execution_id


# -- running ---------------------------------------------------------------------------


def program(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The step tree as a flat list with jumps, so one number says where a run is."""
    out: list[dict[str, Any]] = []
    _emit(steps, "actions", out)
    return out


def _emit(steps: list[dict[str, Any]], path: str, out: list[dict[str, Any]]) -> None:
    for i, step in enumerate(steps):
        here = f"{path}[{i}]"
        if step["type"] != "if":
            out.append({**step, "_path": here})
            continue
        branch: dict[str, Any] = {"type": "if", "conditions": step["conditions"], "_path": here}
        out.append(branch)
        _emit(step["then"], f"{here}.then", out)
        jump: dict[str, Any] = {"type": "_jump", "_path": here}
        out.append(jump)
        branch["_else"] = len(out)
        _emit(step["else"], f"{here}.else", out)
        jump["_jump"] = len(out)


def _summary(step: dict[str, Any]) -> dict[str, Any]:
    """A step's settings for its log line: no secret, long texts cut."""
    return {k: (v[:200] if isinstance(v, str) else v) for k, v in step.items()
            if k not in ("type", "secret", "conditions") and not k.startswith("_")}


def _log(step: int, path: str, kind: str, data: dict[str, Any], outcome: str,
         error: str | None = None, ms: int = 0) -> dict[str, Any]:
    return {"step": step, "path": path, "type": kind, "input": data, "outcome": outcome,
            "error": error, "at": iso(utcnow()), "ms": ms}


async def _finish(execution_id: str, status: ExecutionStatus, logs: list[dict[str, Any]],
                  error: str | None = None) -> None:
    await AutomationExecution.update({
        AutomationExecution.status: status.value, AutomationExecution.completed_at: utcnow(),
        AutomationExecution.error: error, AutomationExecution.logs: logs[-MAX_LOGS:],
        AutomationExecution.resume_at: None,
    }).where(AutomationExecution.id == execution_id)


# Runs this process leased whose job failed because the database went away: the job's
# retry (wacc.outbox.retry_when_away) takes its own lease again instead of waiting for
# it to expire (LEASE) and the sweep.
_leased: set[str] = set()


async def _claim(execution_id: str) -> dict[str, Any] | None:
    now = utcnow()
    due: Any = AutomationExecution.resume_at <= now + EARLY
    if execution_id in _leased:
        due = due | (AutomationExecution.resume_at <= now + LEASE)
    claimed = await AutomationExecution.update({
        AutomationExecution.resume_at: now + LEASE}).where(
        (AutomationExecution.id == execution_id)
        & (AutomationExecution.status == ExecutionStatus.RUNNING.value)
        & due).returning(AutomationExecution.id)
    if not claimed:
        return None
    return await AutomationExecution.select().where(
        AutomationExecution.id == execution_id).output(load_json=True).first()


async def run(rt: Runtime, execution_id: str) -> str | None:
    """Run (or resume) one execution as far as it goes; returns its status, or None
    when another runner holds it or it is finished."""
    row = await _claim(execution_id)
    if row is None:
        return None
    _leased.add(execution_id)
    try:
        done = await _run_leased(rt, row)
    except Exception as exc:
        if not database_unavailable(exc):
            _leased.discard(execution_id)
        raise
    _leased.discard(execution_id)
    return done


async def _run_leased(rt: Runtime, row: dict[str, Any]) -> str | None:
    execution_id = row["id"]
    automation = await Automation.select(Automation.enabled).where(
        Automation.id == row["automation"]).first()
    logs: list[dict[str, Any]] = list(row["logs"] or [])
    state: dict[str, Any] = dict(row["state"] or {})
    if automation is None or not automation["enabled"]:
        await _finish(execution_id, ExecutionStatus.CANCELLED, logs, "automation disabled")
        return ExecutionStatus.CANCELLED.value
    flat = program(state.get("actions") or [])
    pc = int(row["step"])
    if state.get("started") == pc and not state.get("waiting"):
        state["attempts"] = int(state.get("attempts", 1)) + 1
        if state["attempts"] > MAX_ATTEMPTS:
            await _finish(execution_id, ExecutionStatus.FAILED, logs,
                          f"step {pc} was interrupted {MAX_ATTEMPTS} times")
            return ExecutionStatus.FAILED.value
    event = row["event"] or {}
    token = events.cause.set({"causedBy": row["automation"], "depth": int(row["depth"]) + 1})
    try:
        return await _steps(rt, row, flat, pc, state, logs, event)
    finally:
        events.cause.reset(token)


async def _save(execution_id: str, pc: int, state: dict[str, Any], logs: list[dict[str, Any]],
                resume_at: datetime) -> None:
    await AutomationExecution.update({
        AutomationExecution.step: pc, AutomationExecution.state: state,
        AutomationExecution.logs: logs[-MAX_LOGS:], AutomationExecution.resume_at: resume_at,
    }).where(AutomationExecution.id == execution_id)


async def _steps(rt: Runtime, row: dict[str, Any], flat: list[dict[str, Any]], pc: int,
                 state: dict[str, Any], logs: list[dict[str, Any]],
                 event: dict[str, Any]) -> str:
    execution_id = row["id"]
    ctx = await load_context(row["organization"], event)
    info = {"id": execution_id, "automationId": row["automation"], "step": pc}
    if state.pop("waiting", False):
        logs.append(_log(pc - 1, flat[pc - 1]["_path"], "wait", {}, "resumed"))
    while pc < len(flat):
        step = flat[pc]
        kind = step["type"]
        if kind == "_jump":
            pc = step["_jump"]
            continue
        if kind == "if":
            held = conditions.matches(step["conditions"], ctx)
            logs.append(_log(pc, step["_path"], "if", {}, "then" if held else "else"))
            pc = pc + 1 if held else step["_else"]
            continue
        if kind == "stop":
            logs.append(_log(pc, step["_path"], "stop", {}, "stopped"))
            break
        if kind == "wait":
            wake = utcnow() + timedelta(seconds=step["seconds"])
            logs.append(_log(pc, step["_path"], "wait", {"seconds": step["seconds"]},
                             "waiting", None))
            state.update(waiting=True, started=None, attempts=0)
            # The wait and its wake-up commit together; the outbox holds the wake-up until
            # it is due (wacc.outbox), so a Redis restart cannot lose it.
            async with transaction():
                await _save(execution_id, pc + 1, state, logs, wake)
                await outbox.add(RUN_JOB, execution_id, subject=execution_id,
                                 delay=step["seconds"])
            return ExecutionStatus.RUNNING.value
        state.update(started=pc, attempts=state.get("attempts", 1) if state.get("started") == pc
                     else 1)
        await _save(execution_id, pc, state, logs, utcnow() + LEASE)
        began = utcnow()
        info["step"] = pc
        try:
            data = await actions.execute(rt, step, ctx, info)
        except (actions.StepError, WaccError) as exc:
            ms = int((utcnow() - began).total_seconds() * 1000)
            logs.append(_log(pc, step["_path"], kind, _summary(step), "failed", str(exc)[:500],
                             ms))
            await _finish(execution_id, ExecutionStatus.FAILED, logs, str(exc)[:500])
            return ExecutionStatus.FAILED.value
        except Exception as exc:
            if database_unavailable(exc):
                raise  # not the step's fault: the job is retried once the database is back
            log.exception("automation step crashed", execution=execution_id, step=pc)
            logs.append(_log(pc, step["_path"], kind, _summary(step), "failed",
                             type(exc).__name__))
            await _finish(execution_id, ExecutionStatus.FAILED, logs, "internal error")
            return ExecutionStatus.FAILED.value
        ms = int((utcnow() - began).total_seconds() * 1000)
        logs.append(_log(pc, step["_path"], kind, {**_summary(step), **data}, "done", None, ms))
        state.update(started=None, attempts=0)
        pc += 1
        ctx = await load_context(row["organization"], event)  # the step may have changed it
    await _finish(execution_id, ExecutionStatus.COMPLETED, logs)
    return ExecutionStatus.COMPLETED.value


# -- the sweep -------------------------------------------------------------------------


async def resume_due(rt: Runtime, now: datetime | None = None) -> int:
    """Queue every run due for a while whose job has not taken it (lost, or its runner
    vanished); returns how many."""
    due = await AutomationExecution.select(AutomationExecution.id).where(
        (AutomationExecution.status == ExecutionStatus.RUNNING.value)
        & (AutomationExecution.resume_at <= (now or utcnow()) - GRACE)).limit(1000)
    for row in due:
        await outbox.add(RUN_JOB, row["id"], subject=row["id"])
    return len(due)


async def sweep(rt: Runtime, now: datetime | None = None) -> int:
    """Every minute: resume due runs, then start no-reply and scheduled automations."""
    now = now or utcnow()
    resumed = await resume_due(rt, now)
    timed = await Automation.select().where(Automation.enabled == True).output(  # noqa: E712
        load_json=True)
    for automation in timed:
        kind = (automation["trigger"] or {}).get("type")
        if kind not in ("no_reply", "schedule"):
            continue
        try:
            if kind == "no_reply":
                found = await triggers.no_reply_events(automation, now)
            else:
                ctx = await load_context(automation["organization"], {}, now)
                event = triggers.schedule_event(automation, now, ctx["timezone"])
                found = [event] if event else []
            for event in found:
                await consider(rt, [automation], event)
        except Exception:  # one broken automation must not stop the others
            log.exception("timed automation failed", automation=automation["id"])
    return resumed
