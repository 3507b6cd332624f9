"""The auto-responder of a session."""

from __future__ import annotations

from litestar import Controller, get, put
from litestar.params import JSONBody

from wacc.ai.responder import services as responder
from wacc.ai.responder.schemas import ResponderIn, ResponderOut
from wacc.http.deps import PrincipalDep
from wacc.http.params import SessionId


class ResponderController(Controller):
    path = "/whatsapp/sessions"
    tags = ["AI"]
    opt = {"resource": "ai_responder"}

    @get("/{sessionId:str}/ai-responder", opt={"permission": "read:ai"})
    async def get_ai_responder(self, principal: PrincipalDep, session_id: SessionId) -> ResponderOut:
        """The session's auto-responder (disabled defaults when never configured)."""
        return await responder.get_config(principal, session_id)

    @put("/{sessionId:str}/ai-responder", opt={"permission": "write:ai"})
    async def put_ai_responder(self, principal: PrincipalDep, session_id: SessionId,
                               data: JSONBody[ResponderIn]) -> ResponderOut:
        """Replace the configuration. ``businessHours``: ``{"timezone": "Europe/Berlin",
        "days": {"mon": [["09:00", "17:00"]], …}}`` (null: always); ``systemPrompt`` is a
        template (docs/ai.md); ``minConfidence`` from 0 to 1 (0: off)."""
        return await responder.put_config(principal, session_id, data)
