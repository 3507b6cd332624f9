"""Values the AI features pass between them: retrieved knowledge and reply outcomes.

The knowledge base (wacc.ai.knowledge.passages) retrieves ``Passage``s; reply generation
(wacc.ai.responder.replies) turns a conversation and passages into a ``ReplyResult``; the
auto-responder and automations act on that result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Passage:
    """A piece of a knowledge-base article that matched the question."""

    article_id: str
    chunk_id: str
    title: str
    content: str
    score: float = 0.0


ReplyReason = Literal[
    "answered",            # text is the reply to send
    "handoff_requested",   # the customer asked for a human
    "handoff_keyword",     # a configured keyword matched
    "low_confidence",      # the model was not sure enough
    "no_knowledge",        # knowledge-base-only mode found nothing to answer from
    "rate_limited",        # the organization's AI rate limit is used up
    "spend_cap",           # the organization's daily spend cap is reached
    "providers_failed",    # every provider failed (timeout, errors)
    "not_configured",      # no enabled provider
]


@dataclass
class ReplyResult:
    text: str | None
    reason: ReplyReason
    handoff: bool = False
    citations: list[Passage] = field(default_factory=list)
    confidence: float | None = None
    usage_id: str | None = None  # the AiUsage row of the call, when a model was called
