"""A reply to a conversation from the organization's AI providers, inside its guardrails.

``generate_reply`` answers (or explains why not) and records what it cost;
``send_ai_message`` sends an answer as the business. They are apart so a caller can
decide between them: hand off, suggest to an agent instead, or send.

Order of a call: no provider → ``not_configured``; knowledge-only mode with no passage
→ ``no_knowledge`` with no model call; rate limit → ``rate_limited``; the answer cache
(a hit costs nothing, so it is served even past the spend cap); spend cap →
``spend_cap``; then the providers in priority order. Every outcome after the rate
limit writes one AiUsage row, refusals included, so analytics see why the AI was quiet.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

import msgspec

from wacc.ai import guardrails, prompts, services
from wacc.ai.contract import ChatMessage, CompletionRequest, ProviderConfig
from wacc.ai.providers.pricing import PriceTable
from wacc.ai.providers.router import AllProvidersFailed, Attempt, Routed, router_of
from wacc.ai.responder import queries
from wacc.ai.schemas import AiSettings
from wacc.ai.tables import AiUsage
from wacc.ai.types import Passage, ReplyResult
from wacc.ai.usage import record_usage
from wacc.lib.clock import utcnow
from wacc.lib.errors import ValidationError
from wacc.logs import get_logger
from wacc.messages import services as messages
from wacc.messages.schemas import MessageSend
from wacc.messages.tables import MessageDirection
from wacc.runtime import Runtime
from wacc.security.principal import Principal
from wacc.security.roles import Role

log = get_logger(__name__)

HANDOFF = "HANDOFF"
CHARS_PER_TOKEN = 4  # a rough, provider-independent estimate (docs/ai.md)
HISTORY_LIMIT = 200  # messages read at most, however short they are
DEFAULT_TASK = "Answer the customer's latest message, briefly, in the customer's language."
_CITATION = re.compile(r"\[(\d{1,3})\]")


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def system_text(prompt: str, passages: list[Passage], knowledge_only: bool, task: str) -> str:
    parts = [prompt.strip()] if prompt.strip() else []
    if passages:
        numbered = "\n\n".join(f"[{i}] {p.title}\n{p.content.strip()}"
                               for i, p in enumerate(passages, 1))
        parts.append("Knowledge passages:\n\n" + numbered)
        parts.append("When you use a passage, cite it as [n] with its number.")
    if knowledge_only:
        parts.append("Answer only from the knowledge passages above. If they do not contain "
                     f"the answer, reply with exactly {HANDOFF} and nothing else.")
    parts.append("Task: " + task)
    return "\n\n".join(parts)


async def context_window(organization_id: str, conversation_id: str, budget: int) -> list[ChatMessage]:
    """The newest messages whose estimated tokens fit *budget* (the newest always, cut
    if it alone is too long), oldest first; inbound are the user's, outbound ours."""
    rows = await queries.latest_messages(organization_id, conversation_id, HISTORY_LIMIT)
    picked: list[ChatMessage] = []
    used = 0
    for row in rows:
        text = (row["body"] or "").strip() or f"[{row['type'].lower()}]"
        cost = estimate_tokens(text)
        if picked and used + cost > budget:
            break
        if not picked and cost > budget:
            text = text[:max(budget, 1) * CHARS_PER_TOKEN]
            cost = budget
        used += cost
        inbound = row["direction"] == MessageDirection.INBOUND.value
        picked.append(ChatMessage(role="user" if inbound else "assistant", content=text))
    picked.reverse()
    while picked and picked[0].role == "assistant":  # chat APIs want the user first
        picked.pop(0)
    return picked


def cited(text: str, passages: list[Passage]) -> list[Passage]:
    numbers = dict.fromkeys(int(n) for n in _CITATION.findall(text))
    return [passages[n - 1] for n in numbers if 1 <= n <= len(passages)]


async def route(rt: Runtime, rows: list[dict[str, Any]], request: CompletionRequest
                ) -> tuple[Routed, ProviderConfig]:
    """The router over the providers one at a time, so each keeps its own timeout;
    breakers, skips and errors stay the router's. AllProvidersFailed lists every attempt."""
    attempts: list[Attempt] = []
    for row in rows:
        config = services.config_from_row(rt, row)
        try:
            routed = await router_of(rt).complete(
                [config], msgspec.structs.replace(request, timeout=float(row["timeout_seconds"])))
        except AllProvidersFailed as exc:
            attempts += exc.attempts
            continue
        return Routed(completion=routed.completion, attempts=attempts + routed.attempts), config
    raise AllProvidersFailed(attempts)


async def generate_reply(rt: Runtime, organization_id: str, conversation_id: str, *,
                         system_prompt: str = "", knowledge: list[Passage] | None = None,
                         knowledge_only: bool = False, purpose: str = "reply",
                         instruction: str | None = None) -> ReplyResult:
    """*system_prompt* is a template (docs/ai.md; empty: the organization's default);
    *instruction* replaces the task of answering the customer (agent assist), and such
    results are never cached, since they depend on the whole conversation."""
    org, contact = await queries.prompt_subjects(organization_id, conversation_id)
    settings = await services.ai_settings(organization_id)
    passages = list(knowledge or [])
    rows = await services.enabled_rows(organization_id)
    if not rows:
        return ReplyResult(None, "not_configured")
    if knowledge_only and not passages:
        return ReplyResult(None, "no_knowledge", handoff=True)
    if not await guardrails.allow_request(rt.limiter, organization_id, settings):
        return ReplyResult(None, "rate_limited", usage_id=await record_usage(
            organization_id, conversation_id, purpose, "rate_limited"))
    template = system_prompt or settings.system_prompt
    values = prompts.values(org, contact, utcnow())
    system = system_text(prompts.render(template, values), passages, knowledge_only,
                         instruction or DEFAULT_TASK)
    history = await context_window(organization_id, conversation_id,
                                   max(settings.context_token_budget - estimate_tokens(system), 1))
    if instruction is not None:
        history.append(ChatMessage(role="user", content=instruction))
    elif not history or history[-1].role != "user":
        raise ValidationError("The conversation has no customer message to answer")

    key = None
    if instruction is None and settings.cache_ttl_seconds:
        key = guardrails.cache_key(organization_id, history[-1].content, [p.chunk_id for p in passages], [
            [(r["provider"], r["name"], r["model"], r["base_url"], r["temperature"], r["max_tokens"])
             for r in rows], template, prompts.used_values(template, values), knowledge_only, purpose])
        hit = await guardrails.answer_cache_of(rt).get(key)
        if hit is not None:
            usage_id = await record_usage(
                organization_id, conversation_id, purpose, "ok", cached=True,
                attempts=[Attempt(provider=hit.provider, type=hit.provider_type, model=hit.model,
                                  outcome="ok", latency_ms=0)])
            chunks = {p.chunk_id: p for p in passages}
            return ReplyResult(hit.text, "answered", usage_id=usage_id,
                               citations=[chunks[c] for c in hit.citations if c in chunks])
    if await guardrails.over_spend_cap(organization_id, settings):
        return ReplyResult(None, "spend_cap", usage_id=await record_usage(
            organization_id, conversation_id, purpose, "spend_cap"))

    request = CompletionRequest(messages=history, system=system)
    started = time.perf_counter()
    try:
        routed, config = await route(rt, rows, request)
    except AllProvidersFailed as exc:
        usage_id = await record_usage(organization_id, conversation_id, purpose, "all_failed",
                                      attempts=exc.attempts, latency_ms=_ms(started))
        return ReplyResult(settings.timeout_fallback_message, "providers_failed", handoff=True,
                           usage_id=usage_id)
    return await _answered(organization_id, conversation_id, purpose, settings, routed, config,
                           passages, knowledge_only, key, _ms(started), rt)


async def _answered(organization_id: str, conversation_id: str, purpose: str, settings: AiSettings,
                    routed: Routed, config: ProviderConfig, passages: list[Passage],
                    knowledge_only: bool, key: str | None, latency_ms: int, rt: Runtime) -> ReplyResult:
    completion = routed.completion
    cost = PriceTable(msgspec.to_builtins(settings.prices)).of(completion)
    if not cost.priced:
        log.warning("AI model has no price; its usage is counted at 0", model=completion.model)
    usage_id = await record_usage(organization_id, conversation_id, purpose, "ok",
                                  completion=completion, config=config, attempts=routed.attempts,
                                  cost=guardrails.cost_micros(cost), latency_ms=latency_ms)
    text = completion.text.strip()
    if knowledge_only and (not text or text.upper().strip(" .!\"'") == HANDOFF):
        return ReplyResult(None, "low_confidence", handoff=True, usage_id=usage_id)
    citations = cited(text, passages)
    if key is not None and text:
        await guardrails.answer_cache_of(rt).put(key, guardrails.CachedAnswer(
            text=text, provider=completion.provider, provider_type=config.type, model=completion.model,
            citations=[p.chunk_id for p in citations]), settings.cache_ttl_seconds)
    return ReplyResult(text, "answered", citations=citations, usage_id=usage_id)


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


_CITATION_MARK = re.compile(r"[ \t]*\[\d{1,2}\]")


async def send_ai_message(rt: Runtime, organization_id: str, conversation_id: str,
                          result: ReplyResult) -> str:
    """Queue *result*'s text as the business's message, marked AI-generated with the
    provider, model and tokens of its usage row. The usage id is the idempotency key:
    sending the same result twice (a retried job) sends one message."""
    if not result.text:
        raise ValidationError(f"Nothing to send: the reply was not answered ({result.reason})")
    principal = Principal(organization_id=organization_id, role=Role.ADMIN)
    key = f"ai:{result.usage_id}" if result.usage_id else None
    # "[2]" means nothing on a customer's phone: the markers go, the sources stay in the
    # message's metadata for the agents.
    text = _CITATION_MARK.sub("", result.text).strip() or result.text
    message, _ = await messages.queue(principal, conversation_id,
                                      MessageSend(body=text, idempotency_key=key),
                                      jobs=rt.jobs, bus=rt.bus, media=rt.media,
                                      ai_generated=True)
    usage = None
    if result.usage_id:
        usage = await AiUsage.select().where(
            (AiUsage.id == result.usage_id) & (AiUsage.organization == organization_id)).first()
    metadata = dict(message.metadata)
    metadata["ai"] = {"reason": result.reason, "cached": bool(usage and usage["cached"])}
    if result.citations:
        metadata["citations"] = [{"articleId": p.article_id, "chunkId": p.chunk_id, "title": p.title}
                                 for p in result.citations]
    model: dict[str, Any] = {}
    if usage is not None and usage["outcome"] == "ok":  # not the fallback message
        model = {"provider": usage["provider_type"], "model": usage["model"],
                 "prompt_tokens": usage["prompt_tokens"],
                 "completion_tokens": usage["completion_tokens"]}
    await messages.mark_ai_generated(organization_id, message.id, metadata, **model)
    if usage is not None:
        await AiUsage.update({AiUsage.message_id: message.id}).where(AiUsage.id == usage["id"])
    return message.id
