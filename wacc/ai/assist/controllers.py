"""Agent assist in a conversation."""

from __future__ import annotations

from litestar import Controller, post
from litestar.params import JSONBody

from wacc.ai.assist import services as assist
from wacc.ai.assist.schemas import AssistOut, RewriteIn, SuggestIn
from wacc.http.deps import PrincipalDep, RuntimeDep
from wacc.http.params import ConversationId

# Assist changes nothing (usage is recorded as AiUsage): no audit row per draft.
USE = {"permission": "use:ai", "no_audit": True}


class AssistController(Controller):
    path = "/conversations"
    tags = ["AI"]
    opt = {"resource": "ai_assist"}

    @post("/{conversationId:str}/ai/suggest", opt=USE, status_code=200)
    async def suggest_reply(self, principal: PrincipalDep, rt: RuntimeDep, conversation_id: ConversationId,
                            data: JSONBody[SuggestIn | None] = None) -> AssistOut:
        """A draft reply to the customer (not sent), from the knowledge base; ``hint``
        says in a few words what it should say."""
        return await assist.suggest(rt, principal,
                                    conversation_id, data.hint if data else None)

    @post("/{conversationId:str}/ai/summarize", opt=USE, status_code=200)
    async def summarize_conversation(self, principal: PrincipalDep, rt: RuntimeDep,
                                     conversation_id: ConversationId) -> AssistOut:
        """A few bullet points for a teammate taking the conversation over."""
        return await assist.summarize(rt, principal, conversation_id)

    @post("/{conversationId:str}/ai/rewrite", opt=USE, status_code=200)
    async def rewrite_reply(self, principal: PrincipalDep, rt: RuntimeDep, conversation_id: ConversationId,
                            data: JSONBody[RewriteIn]) -> AssistOut:
        """The agent's draft ``text`` in another ``tone``: friendly, formal, short,
        apologetic, confident or empathetic."""
        return await assist.rewrite(rt, principal,
                                    conversation_id, data.text, data.tone)
