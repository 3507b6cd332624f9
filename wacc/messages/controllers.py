from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter

from wacc.http.deps import principal_of, runtime_of
from wacc.http.params import ConversationId, MessageId
from wacc.messages import services
from wacc.messages.schemas import MessageOut, MessagePage, MessageSend


class MessageController(Controller):
    path = "/"
    tags = ["Messages"]
    opt = {"resource": "message"}

    @get("/conversations/{conversationId:str}/messages", opt={"permission": "read:messages"})
    async def list_messages(
        self, request: Request, conversation_id: ConversationId,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> MessagePage:
        """Newest first, cursor-paginated."""
        return await services.list_for_conversation(principal_of(request), conversation_id,
                                                    cursor, limit)

    @post("/conversations/{conversationId:str}/messages", opt={"permission": "write:messages"},
          status_code=201)
    async def send_message(self, request: Request, conversation_id: ConversationId,
                           data: MessageSend) -> Response[MessageOut]:
        """Queue a message (text, media, location, contact, poll, reaction, reply-to);
        it is sent once, in order, at the session's pace. Acks update its status."""
        rt = runtime_of(request)
        out, created = await services.queue(principal_of(request), conversation_id, data,
                                            jobs=rt.jobs, bus=rt.bus, media=rt.media)
        return Response(out, status_code=201 if created else 200)

    @get("/messages/{messageId:str}", opt={"permission": "read:messages"})
    async def get_message(self, request: Request, message_id: MessageId) -> MessageOut:
        return await services.get(principal_of(request), message_id)
