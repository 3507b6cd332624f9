"""Request and response bodies of agent assist."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from wacc.ai.knowledge.schemas import PassageOut
from wacc.http.schemas import Input, Output

Tone = Literal["friendly", "formal", "short", "apologetic", "confident", "empathetic"]


class SuggestIn(Input):
    # What the agent wants the reply to say, in a few words (optional).
    hint: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class RewriteIn(Input):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
    tone: Tone


class AssistOut(Output):
    text: str
    citations: list[PassageOut]
    provider: str | None
    model: str | None
