"""Agent assist: a draft reply, a summary of the conversation, a draft in another tone.

Each is one model call through ``generate_reply`` with an instruction in place of
"answer the customer", inside the organization's guardrails, recorded as AiUsage with
purpose ``assist``. Nothing is sent: the agent reads, edits and sends. An agent limited
to their own conversations gets 404 for the others, as in the inbox.
"""

from __future__ import annotations

from wacc.ai.assist.schemas import AssistOut
from wacc.ai.knowledge import services as knowledge_services
from wacc.ai.responder.replies import generate_reply
from wacc.ai.tables import AiUsage
from wacc.ai.types import ReplyResult
from wacc.conversations import inbox as conversations
from wacc.lib.errors import (
    ConflictError,
    RateLimitError,
    ServiceUnavailableError,
    ValidationError,
)
from wacc.messages.tables import Message, MessageDirection
from wacc.runtime import Runtime
from wacc.security.principal import Principal

PURPOSE = "assist"
SUGGEST = ("Draft the business's next reply to the customer, in the customer's language, "
           "ready to send. Use the knowledge passages when they help. Reply with the draft only.")
SUMMARIZE = ("Summarise this conversation for a teammate taking it over: who the customer is, "
             "what they want, what was already said or done, and what is still open. A few short "
             "bullet points, in the language of the conversation.")
REWRITE = ("Rewrite the agent's draft below in a {tone} tone. Keep its meaning, facts and "
           "language; reply with the rewritten text only.\n\nDraft:\n{text}")
TONES = {
    "friendly": "warm, friendly", "formal": "formal, polite", "short": "short, direct",
    "apologetic": "apologetic, understanding", "confident": "confident, reassuring",
    "empathetic": "empathetic, caring",
}


async def _last_customer_text(organization_id: str, conversation_id: str) -> str:
    row = await Message.select(Message.body).where(
        (Message.organization == organization_id) & (Message.conversation == conversation_id)
        & (Message.direction == MessageDirection.INBOUND.value) & Message.body.is_not_null()
    ).order_by(Message.created_at, ascending=False).first()
    return (row["body"] or "") if row else ""


async def _out(result: ReplyResult) -> AssistOut:
    """The draft, or the reason there is none as the error a client can act on."""
    if result.reason == "not_configured":
        raise ConflictError("No AI provider is configured for this organization")
    if result.reason == "rate_limited":
        raise RateLimitError("The organization's AI request limit is reached; try again shortly", 60)
    if result.reason == "spend_cap":
        raise RateLimitError("The organization's daily AI spend cap is reached", 3600)
    if result.reason != "answered" or not result.text:
        raise ServiceUnavailableError("The AI providers did not answer; try again")
    usage = None
    if result.usage_id:
        usage = await AiUsage.select(AiUsage.provider_name, AiUsage.model).where(
            AiUsage.id == result.usage_id).first()
    return AssistOut(
        text=result.text, citations=[knowledge_services.passage_out(p) for p in result.citations],
        provider=usage["provider_name"] if usage else None, model=usage["model"] if usage else None)


async def suggest(rt: Runtime, principal: Principal, conversation_id: str,
                  hint: str | None = None) -> AssistOut:
    """A draft reply to the customer's latest message, from the knowledge base."""
    org = principal.organization_id
    await conversations.visible(principal, conversation_id)
    question = await _last_customer_text(org, conversation_id)
    passages = await knowledge_services.retrieve(rt, org, question) if question else []
    instruction = SUGGEST + (f"\nThe agent wants the reply to say: {hint.strip()}"
                             if hint and hint.strip() else "")
    return await _out(await generate_reply(rt, org, conversation_id, knowledge=passages,
                                           purpose=PURPOSE, instruction=instruction))


async def summarize(rt: Runtime, principal: Principal, conversation_id: str) -> AssistOut:
    await conversations.visible(principal, conversation_id)
    return await _out(await generate_reply(rt, principal.organization_id, conversation_id,
                                           purpose=PURPOSE, instruction=SUMMARIZE))


async def rewrite(rt: Runtime, principal: Principal, conversation_id: str, text: str,
                  tone: str) -> AssistOut:
    await conversations.visible(principal, conversation_id)
    if not text.strip():
        raise ValidationError.field("text", "must not be empty")
    instruction = REWRITE.format(tone=TONES.get(tone, tone), text=text.strip())
    return await _out(await generate_reply(rt, principal.organization_id, conversation_id,
                                           purpose=PURPOSE, instruction=instruction))
