"""The search API: one route per kind of result, each with the permission it needs."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from wacc.db import fulltext as query
from wacc.http.deps import PrincipalDep
from wacc.search import services
from wacc.search.schemas import ContactHits, MessageHits

Q = Annotated[str, QueryParameter(min_length=1, max_length=query.MAX_LENGTH)]
Limit = Annotated[int, QueryParameter(ge=1, le=services.MAX_LIMIT)]


class SearchController(Controller):
    path = "/search"
    tags = ["Search"]
    opt = {"resource": "search"}

    @get("/messages", opt={"permission": "read:messages"})
    async def search_messages(
        self, principal: PrincipalDep, q: Q,
        conversation_id: Annotated[str | None, QueryParameter(name="conversationId",
                                                              max_length=64)] = None,
        session_id: Annotated[str | None, QueryParameter(name="sessionId", max_length=64)] = None,
        limit: Limit = 20,
    ) -> MessageHits:
        """Words match whole words in any case (and, where the database can, any accents);
        the last word also matches as a prefix; "quoted words" match as a phrase. Best
        match first, then newest; one page of up to ``limit`` results."""
        return await services.search_messages(principal, q,
                                              conversation_id=conversation_id,
                                              session_id=session_id, limit=limit)

    @get("/contacts", opt={"permission": "read:contacts"})
    async def search_contacts(self, principal: PrincipalDep, q: Q, limit: Limit = 20) -> ContactHits:
        """Contacts by words of their name or e-mail, or digits of their phone number."""
        return await services.search_contacts(principal.organization_id, q,
                                              limit=limit)
