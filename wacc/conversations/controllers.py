"""The inbox API: list, read and work conversations."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from wacc.conversations import inbox as services
from wacc.conversations.schemas import (
    AssignIn,
    ConversationOut,
    ConversationPage,
    ConversationPatch,
    EventOut,
    NoteCreate,
    NoteOut,
    SnoozeIn,
    TagAttach,
    UnassignIn,
)
from wacc.http.deps import PrincipalDep, RuntimeDep
from wacc.http.params import ConversationId

TagId = Annotated[str, PathParameter(name="tagId", min_length=1, max_length=64)]
_Id = Annotated[str | None, QueryParameter(max_length=64)]
READ = {"permission": "read:conversations"}
WRITE = {"permission": "write:conversations"}


class ConversationController(Controller):
    path = "/conversations"
    tags = ["Conversations"]
    opt = {"resource": "conversation"}

    @get("/", opt=READ)
    async def list_conversations(
        self, principal: PrincipalDep,
        status: Annotated[list[str] | None, QueryParameter(max_items=5)] = None,
        priority: Annotated[str | None, QueryParameter(max_length=16)] = None,
        assignee: _Id = None,
        tag_id: Annotated[str | None, QueryParameter(name="tagId", max_length=64)] = None,
        session_id: Annotated[str | None, QueryParameter(name="sessionId", max_length=64)] = None,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=services.MAX_PAGE)] = 50,
    ) -> ConversationPage:
        """Newest activity first, cursor-paginated. ``status`` may repeat or hold a
        comma-separated list; ``assignee`` is ``me``, ``unassigned`` or a user id."""
        statuses = [s.strip() for v in status or [] for s in v.split(",") if s.strip()]
        filters = services.ListFilters(statuses=statuses, priority=priority, assignee=assignee,
                                       tag_id=tag_id, session_id=session_id, q=q)
        return await services.list_conversations(principal, filters, cursor, limit)

    @get("/{conversationId:str}", opt=READ)
    async def get_conversation(self, principal: PrincipalDep,
                               conversation_id: ConversationId) -> ConversationOut:
        return await services.get(principal, conversation_id)

    @patch("/{conversationId:str}", opt=WRITE)
    async def update_conversation(self, principal: PrincipalDep, rt: RuntimeDep,
                                  conversation_id: ConversationId,
                                  data: JSONBody[ConversationPatch]) -> ConversationOut:
        """Change status or priority. ``version`` is the one you read; a stale one is 409."""
        return await services.update(principal, conversation_id, data, bus=rt.bus)

    @post("/{conversationId:str}/assign", opt=WRITE, status_code=200)
    async def assign_conversation(self, principal: PrincipalDep, rt: RuntimeDep,
                                  conversation_id: ConversationId,
                                  data: JSONBody[AssignIn]) -> ConversationOut:
        return await services.assign(principal, conversation_id, data, bus=rt.bus)

    @post("/{conversationId:str}/unassign", opt=WRITE, status_code=200)
    async def unassign_conversation(self, principal: PrincipalDep, rt: RuntimeDep,
                                    conversation_id: ConversationId,
                                    data: JSONBody[UnassignIn]) -> ConversationOut:
        return await services.unassign(principal, conversation_id, data, bus=rt.bus)

    @get("/{conversationId:str}/notes", opt=READ)
    async def list_notes(self, principal: PrincipalDep,
                         conversation_id: ConversationId) -> list[NoteOut]:
        return await services.list_notes(principal, conversation_id)

    @post("/{conversationId:str}/notes", opt={**WRITE, "audit": "note.create"}, status_code=201)
    async def add_note(self, principal: PrincipalDep, rt: RuntimeDep, conversation_id: ConversationId,
                       data: JSONBody[NoteCreate]) -> NoteOut:
        """An internal note; ``@email`` or ``@[user id]`` notifies that teammate."""
        return await services.add_note(principal, conversation_id, data, bus=rt.bus)

    @post("/{conversationId:str}/tags", opt={**WRITE, "audit": "conversation.tag"},
          status_code=200)
    async def tag_conversation(self, principal: PrincipalDep, rt: RuntimeDep, conversation_id: ConversationId,
                               data: JSONBody[TagAttach]) -> ConversationOut:
        return await services.add_tag(principal, conversation_id, data, bus=rt.bus)

    @delete("/{conversationId:str}/tags/{tagId:str}",
            opt={**WRITE, "audit": "conversation.untag"}, status_code=204)
    async def untag_conversation(self, principal: PrincipalDep, rt: RuntimeDep,
                                 conversation_id: ConversationId,
                                 tag_id: TagId) -> None:
        await services.remove_tag(principal, conversation_id, tag_id, bus=rt.bus)

    @post("/{conversationId:str}/snooze", opt=WRITE, status_code=200)
    async def snooze_conversation(self, principal: PrincipalDep, rt: RuntimeDep,
                                  conversation_id: ConversationId,
                                  data: JSONBody[SnoozeIn]) -> ConversationOut:
        """Set PENDING until *until*; the scheduler reopens it then."""
        return await services.snooze(principal, conversation_id, data, bus=rt.bus)

    @post("/{conversationId:str}/read", opt=READ, status_code=204)
    async def mark_read(self, principal: PrincipalDep, conversation_id: ConversationId) -> None:
        """Mark everything so far read, for the caller only."""
        await services.mark_read(principal, conversation_id)

    @get("/{conversationId:str}/history", opt=READ)
    async def conversation_history(self, principal: PrincipalDep,
                                   conversation_id: ConversationId) -> list[EventOut]:
        return await services.history(principal, conversation_id)
