"""What each step does when a run reaches it, and what it would do (dry run).

Steps act through the features' own services, as a system principal (an admin without
a user): the same checks, events and live updates as when a person does it. Each
returns a short summary for the run's log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from wacc.ai.knowledge import services as kb
from wacc.ai.responder import replies
from wacc.automations import signing
from wacc.contacts import services as contacts
from wacc.contacts.schemas import ContactUpdate
from wacc.conversations import inbox as conversations
from wacc.conversations import routing
from wacc.conversations.schemas import AssignIn, ConversationPatch, NoteCreate, TagAttach
from wacc.lib import placeholders
from wacc.lib.errors import ConflictError
from wacc.messages import services as messages
from wacc.messages.schemas import MessageSend
from wacc.messages.tables import Message
from wacc.runtime import Runtime
from wacc.security.destinations import refused_destination
from wacc.security.principal import Principal
from wacc.security.roles import Role

Context = dict[str, Any]


class StepError(Exception):
    """A step could not do its work; the run fails with this message."""


def system_principal(organization_id: str) -> Principal:
    return Principal(organization_id=organization_id, role=Role.ADMIN)


def render(template: str, ctx: Context) -> str:
    """Fill ``{{variables}}`` (checked on save); a value the run does not have is empty."""
    return placeholders.render(template, lambda name: lookup(name, ctx))


def lookup(name: str, ctx: Context) -> Any:
    head, _, rest = name.partition(".")
    if head == "org":
        return (ctx.get("org") or {}).get(rest)
    if head == "trigger":
        event = ctx.get("event") or {}
        return (event.get("payload") or {}).get(rest) if event.get("kind") == "webhook" \
            else event.get(rest)
    if head == "contact" and rest.startswith("custom."):
        return ((ctx.get("contact") or {}).get("custom") or {}).get(rest[len("custom."):])
    source = ctx.get(head) or {}
    return source.get(rest)


def _need(ctx: Context, what: str) -> str:
    found = (ctx.get(what) or {}).get("id")
    if not found:
        raise StepError(f"this run has no {what} to act on")
    return str(found)


async def execute(rt: Runtime, step: dict[str, Any], ctx: Context, run: dict[str, Any]) -> dict[str, Any]:
    """Do *step*; returns the log's input summary. Raises StepError (or a service's
    WaccError) when it cannot."""
    kind, org = step["type"], ctx["org"]["id"]
    principal = system_principal(org)
    if kind == "send_message":
        return await _send(rt, principal, step, ctx, run)
    if kind == "ai_reply":
        return await _ai_reply(rt, org, step, ctx, run)
    if kind == "assign":
        cid = _need(ctx, "conversation")
        if "userId" in step:
            await conversations.assign(principal, cid, AssignIn(user_ids=[step["userId"]]),
                                       bus=rt.bus)
            return {"userId": step["userId"]}
        chosen = await routing.assign_next(org, cid, bus=rt.bus, strategy=step["strategy"],
                                           user_ids=step.get("userIds"))
        if chosen is None:
            raise StepError("nobody is free to take the conversation")
        return {"strategy": step["strategy"], "userId": chosen}
    if kind in ("add_tag", "remove_tag"):
        return await _tag(rt, principal, step, ctx)
    if kind == "set_field":
        contact_id = _need(ctx, "contact")
        await contacts.update_contact(org, contact_id, ContactUpdate(
            custom_fields={step["key"]: step["value"]}))
        return {"key": step["key"], "value": step["value"]}
    if kind in ("set_status", "set_priority"):
        field = "status" if kind == "set_status" else "priority"
        await _patch(rt, principal, _need(ctx, "conversation"), field, step[field])
        return {field: step[field]}
    if kind == "add_note":
        text = render(step["text"], ctx)
        await conversations.add_note(principal, _need(ctx, "conversation"),
                                     NoteCreate(content=text[:10000]), bus=rt.bus)
        return {"text": text[:200]}
    if kind == "call_webhook":
        return await call_webhook(rt, step, ctx, run)
    raise StepError(f"unknown step {kind}")


async def _send(rt: Runtime, principal: Principal, step: dict[str, Any], ctx: Context,
                run: dict[str, Any]) -> dict[str, Any]:
    text = render(step["text"], ctx).strip()
    if not text:
        raise StepError("the message is empty once its variables are filled")
    # One key per run and step: a step run again after a crash does not send twice, and
    # the key marks the message as this automation's (loop protection) from its insert.
    key = f"auto:{run['automationId']}:{run['id']}:{run['step']}"
    out, _ = await messages.queue(principal, _need(ctx, "conversation"),
                                  MessageSend(body=text[:4096], idempotency_key=key),
                                  jobs=rt.jobs, bus=rt.bus, media=rt.media)
    await _mark(out.id, run)
    return {"text": text[:200], "messageId": out.id}


async def _ai_reply(rt: Runtime, org: str, step: dict[str, Any], ctx: Context,
                    run: dict[str, Any]) -> dict[str, Any]:
    cid = _need(ctx, "conversation")
    knowledge = None
    if step.get("useKnowledge"):
        question = (ctx.get("message") or {}).get("body") or ""
        # With the organization's embeddings when it has them, as the responder does.
        knowledge = await kb.retrieve(rt, org, question) if question else []
    result = await replies.generate_reply(rt, org, cid, system_prompt=step.get("systemPrompt", ""),
                                          knowledge=knowledge,
                                          knowledge_only=step.get("knowledgeOnly", False),
                                          purpose="automation")
    if result.text is None:
        if result.reason == "not_configured":
            raise StepError("AI is not configured (no enabled provider)")
        return {"outcome": result.reason, "handoff": result.handoff}
    message_id = await replies.send_ai_message(rt, org, cid, result)
    await _mark(message_id, run)
    return {"outcome": result.reason, "messageId": message_id}


async def _mark(message_id: str, run: dict[str, Any]) -> None:
    """Name the automation in the message's metadata (loop protection, and for people)."""
    row = await Message.select(Message.metadata).where(Message.id == message_id).output(
        load_json=True).first()
    meta = {**((row or {}).get("metadata") or {}), "automationId": run["automationId"],
            "executionId": run["id"]}
    await Message.update({Message.metadata: meta}).where(Message.id == message_id)


async def _tag(rt: Runtime, principal: Principal, step: dict[str, Any], ctx: Context) -> dict[str, Any]:
    tag_id, add = step["tagId"], step["type"] == "add_tag"
    if step["on"] == "contact":
        contact_id = _need(ctx, "contact")
        if add:
            await contacts.add_tag(principal.organization_id, contact_id, tag_id)
        else:
            await contacts.remove_tag(principal.organization_id, contact_id, tag_id)
    else:
        cid = _need(ctx, "conversation")
        if add:
            await conversations.add_tag(principal, cid, TagAttach(tag_id=tag_id), bus=rt.bus)
        else:
            await conversations.remove_tag(principal, cid, tag_id, bus=rt.bus)
    return {"tagId": tag_id, "on": step["on"]}


async def _patch(rt: Runtime, principal: Principal, cid: str, field: str, value: str) -> None:
    for _ in range(3):  # an agent may change it between our read and write
        row = await conversations.get(principal, cid)
        try:
            patch = ConversationPatch(version=row.version)
            setattr(patch, field, value)  # checked on save: a status or a priority name
            await conversations.update(principal, cid, patch, bus=rt.bus)
            return
        except ConflictError:
            continue
    raise StepError("the conversation kept changing; gave up")


# -- webhooks --------------------------------------------------------------------------


async def check_destination(rt: Runtime, url: str) -> None:
    """Refuse an address inside the network wacc runs in, unless the operator allows it
    (WACC_AUTOMATION_ALLOW_PRIVATE_URLS)."""
    if rt.settings.automation.allow_private_urls:
        return
    problem = await refused_destination(url)
    if problem is not None:
        raise StepError(problem)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


async def call_webhook(rt: Runtime, step: dict[str, Any], ctx: Context,
                       run: dict[str, Any]) -> dict[str, Any]:
    url = step["url"]
    await check_destination(rt, url)
    body = json.dumps({
        "automationId": run["automationId"], "executionId": run["id"],
        "event": ctx.get("event"), "contact": _public(ctx.get("contact")),
        "conversation": _public(ctx.get("conversation")), "message": _public(ctx.get("message")),
    }, default=str).encode()
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Wacc-Timestamp": stamp,
               "X-Wacc-Delivery": f"{run['id']}:{run['step']}",
               "X-Wacc-Signature": sign(signing.open_secret(rt.keyring, step.get("secret", "")),
                                            stamp, body)}
    try:
        async with httpx.AsyncClient(timeout=rt.settings.automation.webhook_timeout_seconds,
                                     follow_redirects=False) as client:
            response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise StepError(f"webhook call failed: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise StepError(f"webhook answered {response.status_code}")
    return {"url": url, "status": response.status_code}


def _public(part: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if part is None else {k: v for k, v in part.items() if k != "metadata"}


# -- dry run ---------------------------------------------------------------------------


async def describe(step: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """What *step* would do now, changing nothing."""
    kind = step["type"]
    out: dict[str, Any] = {"type": kind}
    if kind in ("send_message", "add_note"):
        out["text"] = render(step["text"], ctx)
    elif kind == "assign":
        if "userId" in step:
            out["userId"] = step["userId"]
        else:
            out["strategy"] = step["strategy"]
            out["userId"] = await routing.choose(ctx["org"]["id"], step["strategy"],
                                                 step.get("userIds"))
    elif kind == "wait":
        out["seconds"] = step["seconds"]
    elif kind == "call_webhook":
        out["url"] = step["url"]
    else:
        out.update({k: v for k, v in step.items() if k not in ("type", "secret")})
    needs = {"send_message": "conversation", "ai_reply": "conversation",
             "assign": "conversation", "add_note": "conversation", "set_status": "conversation",
             "set_priority": "conversation", "set_field": "contact"}
    what = needs.get(kind) or (step.get("on") if kind in ("add_tag", "remove_tag") else None)
    if what and not (ctx.get(what) or {}).get("id"):
        out["error"] = f"this run has no {what} to act on"
    return out

